"""Metric storage: the SQL of metric data points (CloudWatch's metrics, in buckets).

Each node writes only its own rows (``node_id``): a row holds the node's whole
distribution of one metric in one bucket (1 s or 60 s), replaced as the bucket grows.
Reads add up every node's rows of a bucket. Methods are synchronous and run on the
store's thread (``await store.run(...)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from gureum.observe.distribution import Distribution
from gureum.store import Store
from gureum.store.tables import metric_data, metric_names

#: A metric's dimensions, sorted by name: ``(("FunctionName", "f"), ("Resource", "f:1"))``.
Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MetricId:
    """What names a metric in CloudWatch: namespace, name and the exact dimensions."""

    namespace: str
    name: str
    dimensions: Dimensions = ()

    @property
    def dimensions_key(self) -> str:
        return dimensions_key(self.dimensions)


def dimensions_key(dimensions: Dimensions) -> str:
    """The canonical JSON the store keeps a metric's dimensions as."""
    return json.dumps([list(pair) for pair in sorted(dimensions)], separators=(",", ":"))


def _dimensions(key: str) -> Dimensions:
    return tuple((str(n), str(v)) for n, v in json.loads(key))


@dataclass(frozen=True, slots=True)
class BucketKey:
    """One metric's bucket: which metric, how many seconds, starting when (epoch s)."""

    metric: MetricId
    resolution: int
    timestamp: int


@dataclass(slots=True)
class Bucket:
    """One bucket's values as this node holds them (its unit: the latest given)."""

    unit: str
    values: Distribution


class MetricStore:
    """Writes this node's buckets and reads every node's."""

    def __init__(self, store: Store, node_id: str) -> None:
        self.store = store
        self.node_id = node_id

    def _upsert(self) -> sa.Insert:
        statement = self.store.insert(metric_data)
        value_columns = ("unit", "sample_count", "total", "minimum", "maximum", "histogram")
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[c.name for c in metric_data.primary_key.columns],
            set_={name: statement.excluded[name] for name in value_columns},
        )

    def load(self, keys: Sequence[BucketKey]) -> dict[BucketKey, Bucket]:
        """This node's stored buckets among ``keys`` (to merge late data into)."""
        found: dict[BucketKey, Bucket] = {}
        c = metric_data.c
        with self.store.engine.connect() as connection:
            for key in keys:
                row = connection.execute(
                    sa.select(metric_data).where(
                        c.namespace == key.metric.namespace,
                        c.metric_name == key.metric.name,
                        c.dimensions == key.metric.dimensions_key,
                        c.resolution == key.resolution,
                        c.timestamp == key.timestamp,
                        c.node_id == self.node_id,
                    )
                ).first()
                if row is not None:
                    found[key] = Bucket(row.unit, Distribution.from_row(row))
        return found

    def write(
        self, buckets: Sequence[tuple[BucketKey, Bucket]], seen: Iterable[MetricId], at_ms: int
    ) -> None:
        """Replace this node's rows of ``buckets``; note that ``seen`` metrics have data
        at ``at_ms`` (ListMetrics)."""
        rows = [
            {
                "namespace": key.metric.namespace,
                "metric_name": key.metric.name,
                "dimensions": key.metric.dimensions_key,
                "resolution": key.resolution,
                "timestamp": key.timestamp,
                "node_id": self.node_id,
                "unit": bucket.unit,
                **bucket.values.to_row(),
            }
            for key, bucket in buckets
        ]
        names = [
            {
                "namespace": m.namespace,
                "metric_name": m.name,
                "dimensions": m.dimensions_key,
                "last_ms": at_ms,
            }
            for m in seen
        ]
        with self.store.engine.begin() as connection:
            if rows:
                connection.execute(self._upsert(), rows)
            if names:
                statement = self.store.insert(metric_names)
                statement = statement.on_conflict_do_update(
                    index_elements=["namespace", "metric_name", "dimensions"],
                    set_={"last_ms": statement.excluded.last_ms},
                )
                connection.execute(statement, names)

    def read(
        self, metric: MetricId, resolution: int, start: int, end: int
    ) -> list[tuple[int, str, Distribution]]:
        """Every node's buckets of ``metric`` at ``resolution`` in ``[start, end)`` (epoch
        seconds): ``(timestamp, unit, values)``, one per node and bucket."""
        c = metric_data.c
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    c.timestamp, c.unit, c.sample_count, c.total, c.minimum, c.maximum, c.histogram
                ).where(
                    c.namespace == metric.namespace,
                    c.metric_name == metric.name,
                    c.dimensions == metric.dimensions_key,
                    c.resolution == resolution,
                    c.timestamp >= start,
                    c.timestamp < end,
                )
            ).all()
        return [(int(row.timestamp), str(row.unit), Distribution.from_row(row)) for row in rows]

    def list_metrics(
        self, namespace: str | None, name: str | None, since_ms: int
    ) -> list[tuple[MetricId, int]]:
        """The metrics with a data point since ``since_ms``, in a stable order, each with
        when it last had one."""
        c = metric_names.c
        query = sa.select(c.namespace, c.metric_name, c.dimensions, c.last_ms).where(
            c.last_ms >= since_ms
        )
        if namespace is not None:
            query = query.where(c.namespace == namespace)
        if name is not None:
            query = query.where(c.metric_name == name)
        query = query.order_by(c.namespace, c.metric_name, c.dimensions)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            (MetricId(r.namespace, r.metric_name, _dimensions(r.dimensions)), int(r.last_ms))
            for r in rows
        ]

    def sweep(self, older_than: dict[int, int], names_before_ms: int) -> int:
        """Drop buckets older than their resolution's retention (resolution -> oldest
        timestamp kept, epoch s) and metrics without data since ``names_before_ms``;
        the number of buckets dropped."""
        dropped = 0
        c = metric_data.c
        with self.store.engine.begin() as connection:
            for resolution, oldest in older_than.items():
                result = connection.execute(
                    metric_data.delete().where(c.resolution == resolution, c.timestamp < oldest)
                )
                dropped += result.rowcount or 0
            connection.execute(
                metric_names.delete().where(metric_names.c.last_ms < names_before_ms)
            )
        return dropped
