"""Lambda's figures from what the invoke path gathered: dimension sets, concurrency
peaks, provisioned utilization and the running totals (no server)."""

from __future__ import annotations

import asyncio
import time

from gureum.counting import CountingService
from gureum.observe.lambda_metrics import NAMESPACE, LambdaMetrics, dimension_sets
from gureum.observe.metric_store import Bucket, BucketKey, MetricId
from gureum.observe.metrics import Metrics


class Recorded(Metrics):
    """Metrics that keep what is put (no store)."""

    def __init__(self) -> None:
        super().__init__(store=None)  # type: ignore[arg-type]

    def pending(self, name: str, dimensions: tuple[tuple[str, str], ...] = ()) -> Bucket | None:
        found = [
            b for k, b in self._pending.items()
            if k.metric == MetricId(NAMESPACE, name, dimensions) and k.resolution == 60
        ]  # fmt: skip
        assert len(found) <= 1
        return found[0] if found else None

    def keys(self) -> list[BucketKey]:
        return list(self._pending)


def test_dimension_sets_as_lambda_publishes_them() -> None:
    assert dimension_sets("f", None, "$LATEST") == [(), (("FunctionName", "f"),)]
    assert dimension_sets("f", "3", "3")[2] == (("FunctionName", "f"), ("Resource", "f:3"))
    assert len(dimension_sets("f", "3", "3")) == 3
    assert dimension_sets("f", "live", "3")[3] == (
        ("FunctionName", "f"),
        ("Resource", "f:live"),
        ("ExecutedVersion", "3"),
    )


def test_invocations_errors_durations_and_totals() -> None:
    metrics = Recorded()
    recorder = LambdaMetrics(metrics, CountingService())
    for ms, failed in ((10.0, False), (20.0, True), (30.0, False)):
        recorder.invoked("f", None, "$LATEST", ms, failed, True)
    recorder.throttled("f", None)
    asyncio.run(recorder.sample(time.time()))
    fn = (("FunctionName", "f"),)
    invocations = metrics.pending("Invocations", fn)
    errors = metrics.pending("Errors", fn)
    duration = metrics.pending("Duration", fn)
    throttles = metrics.pending("Throttles", fn)
    assert invocations and errors and duration and throttles
    assert invocations.values.sum == 3
    assert (errors.values.sum, errors.values.count) == (1, 3)
    assert (duration.values.minimum, duration.values.maximum) == (10, 30)
    assert duration.unit == "Milliseconds"
    assert throttles.values.sum == 1
    account = metrics.pending("Invocations")
    assert account and account.values.sum == 3  # the account's own, without dimensions
    totals = recorder.totals["f"]
    assert (totals.invocations, totals.errors, totals.throttles) == (3, 1, 1)
    assert sum(totals.duration_buckets) == 3


def test_concurrency_is_the_peak_of_overlapping_invocations() -> None:
    metrics = Recorded()
    counting = CountingService()
    recorder = LambdaMetrics(metrics, counting)
    now = time.time()
    # four invocations open at once (now - 0.25 s), ending at different times
    for ended, ms in ((now, 500.0), (now - 0.1, 500.0), (now - 0.2, 500.0), (now, 300.0)):
        recorder._invocations.append((ended, "f", None, "$LATEST", ms, False, True))
    counting.acquire("g")  # running at the flush, ended in no interval
    asyncio.run(recorder.sample(now))
    peak = metrics.pending("ConcurrentExecutions", (("FunctionName", "f"),))
    assert peak and peak.values.maximum == 4
    running = metrics.pending("ConcurrentExecutions", (("FunctionName", "g"),))
    assert running and running.values.maximum == 1
    account = metrics.pending("ConcurrentExecutions")
    assert account and account.values.maximum == 4
    unreserved = metrics.pending("UnreservedConcurrentExecutions")
    assert unreserved and unreserved.values.maximum == 4


def test_provisioned_utilization_and_claimed_concurrency() -> None:
    metrics = Recorded()
    counting = CountingService()
    counting.reserve("r", 10)
    recorder = LambdaMetrics(metrics, counting, provisioned=lambda: {("f", "live"): 4})
    now = time.time()
    recorder._invocations.append((now, "f", "live", "1", 100.0, False, True))
    recorder._invocations.append((now - 0.05, "f", "live", "1", 100.0, False, True))
    asyncio.run(recorder.sample(now))
    resource = (("FunctionName", "f"), ("Resource", "f:live"))
    utilization = metrics.pending("ProvisionedConcurrencyUtilization", resource)
    assert utilization and utilization.values.maximum == 0.5
    executions = metrics.pending("ProvisionedConcurrentExecutions", resource)
    assert executions and executions.values.maximum == 2
    invocations = metrics.pending("ProvisionedConcurrencyInvocations", resource)
    assert invocations and invocations.values.sum == 2
    claimed = metrics.pending("ClaimedAccountConcurrency")
    # two unreserved running + ten reserved + four provisioned outside reservations
    assert claimed and claimed.values.maximum == 16
