"""What ``gureum traces``, ``trace`` and ``service-map`` draw, on hand-made documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gureum.cli.trace_drawing import (
    BAR,
    OPEN_BAR,
    bar,
    mark,
    newest_first,
    service_map,
    spans,
    trace_table,
    waterfall,
)

T0 = 1_700_000_000.0


TRACE = "1-6553f100-0123456789abcdef01234567"


def as_trace(*documents: dict[str, Any], limit_exceeded: bool = False) -> dict[str, Any]:
    """One of BatchGetTraces' Traces, as boto3 answers it."""
    return {
        "Id": TRACE,
        "Duration": 1.0,
        "LimitExceeded": limit_exceeded,
        "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in documents],
    }


def shop_trace() -> list[dict[str, Any]]:
    """A root segment with subsegments given out of order, one nested, one in progress,
    a segment called from a subsegment, and a subsegment whose parent never arrived."""
    return [
        {
            "id": "a000000000000001",
            "name": "shop",
            "origin": "AWS::EC2::Instance",
            "start_time": T0,
            "end_time": T0 + 1.0,
            "subsegments": [
                {"id": "b000000000000002", "name": "cache", "start_time": T0 + 0.5},
                {
                    "id": "b000000000000001",
                    "name": "orders-db",
                    "namespace": "remote",
                    "start_time": T0 + 0.1,
                    "end_time": T0 + 0.4,
                    "fault": True,
                    "cause": {"exceptions": [{"type": "OperationalError", "message": "gone"}]},
                    "subsegments": [
                        {
                            "id": "c000000000000001",
                            "name": "query",
                            "start_time": T0 + 0.2,
                            "end_time": T0 + 0.3,
                            "error": True,
                        }
                    ],
                },
            ],
        },
        {
            "id": "d000000000000001",
            "name": "pay",
            "origin": "AWS::Lambda::Function",
            "parent_id": "b000000000000001",
            "start_time": T0 + 0.25,
            "end_time": T0 + 0.35,
            "throttle": True,
            "error": True,
        },
        {
            "id": "e000000000000001",
            "name": "stray",
            "type": "subsegment",
            "parent_id": "ffffffffffffffff",
            "start_time": T0 + 0.9,
            "end_time": T0 + 1.0,
        },
    ]


def test_spans_nest_and_order_by_start_time() -> None:
    found = [(s.depth, s.document["name"], s.subsegment) for s in spans(shop_trace())]
    assert found == [
        (0, "shop", False),
        (1, "orders-db", True),
        (2, "query", True),
        (2, "pay", False),  # the segment answering orders-db's call, after query by start
        (1, "cache", True),
        (0, "stray", True),  # its parent is not in the trace
    ]


def test_spans_survive_parent_ids_in_a_circle() -> None:
    one = {"id": "1000000000000000", "name": "one", "parent_id": "2000000000000000"}
    two = {"id": "2000000000000000", "name": "two", "parent_id": "1000000000000000"}
    assert [(s.depth, s.document["name"]) for s in spans([one, two])] == [(0, "one"), (1, "two")]


def test_bar_positions_and_widths() -> None:
    assert bar(T0, T0 + 1.0, T0, 1.0, 40) == (0, 40)
    assert bar(T0 + 0.1, T0 + 0.4, T0, 1.0, 40) == (4, 12)
    assert bar(T0 + 0.5, T0 + 0.5, T0, 1.0, 40) == (20, 1)  # zero duration: one column
    assert bar(T0 + 1.0, T0 + 1.0, T0, 1.0, 40) == (39, 1)  # at the very end: still seen
    assert bar(T0 + 0.001, T0 + 0.002, T0, 1.0, 40) == (0, 1)
    assert bar(T0, T0, T0, 0.0, 40) == (0, 1)  # a trace of no duration at all


def bars(lines: list[str]) -> dict[str, tuple[int, int, str]]:
    """name -> (first column, columns, bar character) of each waterfall row, the columns
    counted from where the time axis starts."""
    axis = lines[2]
    origin = axis.index("0 ms")
    found = {}
    for line in lines[3:]:
        name = line[:origin].split()[0]
        drawn = line[origin:].split(" ")
        first = next(i for i, cell in enumerate(line[origin:]) if cell in (BAR, OPEN_BAR))
        run_ = next(part for part in drawn if part)
        found[name] = (first, len(run_), run_[0])
    return found


def test_waterfall_on_a_fixed_width() -> None:
    lines = waterfall(as_trace(*shop_trace()), 105)
    assert lines[0].startswith(f"Trace {TRACE}  1000.0 ms  2 segments, 4 subsegments")
    assert "in progress" in lines[0]
    assert lines[1] == "time axis: 40 columns, one column = 25.0 ms"
    assert lines[2].strip().startswith("0 ms ─") and lines[2].endswith("─ 1000.0 ms")
    assert all(len(line) <= 105 for line in lines)
    assert bars(lines) == {
        "shop": (0, 40, BAR),
        "orders-db": (4, 12, BAR),
        "query": (8, 4, BAR),
        "pay": (10, 4, BAR),
        "cache": (20, 20, OPEN_BAR),  # in progress: open to the end of the axis
        "stray": (36, 4, BAR),
    }
    rows = {line.split()[0]: line for line in lines[3:]}
    assert rows["shop"].startswith("shop (EC2::Instance)")
    assert rows["orders-db"].startswith("  orders-db [remote] ")
    assert rows["query"].startswith("    query ")
    assert rows["pay"].startswith("    pay (Lambda::Function) ")
    assert rows["orders-db"].endswith("300.0 ms ✗ fault: OperationalError")
    assert rows["query"].endswith("100.0 ms ! error")
    assert rows["pay"].endswith("100.0 ms ! throttle")
    assert rows["cache"].endswith("in progress")
    assert rows["shop"].endswith("1000.0 ms")


