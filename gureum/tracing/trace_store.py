"""The trace store: segments buffered and written in batches, per-trace summaries kept
beside them, limits of size and age enforced.

``add`` only appends to a buffer (the UDP daemon and PutTraceSegments call it); a
background task writes a batch every ``interval`` seconds through the store's writer
thread. Each batch rewrites the summary of every trace it touched (from all of that
trace's segments, at most ``max_trace_bytes`` of them) and its annotation rows, so that
queries read summaries and index lookups, never raw documents.

A trace keeps at most ``max_trace_bytes`` (500 KB) of documents; what would pass that is
dropped and the trace is marked ``LimitExceeded``. Traces whose start is older than
``retention_days`` (30) are deleted by a sweep every few minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.tables import trace_annotations, trace_segments, traces
from gureum.tracing.graph import assemble, summarize
from gureum.tracing.segments import Segment

logger = logging.getLogger(__name__)

#: X-Ray's limits: a trace keeps 500 KB of segment documents for 30 days.
MAX_TRACE_BYTES = 500 * 1024
RETENTION_DAYS = 30.0
_SWEEP_SECONDS = 300.0


class TraceStore:
    """Segments in, summaries and assembled traces out."""

    def __init__(
        self,
        store: Store,
        *,
        max_trace_bytes: int = MAX_TRACE_BYTES,
        retention_days: float = RETENTION_DAYS,
        interval: float = 0.2,
        max_buffered: int = 500_000,
    ) -> None:
        self.store = store
        self.max_trace_bytes = max_trace_bytes
        self.retention_days = retention_days
        self.interval = interval
        self.max_buffered = max_buffered
        #: reason -> documents dropped for it (bad documents, full traces, a full buffer)
        self.dropped: Counter[str] = Counter()
        self.accepted = 0
        self._buffer: list[Segment] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_sweep = 0.0

    def add(self, segment: Segment) -> None:
        if len(self._buffer) >= self.max_buffered:
            self.dropped["buffer full"] += 1
            return
        self._buffer.append(segment)
        self.accepted += 1
        if len(self._buffer) >= 5000:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-trace-store")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
                if time.monotonic() - self._last_sweep > _SWEEP_SECONDS:
                    self._last_sweep = time.monotonic()
                    await self.store.run(self._sweep, time.time())
            except Exception:
                logger.exception("writing trace segments failed; they are dropped")

    async def flush(self) -> None:
        while self._buffer:
            batch, self._buffer = self._buffer[:20_000], self._buffer[20_000:]
            dropped = await self.store.run(self._write, batch)
            for reason, count in dropped.items():
                self.dropped[reason] += count

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self.flush()

    # writing (on the store's thread)
    def _write(self, batch: Sequence[Segment]) -> Counter[str]:
        dropped: Counter[str] = Counter()
        # The newest document of an id wins (a complete segment replaces its in-progress one).
        latest: dict[tuple[str, str], Segment] = {}
        for segment in batch:
            latest[(segment.trace_id, segment.id)] = segment
        trace_ids = sorted({trace for trace, _ in latest})
        with self.store.engine.begin() as connection:
            sizes = self._sizes(connection, trace_ids)
            existing = self._existing_sizes(connection, latest)
            rows = []
            exceeded = set()
            for key, segment in latest.items():
                trace = segment.trace_id
                growth = segment.size - existing.get(key, 0)
                if sizes.get(trace, 0) + growth > self.max_trace_bytes:
                    dropped["trace too large"] += 1
                    exceeded.add(trace)
                    continue
                sizes[trace] = sizes.get(trace, 0) + growth
                rows.append(
                    {
                        "trace_id": trace,
                        "id": segment.id,
                        "parent_id": segment.parent_id,
                        "name": segment.name,
                        "start_time": segment.start_time,
                        "end_time": segment.end_time,
                        "subsegment": segment.subsegment,
                        "document": json.dumps(segment.document, separators=(",", ":")),
                        "size": segment.size,
                    }
                )
            if rows:
                insert = self.store._insert(trace_segments)
                connection.execute(
                    insert.on_conflict_do_update(
                        index_elements=[trace_segments.c.trace_id, trace_segments.c.id],
                        set_={
                            column: insert.excluded[column]
                            for column in (
                                "parent_id",
                                "name",
                                "start_time",
                                "end_time",
                                "subsegment",
                                "document",
                                "size",
                            )
                        },
                    ),
                    rows,
                )
            self._summarize(connection, trace_ids, exceeded)
        return dropped

    @staticmethod
    def _sizes(connection: sa.Connection, trace_ids: list[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for chunk in _chunks(trace_ids, 500):
            for row in connection.execute(
                sa.select(traces.c.trace_id, traces.c.size).where(traces.c.trace_id.in_(chunk))
            ):
                sizes[row.trace_id] = int(row.size)
        return sizes

    @staticmethod
    def _existing_sizes(
        connection: sa.Connection, latest: dict[tuple[str, str], Segment]
    ) -> dict[tuple[str, str], int]:
        """Sizes of documents this batch replaces (an in-progress segment completed)."""
        found: dict[tuple[str, str], int] = {}
        trace_ids = sorted({trace for trace, _ in latest})
        for chunk in _chunks(trace_ids, 500):
            for row in connection.execute(
                sa.select(
                    trace_segments.c.trace_id, trace_segments.c.id, trace_segments.c.size
                ).where(trace_segments.c.trace_id.in_(chunk))
            ):
                key = (row.trace_id, row.id)
                if key in latest:
                    found[key] = int(row.size)
        return found

    def _summarize(
        self, connection: sa.Connection, trace_ids: list[str], exceeded: set[str]
    ) -> None:
        """Rewrite the summary and annotation rows of ``trace_ids`` from their segments."""
        documents: dict[str, list[tuple[dict[str, Any], bool]]] = {}
        sizes: Counter[str] = Counter()
        for chunk in _chunks(trace_ids, 500):
            for row in connection.execute(
                sa.select(
                    trace_segments.c.trace_id,
                    trace_segments.c.document,
                    trace_segments.c.subsegment,
                    trace_segments.c.size,
                ).where(trace_segments.c.trace_id.in_(chunk))
            ):
                documents.setdefault(row.trace_id, []).append(
                    (json.loads(row.document), bool(row.subsegment))
                )
                sizes[row.trace_id] += int(row.size)
        flagged = set()
        for chunk in _chunks(trace_ids, 500):
            flagged |= {
                r.trace_id
                for r in connection.execute(
                    sa.select(traces.c.trace_id).where(
                        traces.c.trace_id.in_(chunk) & traces.c.limit_exceeded
                    )
                )
            }
            connection.execute(traces.delete().where(traces.c.trace_id.in_(chunk)))
            connection.execute(
                trace_annotations.delete().where(trace_annotations.c.trace_id.in_(chunk))
            )
        now = int(time.time() * 1000)
        summaries = []
        annotations = []
        for trace_id, docs in documents.items():
            summary = summarize(trace_id, assemble(docs))
            start = summary["start_time"] or 0.0
            end = start + summary["duration"] if summary["duration"] is not None else None
            summaries.append(
                {
                    "trace_id": trace_id,
                    "start_time": start,
                    "end_time": end,
                    "summary": summary,
                    "size": sizes[trace_id],
                    "segment_count": len(docs),
                    "limit_exceeded": trace_id in exceeded or trace_id in flagged,
                    "updated_ms": now,
                }
            )
            for key, values in summary["annotations"].items():
                for value in values:
                    annotations.append(_annotation_row(trace_id, key, value, start))
        if summaries:
            connection.execute(traces.insert(), summaries)
        if annotations:
            connection.execute(trace_annotations.insert(), annotations)

    def _sweep(self, now: float) -> int:
        """Delete traces older than the retention; the number deleted."""
        cutoff = now - self.retention_days * 86400
        with self.store.engine.begin() as connection:
            old = [
                r.trace_id
                for r in connection.execute(
                    sa.select(traces.c.trace_id).where(traces.c.start_time < cutoff)
                )
            ]
            for chunk in _chunks(old, 500):
                for table in (trace_segments, trace_annotations, traces):
                    connection.execute(table.delete().where(table.c.trace_id.in_(chunk)))
        return len(old)

    # reading
    async def traces(self, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
        """BatchGetTraces' Traces: assembled segment documents of each trace found."""
        return await self.store.run(self._traces, list(trace_ids))

    def _traces(self, trace_ids: list[str]) -> list[dict[str, Any]]:
        found: dict[str, list[tuple[dict[str, Any], bool]]] = {}
        meta: dict[str, Any] = {}
        with self.store.engine.connect() as connection:
            for row in connection.execute(
                sa.select(
                    trace_segments.c.trace_id,
                    trace_segments.c.document,
                    trace_segments.c.subsegment,
                ).where(trace_segments.c.trace_id.in_(trace_ids))
            ):
                found.setdefault(row.trace_id, []).append(
                    (json.loads(row.document), bool(row.subsegment))
                )
            for row in connection.execute(
                sa.select(traces).where(traces.c.trace_id.in_(trace_ids))
            ):
                meta[row.trace_id] = row
        result = []
        for trace_id in trace_ids:
            if trace_id not in found:
                continue
            summary = meta.get(trace_id)
            result.append(
                {
                    "Id": trace_id,
                    "Duration": summary.summary.get("duration") if summary is not None else None,
                    "LimitExceeded": bool(summary.limit_exceeded) if summary is not None else False,
                    "Segments": [
                        {"Id": document["id"], "Document": json.dumps(document)}
                        for document in assemble(found[trace_id])
                    ],
                }
            )
        return result

    async def summaries(
        self,
        start: float,
        end: float,
        *,
        trace_ids: Iterable[str] | None = None,
        annotation_filters: Sequence[Any] = (),
        after: tuple[float, str] | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Summaries of traces that started in [start, end], oldest first, after the
        (start time, id) ``after``; ``annotation_filters``: (key, op, value) that every
        trace must satisfy, as index lookups."""
        return await self.store.run(
            self._summaries, start, end, trace_ids, list(annotation_filters), after, limit
        )

    def _summaries(
        self,
        start: float,
        end: float,
        trace_ids: Iterable[str] | None,
        annotation_filters: list[Any],
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        query = sa.select(traces.c.trace_id, traces.c.start_time, traces.c.summary).where(
            (traces.c.start_time >= start) & (traces.c.start_time <= end)
        )
        if trace_ids is not None:
            query = query.where(traces.c.trace_id.in_(list(trace_ids)))
        for key, op, value in annotation_filters:
            query = query.where(
                traces.c.trace_id.in_(_annotation_query(key, op, value, start, end))
            )
        if after is not None:
            query = query.where(
                sa.tuple_(traces.c.start_time, traces.c.trace_id)
                > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )
        query = query.order_by(traces.c.start_time, traces.c.trace_id).limit(limit)
        with self.store.engine.connect() as connection:
            return [dict(row.summary) for row in connection.execute(query)]


def _annotation_row(trace_id: str, key: str, value: Any, start: float) -> dict[str, Any]:
    if isinstance(value, bool):
        return {
            "trace_id": trace_id,
            "key": key,
            "string_value": "true" if value else "false",
            "number_value": None,
            "start_time": start,
        }
    if isinstance(value, int | float):
        return {
            "trace_id": trace_id,
            "key": key,
            "string_value": None,
            "number_value": float(value),
            "start_time": start,
        }
    return {
        "trace_id": trace_id,
        "key": key,
        "string_value": str(value)[:1000],
        "number_value": None,
        "start_time": start,
    }


def _annotation_query(key: str, op: str, value: Any, start: float, end: float) -> Any:
    """Trace ids with an annotation ``key`` satisfying ``op value`` (an index lookup)."""
    a = trace_annotations.c
    where = (a.key == key) & (a.start_time >= start) & (a.start_time <= end)
    if op == "exists":
        return sa.select(a.trace_id).where(where)
    if isinstance(value, bool):
        column, value = a.string_value, ("true" if value else "false")
    elif isinstance(value, int | float):
        column = a.number_value
    else:
        column = a.string_value
    condition: Any
    if op == "=":
        condition = column == value
    elif op == "!=":
        condition = column != value
    elif op == "<":
        condition = column < value
    elif op == "<=":
        condition = column <= value
    elif op == ">":
        condition = column > value
    elif op == ">=":
        condition = column >= value
    elif op == "contains":
        condition = column.contains(str(value), autoescape=True)
    elif op == "beginswith":
        condition = column.startswith(str(value), autoescape=True)
    elif op == "endswith":
        condition = column.endswith(str(value), autoescape=True)
    else:
        raise ValueError(f"unknown annotation operator {op!r}")
    return sa.select(a.trace_id).where(where & condition)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
