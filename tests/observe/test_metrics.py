"""Metrics over the store, on SQLite and PostgreSQL: nodes write their own rows and
reads add them up; late values merge; retention; what the console's query answers."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from gureum.observe.metric_store import MetricId, MetricStore
from gureum.observe.metrics import Metrics
from gureum.store import Store

NOW = 1_800_000_000.0  # a minute's start
METRIC = MetricId("shop", "Latency", (("Service", "cart"),))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def run(fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(fn())


def test_nodes_write_their_own_rows_and_reads_add_them_up(store: Store) -> None:
    clock = Clock()
    node_a = Metrics(MetricStore(store, "node-a"), clock=clock)
    node_b = Metrics(MetricStore(store, "node-b"), clock=clock)

    async def scenario() -> None:
        for ms in range(1, 101):
            node_a.put(METRIC, float(ms), unit="Milliseconds", timestamp=NOW + 1)
        for ms in range(101, 201):
            node_b.put(METRIC, float(ms), unit="Milliseconds", timestamp=NOW + 2)
        await node_a.flush()
        await node_b.flush()
        # a bucket that grows is rewritten whole, not added twice
        node_a.put(METRIC, 1000.0, unit="Milliseconds", timestamp=NOW + 3)
        await node_a.flush()
        points = await node_b.query(
            "shop", "Latency", {"Service": "cart"}, NOW, NOW + 60, 60,
            ["SampleCount", "Sum", "Minimum", "Maximum", "Average", "p50", "p99"],
        )  # fmt: skip
        assert len(points) == 1
        values = points[0].values
        assert values["SampleCount"] == 201
        assert values["Sum"] == sum(range(1, 201)) + 1000
        assert values["Minimum"] == 1 and values["Maximum"] == 1000
        assert values["p50"] == pytest.approx(100, rel=0.03)
        assert values["p99"] == pytest.approx(198, rel=0.03)
        assert points[0].unit == "Milliseconds"
        assert points[0].timestamp == datetime.datetime.fromtimestamp(NOW, datetime.UTC)
        # standard resolution: no one-second buckets
        assert await node_a.query("shop", "Latency", {"Service": "cart"}, NOW, NOW + 60, 1,
                                  ["Sum"]) == []  # fmt: skip
        # other dimensions are another metric
        assert await node_a.query("shop", "Latency", {}, NOW, NOW + 60, 60, ["Sum"]) == []

    run(scenario)


def test_high_resolution_buckets_and_periods(store: Store) -> None:
    clock = Clock()
    metrics = Metrics(MetricStore(store, "n"), clock=clock)

    async def scenario() -> None:
        for second in range(10):
            metrics.put(METRIC, float(second), timestamp=NOW + second, high_resolution=True)
        points = await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 10, 5,
                                     ["Sum", "SampleCount"])  # fmt: skip
        assert [(p.timestamp.timestamp() - NOW, p.values) for p in points] == [
            (0, {"Sum": 10.0, "SampleCount": 5.0}),
            (5, {"Sum": 35.0, "SampleCount": 5.0}),
        ]
        minute = await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 60, 60,
                                     ["Sum"])  # fmt: skip
        assert minute[0].values == {"Sum": 45.0}
        with pytest.raises(ValueError):
            await metrics.query("shop", "Latency", (), NOW, NOW + 60, 7, ["Sum"])
        with pytest.raises(ValueError):
            await metrics.query("shop", "Latency", (), NOW, NOW + 60, 60, ["Median"])

    run(scenario)


def test_late_values_merge_into_the_stored_bucket(store: Store) -> None:
    clock = Clock()
    metrics = Metrics(MetricStore(store, "n"), clock=clock)

    async def scenario() -> None:
        metrics.put(METRIC, 5.0, timestamp=NOW)
        await metrics.flush()
        clock.now = NOW + 3600  # the bucket has left memory
        await metrics.flush()
        metrics.put(METRIC, 7.0, timestamp=NOW + 10)
        await metrics.flush()
        points = await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 60, 60,
                                     ["Sum", "SampleCount"])  # fmt: skip
        assert points[0].values == {"Sum": 12.0, "SampleCount": 2.0}

    run(scenario)


def test_retention_as_cloudwatch_keeps_it(store: Store) -> None:
    clock = Clock()
    metrics = Metrics(MetricStore(store, "n"), clock=clock)

    async def scenario() -> None:
        metrics.put(METRIC, 1.0, timestamp=NOW, high_resolution=True)
        await metrics.flush()
        clock.now = NOW + 3 * 3600 + 120  # past three hours: the 1 s buckets go
        assert await metrics.sweep() == 1
        assert await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 60, 1,
                                   ["Sum"]) == []  # fmt: skip
        kept = await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 60, 60,
                                   ["Sum"])  # fmt: skip
        assert kept[0].values == {"Sum": 1.0}
        clock.now = NOW + 15 * 86400 + 120  # past fifteen days: the minutes go too
        assert await metrics.sweep() == 1
        assert await metrics.query("shop", "Latency", METRIC.dimensions, NOW, NOW + 60, 60,
                                   ["Sum"]) == []  # fmt: skip
        assert await metrics.list_metrics("shop") == []

    run(scenario)


def test_list_metrics_filters(store: Store) -> None:
    clock = Clock()
    metrics = Metrics(MetricStore(store, "n"), clock=clock)

    async def scenario() -> None:
        metrics.put(METRIC, 1.0)
        metrics.put(MetricId("shop", "Latency", (("Service", "pay"),)), 1.0)
        metrics.put(MetricId("shop", "Orders"), 1.0)
        metrics.put(MetricId("other", "Orders"), 1.0)
        assert [m.name for m in await metrics.list_metrics("shop")] == [
            "Latency", "Latency", "Orders"
        ]  # fmt: skip
        found = await metrics.list_metrics(None, "Latency", {"Service": "pay"})
        assert found == [MetricId("shop", "Latency", (("Service", "pay"),))]
        assert len(await metrics.list_metrics(None, None, {"Service": None})) == 2

    run(scenario)
