"""The durable queue of accepted asynchronous events (``InvocationType=Event``).

An accepted event is written to the platform's own queue (``gureum:async``, on the store
like every built-in queue) and is durable once :meth:`AsyncEventQueue.accept` returns:
the 202 goes out only then. The async poller (``async_invoke``) takes events off it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from gureum.queues.queues import Outgoing, Queues

#: The platform's queue of accepted asynchronous events.
ASYNC_QUEUE = "gureum:async"
#: Events are kept 14 days, SQS's longest retention (their maximum age is 6 hours).
RETENTION_SECONDS = 1209600


@dataclass(slots=True)
class Event:
    """An accepted asynchronous event as it waits in the queue."""

    request_id: str
    function: str
    qualifier: str | None
    payload: str
    accepted_ms: int
    attempts: int = 0
    throttles: int = 0
    trace_id: str | None = None
    client_context: str | None = None
    #: The latest attempt's outcome: {"body", "error", "version"} (for failure records).
    last: dict[str, Any] | None = None

    def encode(self) -> str:
        # orjson writes a dataclass's fields in C: a tenth of json.dumps, once per event.
        # (Every text here was decoded from UTF-8, so none holds a lone surrogate.)
        return orjson.dumps(self).decode()

    @classmethod
    def decode(cls, raw: str) -> Event:
        return cls(**orjson.loads(raw))


class AsyncEventQueue:
    """Where accepted asynchronous events wait for the poller."""

    def __init__(self, queues: Queues) -> None:
        self.queues = queues

    async def start(self) -> None:
        await self.queues.create(ASYNC_QUEUE, {"MessageRetentionPeriod": str(RETENTION_SECONDS)})

    async def accept(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        request_id: str,
        *,
        trace_id: str | None = None,
        client_context: str | None = None,
    ) -> None:
        """Store an event durably (committed when this returns)."""
        event = Event(
            request_id,
            function,
            qualifier,
            payload.decode(),
            int(time.time() * 1000),
            trace_id=trace_id,
            client_context=client_context,
        )
        await self.queues.send(ASYNC_QUEUE, [Outgoing(event.encode(), delay_seconds=0)])
