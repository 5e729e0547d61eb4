"""Embedded metric format lines (pure)."""

from __future__ import annotations

import json

from gureum.observe import emf


def line(**members: object) -> str:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "shop",
                    "Dimensions": [["Service"], ["Service", "Region"]],
                    "Metrics": [
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1},
                        {"Name": "Orders", "Unit": "Count"},
                    ],
                }
            ],
        },
        "Service": "cart",
        "Region": "eu",
        **members,
    }
    return json.dumps(document)


def test_each_metric_under_each_dimension_set() -> None:
    found = emf.parse(line(Latency=[12, 15], Orders=1))
    assert [(v.name, v.dimensions, v.values) for v in found] == [
        ("Latency", (("Service", "cart"),), (12.0, 15.0)),
        ("Latency", (("Region", "eu"), ("Service", "cart")), (12.0, 15.0)),
        ("Orders", (("Service", "cart"),), (1.0,)),
        ("Orders", (("Region", "eu"), ("Service", "cart")), (1.0,)),
    ]
    assert found[0].high_resolution and not found[2].high_resolution
    assert found[0].unit == "Milliseconds" and found[0].timestamp == 1_700_000_000
    assert found[0].namespace == "shop"


def test_lines_that_break_the_format_are_only_logs() -> None:
    assert emf.parse("START RequestId: 1 Version: $LATEST") == []
    assert emf.parse('{"_aws": 3}') == []
    assert emf.parse('{"_aws": {"CloudWatchMetrics": []}}') == []  # no Timestamp
    assert emf.parse(line(Service=7, Latency=1, Orders=1)) == []  # dimension not a string
    # a metric without a numeric value is skipped, the others kept
    assert [v.name for v in emf.parse(line(Latency="slow", Orders=2))] == ["Orders", "Orders"]
