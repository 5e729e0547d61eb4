"""The log sink: batches, never a stream of tiny writes, nothing lost at close."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gureum.observe.log_store import LogStore
from gureum.observe.logs import LogSink
from gureum.store import open_store


class CountingStore(LogStore):
    """A real SQLite log store that counts its batches; each write takes ``delay`` s
    more, as on a busy disk."""

    def __init__(self, url: str, delay: float = 0.0) -> None:
        super().__init__(open_store(url))
        self.batches: list[int] = []
        self.delay = delay

    def close(self) -> None:
        self.store.close()

    def put_log_events(self, events: Any) -> None:
        self.batches.append(len(events))
        time.sleep(self.delay)
        super().put_log_events(events)


def count(store: LogStore) -> int:
    events, _ = store.filter_log_events(
        "g",
        stream_names=None,
        stream_prefix=None,
        start_time=None,
        end_time=None,
        pattern=None,
        limit=10000,
        next_token=None,
    )
    return len(events)


def test_busy_logging_is_written_in_few_batches(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 's.db'}", delay=0.002)

    async def scenario() -> None:
        sink = LogSink(store, interval=0.05)
        sink.start()
        for i in range(2000):  # a steady stream of lines, as a busy function writes
            sink.emit("g", "s", f"line {i}")
            if i % 5 == 0:
                await asyncio.sleep(0.001)
        await sink.close()

    asyncio.run(scenario())
    assert count(store) == 2000
    # one write per tick, not one per handful of lines
    assert len(store.batches) < 40, store.batches
    store.close()


def test_close_writes_everything_in_max_batch_chunks(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 's.db'}")

    async def scenario() -> None:
        sink = LogSink(store, interval=10, max_batch=300)
        sink.start()
        for i in range(1000):
            sink.emit("g", "s", f"line {i}", timestamp=i)
        await sink.close()

    asyncio.run(scenario())
    assert count(store) == 1000
    assert max(store.batches) <= 300
    store.close()


def test_overflow_is_counted_not_unbounded(tmp_path: Path) -> None:
    store = LogStore(open_store(f"sqlite:///{tmp_path / 's.db'}"))

    async def scenario() -> int:
        sink = LogSink(store, max_buffered=10)
        for i in range(15):
            sink.emit("g", "s", f"line {i}")
        dropped = sink.dropped
        await sink.close()
        return dropped

    assert asyncio.run(scenario()) == 5
    assert count(store) == 10
    store.store.close()
