"""A metric's values in one time bucket: count, sum, minimum, maximum, and a mergeable
histogram for percentiles.

The histogram has fixed logarithmic buckets (each 5% wider than the one below it), so
two distributions, from two nodes or two seconds of one minute, merge by adding
counts, and a percentile of the merged one is within 2.5% of the exact value (then
clamped to the true minimum and maximum). Bucket keys are integers whose order is the
values' order: 0 holds zero, ``POSITIVE + k`` holds ``[R**k, R**(k+1))`` and
``NEGATIVE - k`` holds ``-[R**k, R**(k+1))``. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: Each bucket's upper bound over its lower one.
RATIO = 1.05
_LOG_RATIO = math.log(RATIO)
#: Key offsets of positive and negative values (|k| stays below 15,000 for doubles).
POSITIVE = 100_000
NEGATIVE = -100_000


def bucket_of(value: float) -> int:
    """The histogram key of ``value``."""
    if value == 0:
        return 0
    k = math.floor(math.log(abs(value)) / _LOG_RATIO)
    return POSITIVE + k if value > 0 else NEGATIVE - k


def bucket_value(key: int) -> float:
    """The value a bucket stands for: the geometric middle of its bounds."""
    if key == 0:
        return 0.0
    if key > 0:
        return float(RATIO ** (key - POSITIVE + 0.5))
    return -float(RATIO ** (NEGATIVE - key + 0.5))


@dataclass(slots=True)
class Distribution:
    """Statistics of the values recorded in one bucket of time (mergeable)."""

    count: float = 0.0
    sum: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    #: histogram key -> how many values fell there (no entries: percentiles unknown,
    #: as for data that came as a statistic set only)
    buckets: dict[int, float] = field(default_factory=dict)

    def add(self, value: float, count: float = 1.0) -> None:
        """Record ``value`` ``count`` times."""
        self.count += count
        self.sum += value * count
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        key = bucket_of(value)
        self.buckets[key] = self.buckets.get(key, 0.0) + count

    def add_statistics(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """Record a statistic set (PutMetricData's StatisticValues): no percentiles."""
        self.count += count
        self.sum += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)

    def merge(self, other: Distribution) -> None:
        self.count += other.count
        self.sum += other.sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for key, n in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0.0) + n

    def copy(self) -> Distribution:
        return Distribution(self.count, self.sum, self.minimum, self.maximum, dict(self.buckets))

    @property
    def average(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0 < p <= 100) by nearest rank; None without a
        histogram."""
        total = sum(self.buckets.values())
        if total <= 0:
            return None
        if p >= 100:
            return self.maximum
        rank = max(p / 100.0 * total, 1e-12)
        seen = 0.0
        keys = sorted(self.buckets)
        chosen = keys[-1]
        for key in keys:
            seen += self.buckets[key]
            if seen >= rank - 1e-9:
                chosen = key
                break
        if chosen == keys[-1]:
            return self.maximum  # the top bucket's values end at the true maximum
        return min(max(bucket_value(chosen), self.minimum), self.maximum)

    def statistic(self, name: str) -> float | None:
        """A CloudWatch statistic by name (``Sum``, ``p99``, ``p99.9``), or None when it
        cannot be told (a percentile of data without a histogram)."""
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.average
        if name == "Minimum":
            return self.minimum if self.count else None
        if name == "Maximum":
            return self.maximum if self.count else None
        p = percentile_of(name)
        if p is None:
            raise ValueError(f"unknown statistic {name!r}")
        return self.percentile(p)

    # the store's form
    def to_row(self) -> dict[str, Any]:
        return {
            "sample_count": self.count,
            "total": self.sum,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "histogram": {str(k): v for k, v in self.buckets.items()},
        }

    @classmethod
    def from_row(cls, row: Any) -> Distribution:
        histogram = row.histogram or {}
        return cls(
            float(row.sample_count),
            float(row.total),
            float(row.minimum),
            float(row.maximum),
            {int(k): float(v) for k, v in histogram.items()},
        )


def percentile_of(statistic: str) -> float | None:
    """``p99.9`` -> 99.9; None for anything that is not a percentile in (0, 100]."""
    if not statistic.startswith("p"):
        return None
    try:
        p = float(statistic[1:])
    except ValueError:
        return None
    if not 0 < p <= 100 or not statistic[1:2].isdigit():
        return None
    return p
