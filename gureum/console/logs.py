"""The console's live tail of a log group: the events stored since the last poll that
match a CloudWatch filter pattern (``observe/filter_pattern.py``, as FilterLogEvents)."""

from __future__ import annotations

import time
from typing import Any

from gureum.errors import InvalidParameterValueException
from gureum.observe import filter_pattern
from gureum.observe.log_store import LogStore

#: Events one poll reads at most (the page polls again at once when it got this many).
POLL_LIMIT = 500
#: How far back a new tail starts (the Live Tail of CloudWatch starts at "now"; a few
#: minutes back shows what the page was opened to see).
TAIL_START_SECONDS = 300


class LogViews:
    def __init__(self, logs: LogStore) -> None:
        self.logs = logs

    async def groups(self) -> list[dict[str, Any]]:
        found, _ = await self.logs.run(self.logs.describe_log_groups, None, 1000, None)
        return found

    async def tail(self, group: str, pattern: str | None, after: int | None) -> dict[str, Any]:
        """Events after event id ``after`` (None: from a few minutes ago) that match."""
        try:
            matcher = filter_pattern.parse(pattern)
        except filter_pattern.FilterPatternError as exc:
            raise InvalidParameterValueException(f"Invalid filter pattern: {exc}") from None
        since = int((time.time() - TAIL_START_SECONDS) * 1000)
        events, cursor = await self.logs.run(
            lambda: self.logs.events_after(group, after, since_ms=since, limit=POLL_LIMIT)
        )
        return {
            "events": [e for e in events if matcher.matches(e["message"])],
            "after": cursor,
            "more": len(events) == POLL_LIMIT,
        }
