"""Metrics: CloudWatch's model (namespace, name, dimensions; 1 s and 60 s buckets) over
the store, recorded off the hot path.

Recording is in memory: :meth:`Metrics.put` adds a value to this node's pending bucket
(no I/O, no await), and the invoke path does less still (it appends one tuple to
:class:`~gureum.observe.lambda_metrics.LambdaMetrics`, which turns them into data
points here at each flush). A background task flushes every ``interval`` seconds:
it asks each *source* for what it sampled, merges the pending values into this node's
buckets and replaces their rows in the store (``metric_store``; one row per node, so
nodes never contend). Reads add up every node's rows. A retention sweep drops
high-resolution (1 s) buckets after 3 hours and one-minute buckets after 15 days, as
CloudWatch keeps them (it keeps longer periods beyond that; gureum does not).

The query interface (what the CloudWatch API and the web console call)::

    points = await platform.metrics.query(
        "AWS/Lambda", "Duration", {"FunctionName": "orders"},
        start=time.time() - 3600, end=time.time(), period=60,
        statistics=["Sum", "p50", "p99"],
    )
    for point in points:  # oldest first; buckets without data are left out
        point.timestamp, point.values["p99"], point.unit

``dimensions`` is a mapping (or pairs) naming the metric's exact dimensions, as
CloudWatch matches them; ``start``/``end`` are epoch seconds or aware datetimes;
``period`` is 1, 5, 10, 20, 30 or a multiple of 60 seconds; ``statistics`` are
``SampleCount``, ``Sum``, ``Average``, ``Minimum``, ``Maximum`` and percentiles
``pNN`` / ``pNN.N``. :meth:`Metrics.list_metrics` says which metrics exist. The local
node's pending values are flushed before a query, so what was just recorded shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gureum.observe.distribution import Distribution, percentile_of
from gureum.observe.metric_store import (
    Bucket,
    BucketKey,
    Dimensions,
    MetricId,
    MetricStore,
)

logger = logging.getLogger(__name__)

#: CloudWatch's retention of each resolution, in seconds (1 s: 3 hours; 60 s: 15 days).
RETENTION = {1: 3 * 3600, 60: 15 * 86400}
#: Periods a query may ask for besides multiples of 60.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
#: Buckets this node keeps in memory after they end (late values merge there; older
#: ones are read back from the store first).
OPEN_SECONDS = 300
#: Seconds between retention sweeps.
SWEEP_INTERVAL = 600.0
#: A metric's "last seen" in the store is refreshed at most this often (ListMetrics).
SEEN_REFRESH_SECONDS = 60.0
#: ListMetrics lists metrics with data in the last two weeks, as CloudWatch does.
LISTED_SECONDS = 14 * 86400
#: Pending values kept at most between flushes (a store that cannot keep up: dropped).
MAX_PENDING = 200_000

#: What a source does at a flush: put what it sampled (``now``: epoch seconds).
Source = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Datapoint:
    """One period of a metric: when it starts (UTC), the statistics asked, the unit."""

    timestamp: datetime.datetime
    values: dict[str, float]
    unit: str


def as_dimensions(dimensions: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Dimensions:
    """Dimensions in the canonical (sorted pairs) form."""
    if dimensions is None:
        return ()
    pairs = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
    return tuple(sorted((str(n), str(v)) for n, v in pairs))


def epoch_seconds(value: float | datetime.datetime) -> float:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.timestamp()
    return float(value)


def valid_period(period: int) -> bool:
    return period in HIGH_RESOLUTION_PERIODS or (period > 0 and period % 60 == 0)


def valid_statistic(name: str) -> bool:
    basic = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
    return name in basic or percentile_of(name) is not None


class Metrics:
    """This node's metric recorder and flusher, and the query over every node's data."""

    def __init__(
        self,
        store: MetricStore,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.interval = interval
        self.clock = clock
        self.sources: list[Source] = []
        #: values put since the last flush
        self._pending: dict[BucketKey, Bucket] = {}
        self._pending_values = 0
        self.dropped = 0
        #: this node's recent buckets, whole (their rows are replaced as they grow)
        self._open: dict[BucketKey, Bucket] = {}
        #: when each metric's existence was last written (ListMetrics)
        self._seen: dict[MetricId, float] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        #: seconds the last flush's store write took (the server's own health)
        self.last_write_seconds = 0.0
        self.writes = 0
        self.write_seconds_total = 0.0

    # recording: no I/O, no await
    def put(
        self,
        metric: MetricId,
        value: float,
        *,
        unit: str = "None",
        timestamp: float | None = None,
        count: float = 1.0,
        high_resolution: bool = False,
    ) -> None:
        """Record ``value`` (``count`` times) at ``timestamp`` (epoch s, default now)."""
        for bucket in self._buckets(metric, unit, timestamp, high_resolution):
            bucket.values.add(value, count)

    def put_distribution(
        self,
        metric: MetricId,
        values: Distribution,
        *,
        unit: str = "None",
        timestamp: float | None = None,
        high_resolution: bool = False,
    ) -> None:
        """Record values already gathered into a distribution."""
        for bucket in self._buckets(metric, unit, timestamp, high_resolution):
            bucket.values.merge(values)

    def put_statistics(
        self,
        metric: MetricId,
        count: float,
        total: float,
        minimum: float,
        maximum: float,
        *,
        unit: str = "None",
        timestamp: float | None = None,
        high_resolution: bool = False,
    ) -> None:
        """Record a statistic set (no percentiles can be told from it)."""
        for bucket in self._buckets(metric, unit, timestamp, high_resolution):
            bucket.values.add_statistics(count, total, minimum, maximum)

    def _buckets(
        self, metric: MetricId, unit: str, timestamp: float | None, high_resolution: bool
    ) -> list[Bucket]:
        if self._pending_values >= MAX_PENDING:
            self.dropped += 1
            return []
        self._pending_values += 1
        at = int(self.clock() if timestamp is None else timestamp)
        found = []
        for resolution in (60, 1) if high_resolution else (60,):
            key = BucketKey(metric, resolution, at - at % resolution)
            bucket = self._pending.get(key)
            if bucket is None:
                bucket = self._pending[key] = Bucket(unit, Distribution())
            else:
                bucket.unit = unit
            found.append(bucket)
        return found

    # flushing
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-metrics-flush")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("flushing metrics failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            logger.exception("flushing metrics at the stop failed")

    async def flush(self) -> None:
        """Sample the sources, then write this node's changed buckets to the store."""
        async with self._lock:
            now = self.clock()
            for source in self.sources:
                try:
                    await source(now)
                except Exception:
                    logger.exception("a metrics source failed")
            pending, self._pending = self._pending, {}
            self._pending_values = 0
            horizon = now - OPEN_SECONDS
            late = [k for k in pending if k not in self._open and k.timestamp < horizon]
            loaded = await self.store.store.run(self.store.load, late) if late else {}
            writes: list[tuple[BucketKey, Bucket]] = []
            for key, delta in pending.items():
                bucket = self._open.get(key) or loaded.get(key)
                if bucket is None:
                    bucket = Bucket(delta.unit, Distribution())
                    if key.timestamp >= horizon:
                        self._open[key] = bucket
                bucket.unit = delta.unit
                bucket.values.merge(delta.values)
                writes.append((key, bucket))
            seen = {k.metric for k in pending}
            seen = {m for m in seen if now - self._seen.get(m, 0.0) >= SEEN_REFRESH_SECONDS}
            if writes or seen:
                started = time.perf_counter()
                await self.store.store.run(self.store.write, writes, seen, int(now * 1000))
                self.last_write_seconds = time.perf_counter() - started
                self.writes += 1
                self.write_seconds_total += self.last_write_seconds
                for metric in seen:
                    self._seen[metric] = now
            for key in [k for k in self._open if k.timestamp + k.resolution < horizon]:
                del self._open[key]
            if now - self._last_sweep >= SWEEP_INTERVAL:
                self._last_sweep = now
                await self.sweep(now)

    async def sweep(self, now: float | None = None) -> int:
        """Drop the buckets past their retention; how many were dropped."""
        at = int(self.clock() if now is None else now)
        oldest = {resolution: at - kept for resolution, kept in RETENTION.items()}
        for metric, when in list(self._seen.items()):
            if at - when > LISTED_SECONDS:
                del self._seen[metric]
        return await self.store.store.run(
            self.store.sweep, oldest, int((at - LISTED_SECONDS) * 1000)
        )

    # reading
    async def query(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | Iterable[tuple[str, str]] | None,
        start: float | datetime.datetime,
        end: float | datetime.datetime,
        period: int,
        statistics: Sequence[str],
        *,
        unit: str | None = None,
    ) -> list[Datapoint]:
        """The statistics of one metric per ``period`` over ``[start, end)``, oldest
        first (see the module's docstring). ValueError for a period or statistic
        CloudWatch would refuse."""
        if not valid_period(period):
            raise ValueError(f"period {period} is not 1, 5, 10, 20, 30 or a multiple of 60")
        for statistic in statistics:
            if not valid_statistic(statistic):
                raise ValueError(f"unknown statistic {statistic!r}")
        await self.flush()
        metric = MetricId(namespace, name, as_dimensions(dimensions))
        first = math.floor(epoch_seconds(start))
        first -= first % period
        last = math.ceil(epoch_seconds(end))
        resolution = 60 if period % 60 == 0 else 1
        rows = await self.store.store.run(self.store.read, metric, resolution, first, last)
        periods: dict[int, tuple[str, Distribution]] = {}
        for timestamp, row_unit, values in rows:
            if unit is not None and row_unit != unit:
                continue
            slot = first + (timestamp - first) // period * period
            held = periods.get(slot)
            if held is None:
                periods[slot] = (row_unit, values)
            else:
                held[1].merge(values)
        points = []
        for slot in sorted(periods):
            row_unit, values = periods[slot]
            if values.count <= 0:
                continue
            stats = {}
            for statistic in statistics:
                figure = values.statistic(statistic)
                if figure is not None:
                    stats[statistic] = figure
            points.append(
                Datapoint(datetime.datetime.fromtimestamp(slot, datetime.UTC), stats, row_unit)
            )
        return points

    async def list_metrics(
        self,
        namespace: str | None = None,
        name: str | None = None,
        dimensions: Mapping[str, str | None] | None = None,
        *,
        recently_active_seconds: int | None = None,
    ) -> list[MetricId]:
        """The metrics with data in the last two weeks (or ``recently_active_seconds``),
        filtered by namespace, name and dimensions (a dimension whose value is None
        matches any value of it), in a stable order."""
        await self.flush()
        window = recently_active_seconds or LISTED_SECONDS
        since = int((self.clock() - window) * 1000)
        found = await self.store.store.run(self.store.list_metrics, namespace, name, since)
        wanted = dimensions or {}
        listed = []
        for metric, _ in found:
            held = dict(metric.dimensions)
            if all(n in held and (v is None or held[n] == v) for n, v in wanted.items()):
                listed.append(metric)
        return listed
