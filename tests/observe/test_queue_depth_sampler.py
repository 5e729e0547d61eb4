"""The queues' depths are sampled by one node of those sharing a store (the holder of
the sampler's lease), so that a depth has one sample a minute however many nodes run;
Prometheus' reads of the depths add no sample."""

from __future__ import annotations

import asyncio

from gureum.events.leasing import LeasingService
from gureum.observe.metric_store import MetricStore
from gureum.observe.metrics import Metrics
from gureum.observe.queue_metrics import SAMPLE_SECONDS, SAMPLER_LEASE_SECONDS, QueueMetrics
from gureum.queues.queues import Queues
from gureum.store import Store


def _node(store: Store, name: str, queues: Queues) -> QueueMetrics:
    metrics = Metrics(MetricStore(store, name))
    leasing = LeasingService(store, name, lease_seconds=SAMPLER_LEASE_SECONDS)
    return QueueMetrics(metrics, queues, leasing)


def test_one_node_samples_the_depths(store: Store) -> None:
    queues = Queues(store)
    one, other = _node(store, "node-a", queues), _node(store, "node-b", queues)

    async def run() -> None:
        await queues.create("orders", {})
        now = 1_800_000_000.0
        await one.sample(now)
        await other.sample(now)
        assert list(one.depths) == ["orders"]  # (node-a took the lease and sampled)
        assert other.depths == {}  # (node-b saw it held)
        # A minute on, the holder samples again (renewing its lease), the other not.
        one.depths, later = {}, now + SAMPLE_SECONDS
        await other.sample(later)
        await one.sample(later)
        assert list(one.depths) == ["orders"] and other.depths == {}
        # Prometheus reads the depths on any node, without a sample.
        assert list((await other.read_depths(later)).keys()) == ["orders"]

    asyncio.run(run())
