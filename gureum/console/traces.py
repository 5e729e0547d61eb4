"""The console's traces: the list a filter expression selects, one trace's timeline, and
the service map of a time window, from the trace store (as the X-Ray API answers them).

The timeline's rows are ``gureum trace``'s (``cli/trace_drawing.spans``): the same tree,
drawn by the page as bars instead of characters.
"""

from __future__ import annotations

import json
from typing import Any

from gureum.cli.trace_drawing import label, mark, newest_first, spans
from gureum.errors import InvalidParameterValueException
from gureum.tracing import summaries
from gureum.tracing.filter_expression import FilterSyntaxError
from gureum.tracing.filter_parser import parse
from gureum.tracing.segments import TRACE_ID
from gureum.tracing.service_graph import service_graph
from gureum.tracing.trace_store import TraceStore

#: Traces a list shows at most (the newest), as the X-Ray console's first page.
LIST_LIMIT = 100
#: Traces one list looks at at most (a window with more shows its oldest matches).
SCAN_LIMIT = 100_000
#: What a row's details show of its document, besides its times and name.
DETAIL_FIELDS = (
    "annotations",
    "metadata",
    "cause",
    "http",
    "aws",
    "sql",
    "error",
    "fault",
    "throttle",
    "namespace",
    "origin",
    "in_progress",
)


class TraceViews:
    """What the console's traces and service map pages read."""

    def __init__(self, traces: TraceStore, *, account_id: str) -> None:
        self.traces = traces
        self.account_id = account_id

    async def listing(self, start: float, end: float, text: str | None) -> dict[str, Any]:
        expression = None
        if text and text.strip():
            try:
                expression = parse(text)
            except FilterSyntaxError as exc:
                raise InvalidParameterValueException(str(exc)) from None
        found: list[dict[str, Any]] = []
        after = None
        scanned = 0
        while True:  # (pages come oldest first: the window is read whole)
            page, looked, after = await summaries.find(self.traces, start, end, expression, after)
            found += page
            scanned += looked
            if after is None or scanned >= SCAN_LIMIT:
                break
        shown = newest_first([summaries.api_summary(s, self.account_id) for s in found])
        return {"Traces": shown[:LIST_LIMIT], "Matched": len(found), "Scanned": scanned}

    async def timeline(self, trace_id: str) -> dict[str, Any] | None:
        """The waterfall of one trace: a row per segment and subsegment, depth first."""
        if not TRACE_ID.fullmatch(trace_id):
            raise InvalidParameterValueException(f"{trace_id!r} is not a trace id")
        found = await self.traces.traces([trace_id])
        if not found:
            return None
        trace = found[0]
        rows = spans([json.loads(item["Document"]) for item in trace["Segments"]])
        origin = min((row.start for row in rows), default=0.0)
        return {
            "Id": trace["Id"],
            "Duration": trace.get("Duration"),
            "LimitExceeded": trace.get("LimitExceeded", False),
            "Origin": origin,
            "Rows": [
                {
                    "depth": row.depth,
                    "name": str(row.document.get("name", "?")),
                    "label": label(row.document),
                    "subsegment": row.subsegment,
                    "start": row.start - origin,
                    "end": None if row.end is None else row.end - origin,
                    "mark": mark(row.document),
                    "details": {
                        key: row.document[key] for key in DETAIL_FIELDS if key in row.document
                    },
                }
                for row in rows
            ],
        }

    async def service_map(self, start: float, end: float) -> dict[str, Any]:
        """GetServiceGraph's Services for [start, end]."""
        found = await summaries.every(self.traces, start, end)
        return {
            "StartTime": start,
            "EndTime": end,
            "Services": service_graph(found, self.account_id),
        }
