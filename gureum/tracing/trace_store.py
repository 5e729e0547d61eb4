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

import orjson
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
        self._sql_cache: tuple[str, str, str] | None = None

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
    def _sql(self) -> tuple[str, str, str]:
        """The batch's three statements, straight to the driver (executed many): the
        same upsert syntax serves SQLite and PostgreSQL."""
        mark = "?" if self.store.dialect == "sqlite" else "%s"
        segment = (
            "INSERT INTO trace_segments (trace_id, id, parent_id, name, start_time, end_time, "
            f"subsegment, document, size) VALUES ({', '.join([mark] * 9)}) "
            "ON CONFLICT (trace_id, id) DO UPDATE SET parent_id = excluded.parent_id, "
            "name = excluded.name, start_time = excluded.start_time, "
            "end_time = excluded.end_time, subsegment = excluded.subsegment, "
            "document = excluded.document, size = excluded.size"
        )
        trace = (
            "INSERT INTO traces (trace_id, start_time, end_time, summary, size, segment_count, "
            f"limit_exceeded, updated_ms) VALUES ({', '.join([mark] * 8)}) "
            "ON CONFLICT (trace_id) DO UPDATE SET start_time = excluded.start_time, "
            "end_time = excluded.end_time, summary = excluded.summary, size = excluded.size, "
            "segment_count = excluded.segment_count, updated_ms = excluded.updated_ms, "
            "limit_exceeded = (traces.limit_exceeded OR excluded.limit_exceeded)"
        )
        annotation = (
            "INSERT INTO trace_annotations (trace_id, key, string_value, number_value, "
            f"start_time) VALUES ({', '.join([mark] * 5)})"
        )
        return segment, trace, annotation

    def _write(self, batch: Sequence[Segment]) -> Counter[str]:
        """Store a batch and rewrite the summaries of the traces it touched."""
        dropped: Counter[str] = Counter()
        # The newest document of an id wins (a complete segment replaces its in-progress one).
        latest: dict[tuple[str, str], Segment] = {}
        for segment in batch:
            latest[(segment.trace_id, segment.id)] = segment
        trace_ids = sorted({trace for trace, _ in latest})
        segment_sql, trace_sql, annotation_sql = self._statements
        with self.store.engine.begin() as connection:
            # Every stored segment of the touched traces: their sizes, and the documents
            # their summaries are made of.
            stored: dict[tuple[str, str], tuple[int, str, bool]] = {}
            for chunk in _chunks(trace_ids, 500):
                for row in connection.execute(
                    sa.select(
                        trace_segments.c.trace_id,
                        trace_segments.c.id,
                        trace_segments.c.size,
                        trace_segments.c.document,
                        trace_segments.c.subsegment,
                    ).where(trace_segments.c.trace_id.in_(chunk))
                ):
                    stored[(row.trace_id, row.id)] = (
                        int(row.size),
                        row.document,
                        bool(row.subsegment),
                    )
            sizes: Counter[str] = Counter()
            for (trace, _), (size, _, _) in stored.items():
                sizes[trace] += size
            rows = []
            kept: dict[tuple[str, str], Segment] = {}
            exceeded = set()
            for key, segment in latest.items():
                trace = segment.trace_id
                growth = segment.size - stored.get(key, (0, "", False))[0]
                if sizes[trace] + growth > self.max_trace_bytes:
                    dropped["trace too large"] += 1
                    exceeded.add(trace)
                    continue
                sizes[trace] += growth
                kept[key] = segment
                rows.append(
                    (
                        trace,
                        segment.id,
                        segment.parent_id,
                        segment.name,
                        segment.start_time,
                        segment.end_time,
                        segment.subsegment,
                        segment.raw,
                        segment.size,
                    )
                )
            if rows:
                connection.exec_driver_sql(segment_sql, rows)
            documents: dict[str, list[tuple[dict[str, Any], bool]]] = {}
            for key, (_, raw, subsegment) in stored.items():
                if key not in kept:
                    documents.setdefault(key[0], []).append((orjson.loads(raw), subsegment))
            for key, segment in kept.items():
                documents.setdefault(key[0], []).append((segment.document, segment.subsegment))
            self._summarize(connection, documents, sizes, exceeded, trace_sql, annotation_sql)
        return dropped

    @property
    def _statements(self) -> tuple[str, str, str]:
        if self._sql_cache is None:
            self._sql_cache = self._sql()
        return self._sql_cache

    def _summarize(
        self,
        connection: sa.Connection,
        documents: dict[str, list[tuple[dict[str, Any], bool]]],
        sizes: Counter[str],
        exceeded: set[str],
        trace_sql: str,
        annotation_sql: str,
    ) -> None:
        """Rewrite the summary and annotation rows of the traces in ``documents``."""
        now = int(time.time() * 1000)
        summaries = []
        annotations = []
        for trace_id, docs in documents.items():
            summary = summarize(trace_id, assemble(docs))
            start = summary["start_time"] or 0.0
            end = start + summary["duration"] if summary["duration"] is not None else None
            summaries.append(
                (
                    trace_id,
                    start,
                    end,
                    orjson.dumps(summary).decode(),
                    sizes[trace_id],
                    len(docs),
                    trace_id in exceeded,
                    now,
                )
            )
            for key, values in summary["annotations"].items():
                for value in values:
                    annotations.append(_annotation_row(trace_id, key, value, start))
        for chunk in _chunks(sorted(documents), 500):
            connection.execute(
                trace_annotations.delete().where(trace_annotations.c.trace_id.in_(chunk))
            )
        if summaries:
            connection.exec_driver_sql(trace_sql, summaries)
        if annotations:
            connection.exec_driver_sql(annotation_sql, annotations)

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
                    (orjson.loads(row.document), bool(row.subsegment))
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


def _annotation_row(
    trace_id: str, key: str, value: Any, start: float
) -> tuple[str, str, str | None, float | None, float]:
    """(trace, key, string value, number value, start): booleans as "true"/"false"."""
    if isinstance(value, bool):
        return (trace_id, key, "true" if value else "false", None, start)
    if isinstance(value, int | float):
        return (trace_id, key, None, float(value), start)
    return (trace_id, key, str(value)[:1000], None, start)


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
