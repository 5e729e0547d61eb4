"""Lambda's metrics (namespace ``AWS/Lambda``), recorded as Lambda publishes them.

The invoke path calls :meth:`LambdaMetrics.invoked` or :meth:`throttled`, which only
append a tuple to a list: the warm invoke pays for nothing else. At each flush of
:class:`~gureum.observe.metrics.Metrics`, :meth:`LambdaMetrics.sample` turns the list
into data points (grouped per second and function first, so a busy second costs a few
merges, not one per invocation) under each of Lambda's dimension sets:

- none (the account's figures), ``FunctionName``;
- ``FunctionName`` + ``Resource`` (``name:qualifier``) when the invoke named a
  version or alias;
- ``FunctionName`` + ``Resource`` + ``ExecutedVersion`` when it named an alias.

Invocations, Errors (0 or 1 each, so Sum counts errors and SampleCount invocations),
Throttles and Duration (ms, with its distribution) come from the invokes;
ConcurrentExecutions (per function and account), UnreservedConcurrentExecutions and
ClaimedAccountConcurrency are the peak of the invocations that overlapped in the
interval and of the Counting Service's counts at the flush; the provisioned figures
(ProvisionedConcurrentExecutions, ProvisionedConcurrencyUtilization,
ProvisionedConcurrencyInvocations) are told from the invokes of a version or alias with
provisioned concurrency, up to what is allocated (spillover is not told apart). The async
poller and the event source mappings put their metrics (AsyncEventsReceived, ...,
IteratorAge) through :meth:`put`. Every figure is also kept as a running total for
Prometheus (``observe/prometheus.py``).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gureum.counting import CountingService
from gureum.observe.distribution import Distribution
from gureum.observe.metric_store import Dimensions, MetricId
from gureum.observe.metrics import Metrics

NAMESPACE = "AWS/Lambda"
LATEST = "$LATEST"
#: Invocations kept at most between two flushes (past that they go uncounted).
MAX_RECORDED = 1_000_000
#: Prometheus' duration histogram's upper bounds, in seconds.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: One ended invocation: (ended, function, qualifier, executed version, duration ms,
#: errored, counted in the unreserved pool)
_Invocation = tuple[float, str, str | None, str, float, bool, bool]


def dimension_sets(function: str, qualifier: str | None, version: str | None) -> list[Dimensions]:
    """The dimension sets Lambda publishes an invoke's metrics under (with the account's
    own, no dimensions, first)."""
    sets: list[Dimensions] = [(), (("FunctionName", function),)]
    if qualifier:
        resource = (("FunctionName", function), ("Resource", f"{function}:{qualifier}"))
        sets.append(resource)
        if version is not None and qualifier not in (version, LATEST):
            sets.append((*resource, ("ExecutedVersion", version)))
    return sets


@dataclass(slots=True)
class FunctionTotals:
    """A function's running totals since this node started (Prometheus' counters)."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    duration_seconds: float = 0.0
    #: invocations per duration bucket (``DURATION_BUCKETS``, then +Inf)
    duration_buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    #: other counted metrics (AsyncEventsReceived, DeadLetterErrors, ...)
    others: dict[str, float] = field(default_factory=dict)