def test_waterfall_of_one_segment_of_no_duration() -> None:
    segment = {"id": "a000000000000001", "name": "tick", "start_time": T0, "end_time": T0}
    lines = waterfall(as_trace(segment, limit_exceeded=True), 60)
    assert lines[0] == (
        f"Trace {TRACE}  0.0 ms  1 segment, 0 subsegments  limit exceeded (segments dropped)"
    )
    assert lines[1] == "time axis: every span starts and ends at 0 ms"
    assert bars(lines) == {"tick": (0, 1, BAR)}
    assert lines[3].endswith(" 0.0 ms")


def test_waterfall_of_a_segment_still_in_progress() -> None:
    segment = {"id": "a000000000000001", "name": "slow", "start_time": T0, "in_progress": True}
    child = {"id": "b000000000000001", "name": "step", "start_time": T0 + 0.5, "end_time": T0 + 1}
    lines = waterfall(as_trace({**segment, "subsegments": [child]}), 80)
    assert "in progress" in lines[0] and "1000.0 ms" in lines[0]
    found = bars(lines)
    assert found["slow"][2] == OPEN_BAR and found["slow"][0] == 0
    assert found["step"][2] == BAR and found["step"][0] + found["step"][1] == found["slow"][1]
    assert lines[3].endswith("in progress") and lines[4].endswith("500.0 ms")


def test_marks() -> None:
    assert mark({}) == ""
    assert mark({"fault": True}) == "✗ fault"
    assert mark({"error": True, "cause": {"exceptions": [{"type": "KeyError"}]}}) == (
        "! error: KeyError"
    )
    assert mark({"error": True, "cause": "0123456789abcdef"}) == "! error"  # a reference
    assert mark({"error": True, "throttle": True}) == "! throttle"
    assert mark({"fault": True, "cause": {"exceptions": [{"type": "E" * 80}]}}).endswith("…")


def summary(trace_id: str, start: float, **fields: Any) -> dict[str, Any]:
    return {
        "Id": trace_id,
        "StartTime": datetime.fromtimestamp(start, UTC),
        "Duration": 0.25,
        "HasFault": False,
        "HasError": False,
        "HasThrottle": False,
        "IsPartial": False,
        "Http": {},
        "Annotations": {},
        **fields,
    }


def test_trace_table() -> None:
    old = summary(
        "1-00000001-000000000000000000000001",
        T0,
        Http={"HttpMethod": "POST", "HttpStatus": 200, "HttpURL": "https://shop/buy"},
        Annotations={
            "vip": [{"AnnotationValue": {"BooleanValue": True}}],
            "customer": [
                {"AnnotationValue": {"StringValue": "alice"}},
                {"AnnotationValue": {"StringValue": "a b"}},
            ],
            "items": [{"AnnotationValue": {"NumberValue": 3.0}}],
        },
    )
    new = summary(
        "1-00000001-000000000000000000000002",
        T0 + 61.5,
        Duration=None,
        HasFault=True,
        IsPartial=True,
        EntryPoint={"Name": "worker", "Type": "AWS::EC2::Instance"},
    )
    lines = trace_table(newest_first([old, new]))
    assert lines[0].split() == [
        "TRACE",
        "ID",
        "START",
        "DURATION",
        "REQUEST",
        "FLAGS",
        "ANNOTATIONS",
    ]
    local = datetime.fromtimestamp(T0 + 61.5).strftime("%H:%M:%S")
    assert lines[1].split() == [new["Id"], f"{local}.500", "-", "worker", "(EC2::Instance)"] + [
        "FAULT,PARTIAL"
    ]
    local = datetime.fromtimestamp(T0).strftime("%H:%M:%S")
    assert lines[2].split() == [
        old["Id"],
        f"{local}.000",
        "250.0",
        "ms",
        "POST",
        "200",
        "-",
        'customer=alice,"a',
        'b"',
        "items=3",
        "vip=true",
    ]


def test_service_map() -> None:
    statistics = {
        "OkCount": 1,
        "ErrorStatistics": {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2},
        "FaultStatistics": {"OtherCount": 1, "TotalCount": 1},
        "TotalCount": 4,
        "TotalResponseTime": 0.9,
    }
    services = [
        {
            "ReferenceId": 0,
            "Name": "client",
            "Type": "client",
            "Edges": [{"ReferenceId": 1, "SummaryStatistics": statistics}],
        },
        {
            "ReferenceId": 1,
            "Name": "shop",
            "Type": "AWS::EC2::Instance",
            "SummaryStatistics": statistics,
            # one of the four has not ended: the average is of the three that have
            "ResponseTimeHistogram": [{"Value": 0.3, "Count": 3}],
            "Edges": [],
        },
    ]
    lines = service_map(services)
    assert lines[0].split() == [
        "SERVICE",
        "TYPE",
        "REQUESTS",
        "ERROR%",
        "FAULT%",
        "THROTTLE%",
        "AVG",
        "MS",
    ]
    assert lines[1].split() == ["client", "client", "4", "-", "-", "-", "-"]
    assert lines[2].split() == [
        "shop",
        "AWS::EC2::Instance",
        "4",
        "25.0%",
        "25.0%",
        "25.0%",
        "300.0",
    ]
    assert lines[3] == ""
    assert lines[5].split() == ["client", "→", "shop", "(EC2::Instance)", "4", "50.0%", "25.0%"] + [
        "225.0"  # no histogram: over all four
    ]
    assert service_map([]) == ["no services"]
