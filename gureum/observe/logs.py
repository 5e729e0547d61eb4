"""Function logs: lines collected from sandboxes, written to the log store in batches.

``emit`` only appends to a list; a background task writes batches through the store's
single writer, so logging never waits on the disk on the invoke path. As it writes, it
turns lines in CloudWatch's embedded metric format into metrics (``emf.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gureum.observe import emf
from gureum.observe.log_store import LogEvent, LogStore
from gureum.observe.metric_store import MetricId
from gureum.observe.metrics import Metrics

logger = logging.getLogger(__name__)


class LogSink:
    """Buffers log events and flushes them to the store every ``interval`` seconds."""

    def __init__(
        self,
        store: LogStore,
        *,
        interval: float = 0.2,
        max_batch: int = 5000,
        max_buffered: int = 200_000,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_batch = max_batch
        self.max_buffered = max_buffered
        self.dropped = 0
        self._buffer: list[LogEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        #: where embedded-metric-format lines are recorded (None: they are logs only)
        self.metrics: Metrics | None = None

    def emit(self, group: str, stream: str, message: str, timestamp: int | None = None) -> None:
        """Queue one log event (``timestamp`` in epoch milliseconds, default now)."""
        if len(self._buffer) >= self.max_buffered:
            # The store is not keeping up; dropping beats growing without bound.
            self.dropped += 1
            return
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        self._buffer.append(LogEvent(group, stream, timestamp, message))
        if len(self._buffer) >= self.max_batch:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-log-sink")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is buffered now, in batches of at most ``max_batch`` events.

        Lines that arrive during the writes wait for the next tick: writing them at once
        would turn a busy function's log into a stream of tiny transactions.
        """
        pending, self._buffer = self._buffer, []
        if self.metrics is not None:
            self._record_embedded(pending, self.metrics)
        for start in range(0, len(pending), self.max_batch):
            batch = pending[start : start + self.max_batch]
            try:
                await self.store.run(self.store.put_log_events, batch)
            except Exception:
                logger.exception("writing %d log events failed; they are lost", len(batch))

    @staticmethod
    def _record_embedded(events: list[LogEvent], metrics: Metrics) -> None:
        for event in events:
            if '"_aws"' not in event.message:
                continue
            for value in emf.parse(event.message):
                metric = MetricId(value.namespace, value.name, value.dimensions)
                for figure in value.values:
                    metrics.put(
                        metric,
                        figure,
                        unit=value.unit,
                        timestamp=value.timestamp,
                        high_resolution=value.high_resolution,
                    )

    async def close(self) -> None:
        """Stop the periodic flush (letting a write in progress finish), then flush the rest."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
