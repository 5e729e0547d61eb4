"""The mergeable distribution behind every metric bucket (pure)."""

from __future__ import annotations

import random

import pytest

from gureum.observe.distribution import Distribution, bucket_of, bucket_value, percentile_of


def test_bucket_keys_keep_the_values_order() -> None:
    values = [-1e6, -3.5, -0.001, 0.0, 1e-9, 0.5, 1.0, 2.0, 1e12]
    keys = [bucket_of(v) for v in values]
    assert keys == sorted(keys)
    for value in values:
        assert bucket_value(bucket_of(value)) == pytest.approx(value, rel=0.03, abs=1e-12)


def test_statistics_and_percentiles_within_the_bucket_error() -> None:
    values = Distribution()
    for ms in range(1, 1001):
        values.add(float(ms))
    assert values.statistic("SampleCount") == 1000
    assert values.statistic("Sum") == sum(range(1, 1001))
    assert values.statistic("Minimum") == 1.0
    assert values.statistic("Maximum") == 1000.0
    assert values.statistic("Average") == pytest.approx(500.5)
    assert values.statistic("p50") == pytest.approx(500, rel=0.03)
    assert values.statistic("p99") == pytest.approx(990, rel=0.03)
    assert values.statistic("p99.9") == pytest.approx(999, rel=0.03)
    assert values.statistic("p100") == 1000.0  # clamped to the true maximum


def test_merged_distributions_answer_as_one() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(3, 1) for _ in range(5000)]
    whole, left, right = Distribution(), Distribution(), Distribution()
    for i, value in enumerate(samples):
        whole.add(value)
        (left if i % 2 else right).add(value)
    left.merge(right)
    assert left.statistic("p99") == whole.statistic("p99")
    assert left.count == whole.count
    exact = sorted(samples)[int(0.99 * len(samples)) - 1]
    assert whole.percentile(99) == pytest.approx(exact, rel=0.03)


def test_counts_weight_values_and_statistic_sets_have_no_percentiles() -> None:
    values = Distribution()
    values.add(10.0, 3)
    values.add(20.0, 1)
    assert values.statistic("SampleCount") == 4
    assert values.statistic("Sum") == 50
    assert values.statistic("p50") == pytest.approx(10, rel=0.03)
    sets = Distribution()
    sets.add_statistics(4, 50, 10, 20)
    assert sets.statistic("Average") == 12.5
    assert sets.statistic("p50") is None


def test_row_round_trip() -> None:
    values = Distribution()
    for v in (0.0, 1.5, -2.0):
        values.add(v)
    row = type("Row", (), values.to_row())()
    assert Distribution.from_row(row) == values


@pytest.mark.parametrize(
    ("name", "p"), [("p50", 50.0), ("p99.9", 99.9), ("p0", None), ("pxx", None), ("p101", None)]
)
def test_percentile_names(name: str, p: float | None) -> None:
    assert percentile_of(name) == p