class LambdaMetrics:
    """Lambda's figures: gathered on the invoke path, turned into metrics at a flush."""

    def __init__(
        self,
        metrics: Metrics | None = None,
        counting: CountingService | None = None,
        *,
        provisioned: Callable[[], Mapping[tuple[str, str], int]] = dict,
        high_resolution: bool = True,
        max_recorded: int = MAX_RECORDED,
    ) -> None:
        self.metrics = metrics
        #: invocations kept between two samples (0: none, only ``uncounted`` grows)
        self.max_recorded = max_recorded
        self.counting = counting
        #: (function, qualifier) -> provisioned concurrency allocated
        self.provisioned = provisioned
        self.high_resolution = high_resolution
        self._invocations: list[_Invocation] = []
        self._throttles: list[tuple[float, str, str | None]] = []
        self.uncounted = 0
        self.totals: dict[str, FunctionTotals] = {}

    # the invoke path: one append each
    def invoked(
        self,
        function: str,
        qualifier: str | None,
        version: str,
        duration_ms: float,
        errored: bool,
        unreserved: bool,
    ) -> None:
        if len(self._invocations) < self.max_recorded:
            self._invocations.append(
                (time.time(), function, qualifier, version, duration_ms, errored, unreserved)
            )
        else:
            self.uncounted += 1

    def throttled(self, function: str, qualifier: str | None) -> None:
        if len(self._throttles) < self.max_recorded:
            self._throttles.append((time.time(), function, qualifier))
        else:
            self.uncounted += 1

    # off the invoke path
    def put(
        self,
        name: str,
        function: str,
        qualifier: str | None,
        value: float,
        unit: str,
        *,
        version: str | None = None,
    ) -> None:
        """A figure of ``function`` (AsyncEventAge, IteratorAge, DeadLetterErrors, ...)
        under each of its dimension sets."""
        totals = self._totals(function)
        if unit == "Count":
            totals.others[name] = totals.others.get(name, 0.0) + value
        if self.metrics is None:
            return
        for dimensions in dimension_sets(function, qualifier, version):
            self.metrics.put(
                MetricId(NAMESPACE, name, dimensions),
                value,
                unit=unit,
                high_resolution=self.high_resolution,
            )

    def _totals(self, function: str) -> FunctionTotals:
        totals = self.totals.get(function)
        if totals is None:
            totals = self.totals[function] = FunctionTotals()
        return totals

    async def sample(self, now: float) -> None:
        """Turn what was gathered since the last flush into data points (a source of
        :class:`Metrics`)."""
        invocations, self._invocations = self._invocations, []
        throttles, self._throttles = self._throttles, []
        self._count_invocations(invocations)
        self._count_throttles(throttles)
        if self.metrics is not None:
            self._concurrency(invocations, now)

    def _count_invocations(self, invocations: list[_Invocation]) -> None:
        # (second, function, qualifier, version) -> [count, errors, durations]
        groups: dict[tuple[int, str, str | None, str], tuple[list[int], Distribution]] = {}
        for ended, function, qualifier, version, duration, errored, _ in invocations:
            key = (int(ended), function, qualifier, version)
            group = groups.get(key)
            if group is None:
                group = groups[key] = ([0, 0], Distribution())
            group[0][0] += 1
            group[0][1] += errored
            group[1].add(duration)
            totals = self._totals(function)
            totals.invocations += 1
            totals.errors += errored
            seconds = duration / 1000
            totals.duration_seconds += seconds
            totals.duration_buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        if self.metrics is None:
            return
        put, put_distribution = self.metrics.put, self.metrics.put_distribution
        high = self.high_resolution
        provisioned = self.provisioned() if groups else {}
        for (second, function, qualifier, version), ((count, errors), durations) in groups.items():
            for dimensions in dimension_sets(function, qualifier, version):
                at = float(second)
                put(
                    MetricId(NAMESPACE, "Invocations", dimensions),
                    1.0,
                    unit="Count",
                    timestamp=at,
                    count=count,
                    high_resolution=high,
                )
                errors_metric = MetricId(NAMESPACE, "Errors", dimensions)
                if errors:
                    put(
                        errors_metric,
                        1.0,
                        unit="Count",
                        timestamp=at,
                        count=errors,
                        high_resolution=high,
                    )
                if count - errors:
                    put(
                        errors_metric,
                        0.0,
                        unit="Count",
                        timestamp=at,
                        count=count - errors,
                        high_resolution=high,
                    )
                put_distribution(
                    MetricId(NAMESPACE, "Duration", dimensions),
                    durations,
                    unit="Milliseconds",
                    timestamp=at,
                    high_resolution=high,
                )
            if qualifier and (function, qualifier) in provisioned:
                resource = (("FunctionName", function), ("Resource", f"{function}:{qualifier}"))
                put(
                    MetricId(NAMESPACE, "ProvisionedConcurrencyInvocations", resource),
                    1.0,
                    unit="Count",
                    timestamp=float(second),
                    count=count,
                    high_resolution=high,
                )

    def _count_throttles(self, throttles: list[tuple[float, str, str | None]]) -> None:
        for ended, function, qualifier in throttles:
            self._totals(function).throttles += 1
            if self.metrics is None:
                continue
            for dimensions in dimension_sets(function, qualifier, None):
                self.metrics.put(
                    MetricId(NAMESPACE, "Throttles", dimensions),
                    1.0,
                    unit="Count",
                    timestamp=ended,
                    high_resolution=self.high_resolution,
                )

    def _concurrency(self, invocations: list[_Invocation], now: float) -> None:
        """The peak concurrency of the interval: of the invocations that ended in it (by
        their start and end), and of those running at the flush."""
        assert self.metrics is not None
        counting = self.counting
        running: Mapping[str, int] = counting.running if counting is not None else {}
        per_function: dict[str, list[tuple[float, int]]] = {}
        per_target: dict[tuple[str, str], list[tuple[float, int]]] = {}
        every: list[tuple[float, int]] = []
        unreserved: list[tuple[float, int]] = []
        provisioned = self.provisioned()
        for ended, function, qualifier, _, duration, _, in_unreserved in invocations:
            began = ended - duration / 1000
            edges = ((began, 1), (ended, -1))
            per_function.setdefault(function, []).extend(edges)
            every.extend(edges)
            if in_unreserved:
                unreserved.extend(edges)
            if qualifier and (function, qualifier) in provisioned:
                per_target.setdefault((function, qualifier), []).extend(edges)
        put = self.metrics.put
        high = self.high_resolution

        def gauge(name: str, dimensions: Dimensions, value: float, unit: str = "Count") -> None:
            put(
                MetricId(NAMESPACE, name, dimensions),
                value,
                unit=unit,
                timestamp=now,
                high_resolution=high,
            )

        for function in per_function.keys() | running.keys():
            peak = max(_peak(per_function.get(function, [])), running.get(function, 0))
            if peak:
                gauge("ConcurrentExecutions", (("FunctionName", function),), peak)
        total = max(_peak(every), sum(running.values()))
        if total:
            gauge("ConcurrentExecutions", (), total)
        in_pool = max(_peak(unreserved), counting.unreserved_running if counting else 0)
        if in_pool or invocations:
            gauge("UnreservedConcurrentExecutions", (), in_pool)
        reserved = sum(counting.reservations.values()) if counting is not None else 0
        outside = sum(
            n
            for (function, _), n in provisioned.items()
            if counting is None or counting.reserved(function) is None
        )
        claimed = in_pool + reserved + outside
        if claimed:
            gauge("ClaimedAccountConcurrency", (), claimed)
        for (function, qualifier), allocated in provisioned.items():
            target_edges = per_target.get((function, qualifier))
            if not target_edges or allocated <= 0:
                continue
            peak = _peak(target_edges)
            used = min(peak, allocated)
            resource = (("FunctionName", function), ("Resource", f"{function}:{qualifier}"))
            gauge("ProvisionedConcurrentExecutions", resource, used)
            gauge("ProvisionedConcurrencyUtilization", resource, used / allocated, "None")


def _peak(edges: list[tuple[float, int]]) -> int:
    """The most intervals open at once (ends sort before starts at the same instant)."""
    edges.sort()
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak
