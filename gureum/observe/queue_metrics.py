"""The queues' metrics (namespace ``AWS/SQS``, dimension ``QueueName``), as SQS publishes
them at one-minute resolution.

:class:`~gureum.queues.queues.Queues` counts what is done to a queue
(NumberOfMessagesSent, SentMessageSize, NumberOfMessagesReceived,
NumberOfEmptyReceives, NumberOfMessagesDeleted) through :meth:`QueueMetrics.sent` and
the like, which only add to pending buckets; once a minute, as a source of
:class:`~gureum.observe.metrics.Metrics`, it samples each queue's depth
(ApproximateNumberOfMessagesVisible, ...NotVisible, ...Delayed) and
ApproximateAgeOfOldestMessage. The platform's own queues (``gureum:...``) are not
published. Of several nodes on one store, the one holding the sampler's lease (the
Leasing Service's, renewed at each sample) samples the depths, so that a depth has one
sample a minute however many nodes there are; if that node dies, another takes the
lease over within three minutes. Prometheus' scrapes read the depths of their own
(:meth:`QueueMetrics.read_depths`) without adding samples.
"""

from __future__ import annotations

from gureum.events.leasing import LeasingService
from gureum.observe.metric_store import MetricId
from gureum.observe.metrics import Metrics
from gureum.queues.queues import Queues

NAMESPACE = "AWS/SQS"
#: Seconds between samples of the queues' depths.
SAMPLE_SECONDS = 60.0
#: Queues of the platform itself (the async event queue): not SQS queues of a user.
INTERNAL_PREFIX = "gureum:"
#: The lease of the node that samples the depths (held three sampling periods).
SAMPLER_LEASE = "gureum:metrics:AWS/SQS"
SAMPLER_LEASE_SECONDS = 3 * SAMPLE_SECONDS


def _metric(name: str, queue: str) -> MetricId:
    return MetricId(NAMESPACE, name, (("QueueName", queue),))


class QueueMetrics:
    """Counts and samples the queues' figures into :class:`Metrics`."""

    def __init__(
        self, metrics: Metrics, queues: Queues, leasing: LeasingService | None = None
    ) -> None:
        self.metrics = metrics
        self.queues = queues
        #: whose lease says which node samples (None: this one, alone)
        self.leasing = leasing
        self._sampled = 0.0
        #: the last sampled depths, queue -> metric -> value (Prometheus reads these)
        self.depths: dict[str, dict[str, float]] = {}

    def sent(self, queue: str, sizes: list[int]) -> None:
        if queue.startswith(INTERNAL_PREFIX) or not sizes:
            return
        self.metrics.put(
            _metric("NumberOfMessagesSent", queue), 1.0, unit="Count", count=len(sizes)
        )
        size_metric = _metric("SentMessageSize", queue)
        for size in sizes:
            self.metrics.put(size_metric, float(size), unit="Bytes")

    def received(self, queue: str, count: int) -> None:
        if queue.startswith(INTERNAL_PREFIX):
            return
        if count:
            self.metrics.put(
                _metric("NumberOfMessagesReceived", queue), 1.0, unit="Count", count=count
            )
        else:
            self.metrics.put(_metric("NumberOfEmptyReceives", queue), 1.0, unit="Count")

    def deleted(self, queue: str, count: int) -> None:
        if queue.startswith(INTERNAL_PREFIX) or not count:
            return
        self.metrics.put(_metric("NumberOfMessagesDeleted", queue), 1.0, unit="Count", count=count)

    async def sample(self, now: float) -> None:
        """Every ``SAMPLE_SECONDS``, each queue's depth and oldest message's age, put as
        metrics by the node that holds the sampler's lease."""
        if now - self._sampled < SAMPLE_SECONDS:
            return
        self._sampled = now
        if self.leasing is not None and await self.leasing.take(SAMPLER_LEASE) is None:
            return  # (another node samples)
        await self.sample_depths(now)

    async def sample_depths(self, now: float) -> dict[str, dict[str, float]]:
        """Each user queue's depths now, put as metrics and kept in ``depths``."""
        depths = await self.read_depths(now)
        for queue, figures in depths.items():
            for name, value in figures.items():
                unit = "Seconds" if name == "ApproximateAgeOfOldestMessage" else "Count"
                self.metrics.put(_metric(name, queue), value, unit=unit, timestamp=now)
        return depths

    async def read_depths(self, now: float) -> dict[str, dict[str, float]]:
        """Each user queue's depths now, kept in ``depths`` (no metric is put)."""
        depths: dict[str, dict[str, float]] = {}
        for queue in await self.queues.list_queues():
            if queue.name.startswith(INTERNAL_PREFIX):
                continue
            counts = await self.queues.counts(queue.name)
            oldest = await self.queues.oldest_sent_ms(queue.name)
            figures = {
                "ApproximateNumberOfMessagesVisible": float(counts["ApproximateNumberOfMessages"]),
                "ApproximateNumberOfMessagesNotVisible": float(
                    counts["ApproximateNumberOfMessagesNotVisible"]
                ),
                "ApproximateNumberOfMessagesDelayed": float(
                    counts["ApproximateNumberOfMessagesDelayed"]
                ),
                "ApproximateAgeOfOldestMessage": max(0.0, now - oldest / 1000) if oldest else 0.0,
            }
            depths[queue.name] = figures
        self.depths = depths
        return depths
