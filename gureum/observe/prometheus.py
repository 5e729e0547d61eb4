"""Prometheus' text exposition (format 0.0.4) at ``/metrics``: this node's Lambda
figures and its own health, for a scraper (unsigned, as Prometheus cannot sign).

A custom collector (``prometheus_client``) reads what the node already keeps: the
running totals of :class:`~gureum.observe.lambda_metrics.LambdaMetrics` (counters per
function, the duration histogram), the Counting Service's counts, the Worker Manager's
sandboxes by state, the zygotes, the metrics flush's store commits, and the queues'
depths (sampled from the store as the scrape comes). Every name starts ``gureum_``;
``docs/metrics.md`` lists them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.counting import CountingService
from gureum.observe.lambda_metrics import DURATION_BUCKETS, LambdaMetrics
from gureum.observe.metrics import Metrics
from gureum.observe.queue_metrics import QueueMetrics
from gureum.workers.manager import WorkerManager

#: What ``generate_latest`` writes: the text format 0.0.4 (newer prometheus_client
#: releases name a later version in CONTENT_TYPE_LATEST; the text is the same).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def snake(name: str) -> str:
    """``AsyncEventsReceived`` -> ``async_events_received``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(eq=False)  # (the registry keeps collectors in a dict)
class NodeCollector(Collector):
    """Everything ``/metrics`` shows, read when a scrape comes."""

    lambda_metrics: LambdaMetrics
    metrics: Metrics
    counting: CountingService
    workers: WorkerManager
    queue_metrics: QueueMetrics
    zygotes: Callable[[], int]
    #: the platform's asynchronous event queue (its depth is shown)
    async_queue: str
    #: the node's id (``gureum_node_info``: several nodes may answer at one address)
    node_id: str = ""
    #: the async queue's depths at the last refresh
    async_depth: dict[str, float] = field(default_factory=dict)

    async def refresh(self) -> None:
        """Bring the figures up to now before a scrape: the invocations gathered since
        the last flush, and what the store holds (the queues' depths)."""
        await self.metrics.flush()
        queues = self.queue_metrics.queues
        await self.queue_metrics.read_depths(time.time())
        counts = await queues.counts(self.async_queue)
        self.async_depth = {
            "waiting": float(
                counts["ApproximateNumberOfMessages"] + counts["ApproximateNumberOfMessagesDelayed"]
            ),
            "running": float(counts["ApproximateNumberOfMessagesNotVisible"]),
        }

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "gureum_node_info", "The node that answered (1).", labels=["node_id", "pid"]
        )
        info.add_metric([self.node_id, str(os.getpid())], 1)
        yield info
        totals = sorted(self.lambda_metrics.totals.items())
        families = {
            "invocations": "Invocations that ran (throttled ones are not counted).",
            "errors": "Invocations that ended in a function error.",
            "throttles": "Invocations refused over a concurrency limit (429).",
        }
        for key, text in families.items():
            counter = CounterMetricFamily(f"gureum_lambda_{key}", text, labels=["function"])
            for function, figures in totals:
                counter.add_metric([function], getattr(figures, key))
            yield counter
        others = sorted({name for _, figures in totals for name in figures.others})
        for name in others:
            counter = CounterMetricFamily(
                f"gureum_lambda_{snake(name)}", f"Lambda's {name}.", labels=["function"]
            )
            for function, figures in totals:
                if name in figures.others:
                    counter.add_metric([function], figures.others[name])
            yield counter
        duration = HistogramMetricFamily(
            "gureum_lambda_duration_seconds",
            "How long invocations ran (Lambda's Duration).",
            labels=["function"],
        )
        for function, figures in totals:
            cumulative, buckets = 0, []
            for bound, count in zip(
                (*(str(b) for b in DURATION_BUCKETS), "+Inf"), figures.duration_buckets, strict=True
            ):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            duration.add_metric([function], buckets, figures.duration_seconds)
        yield duration
        concurrent = GaugeMetricFamily(
            "gureum_lambda_concurrent_executions",
            "Invocations running now, per function.",
            labels=["function"],
        )
        for function, running in sorted(self.counting.running.items()):
            concurrent.add_metric([function], running)
        yield concurrent
        yield GaugeMetricFamily(
            "gureum_lambda_unreserved_concurrent_executions",
            "Invocations running now in the unreserved pool.",
            value=self.counting.unreserved_running,
        )
        sandboxes = GaugeMetricFamily(
            "gureum_sandboxes", "Sandboxes of this node by state.", labels=["state"]
        )
        by_state = {"idle": 0, "busy": 0, "starting": 0}
        for pool in self.workers.pools.values():
            by_state["idle"] += len(pool.idle)
            by_state["busy"] += len(pool.busy)
            by_state["starting"] += len(pool.starting)
        for state, count in by_state.items():
            sandboxes.add_metric([state], count)
        yield sandboxes
        yield CounterMetricFamily(
            "gureum_cold_starts", "Sandboxes created for an invoke.", value=self.workers.cold_starts
        )
        yield CounterMetricFamily(
            "gureum_warm_starts", "Invokes given an idle sandbox.", value=self.workers.warm_starts
        )
        yield GaugeMetricFamily(
            "gureum_zygotes", "Zygotes running (the fork servers).", value=self.zygotes()
        )
        commits = SummaryMetricFamily(
            "gureum_store_commit_seconds",
            "Store commits of the metrics flush (one a second while there is data).",
            count_value=self.metrics.writes,
            sum_value=self.metrics.write_seconds_total,
        )
        yield commits
        yield CounterMetricFamily(
            "gureum_metrics_dropped",
            "Metric values and invocations not recorded (buffers full).",
            value=self.metrics.dropped + self.lambda_metrics.uncounted,
        )
        depth = GaugeMetricFamily(
            "gureum_queue_messages", "Messages of each queue by state.", labels=["queue", "state"]
        )
        age = GaugeMetricFamily(
            "gureum_queue_oldest_message_age_seconds",
            "Age of each queue's oldest message.",
            labels=["queue"],
        )
        states = {
            "visible": "ApproximateNumberOfMessagesVisible",
            "not_visible": "ApproximateNumberOfMessagesNotVisible",
            "delayed": "ApproximateNumberOfMessagesDelayed",
        }
        for queue, sampled in sorted(self.queue_metrics.depths.items()):
            for state, key in states.items():
                depth.add_metric([queue, state], sampled[key])
            age.add_metric([queue], sampled["ApproximateAgeOfOldestMessage"])
        yield depth
        yield age
        pending = GaugeMetricFamily(
            "gureum_async_events", "Asynchronous events waiting or running.", labels=["state"]
        )
        for state, waiting in self.async_depth.items():
            pending.add_metric([state], waiting)
        yield pending


class PrometheusEndpoint:
    """``GET /metrics``: the node's figures in Prometheus' text format."""

    def __init__(self, collector: NodeCollector) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.collector = collector

    async def scrape(self, request: Request) -> Response:
        await self.collector.refresh()
        return Response(generate_latest(self.registry), media_type=TEXT_FORMAT)

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.scrape, methods=["GET"])]
