"""Lambda's event filtering patterns as pure functions: each operator, AND across keys,
OR across conditions and filters, $or, lists in records, queue bodies as JSON or text,
and the patterns that are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.errors import InvalidParameterValueException
from gureum.events.filters import FilterSet, matches

RECORD = {
    "RequestCode": "BBBB",
    "Temperature": 21.5,
    "Count": 3,
    "Ok": True,
    "Nothing": None,
    "Tags": ["red", "blue"],
    "Place": {"City": "Seoul", "Zip": "04524"},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"RequestCode": ["BBBB"]}, True),
        ({"RequestCode": ["AAAA", "BBBB"]}, True),
        ({"RequestCode": ["AAAA"]}, False),
        ({"Count": [3.0]}, True),
        ({"Ok": [True]}, True),
        ({"Ok": [1]}, False),
        ({"Nothing": [None]}, True),
        ({"RequestCode": [{"prefix": "BB"}]}, True),
        ({"RequestCode": [{"suffix": "BA"}]}, False),
        ({"RequestCode": [{"equals-ignore-case": "bbbb"}]}, True),
        ({"RequestCode": [{"anything-but": ["AAAA", "CCCC"]}]}, True),
        ({"RequestCode": [{"anything-but": "BBBB"}]}, False),
        ({"RequestCode": [{"anything-but": {"prefix": "B"}}]}, False),
        ({"Temperature": [{"numeric": [">", 20, "<=", 22]}]}, True),
        ({"Temperature": [{"numeric": ["<", 20]}]}, False),
        ({"RequestCode": [{"numeric": [">", 0]}]}, False),
        ({"Missing": [{"exists": False}]}, True),
        ({"Missing": [{"exists": True}]}, False),
        ({"RequestCode": [{"exists": True}]}, True),
        ({"Tags": ["blue"]}, True),
        ({"Tags": ["green"]}, False),
        ({"Place": {"City": ["Seoul"]}}, True),
        ({"Place": {"City": ["Busan"]}}, False),
        ({"RequestCode": ["BBBB"], "Count": [4]}, False),
        ({"$or": [{"Count": [4]}, {"Place": {"Zip": [{"prefix": "045"}]}}]}, True),
        ({"$or": [{"Count": [4]}, {"Ok": [False]}]}, False),
        ({"Place": ["Seoul"]}, False),
    ],
)
def test_patterns_match_as_lambdas_do(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, RECORD) is expected


def criteria(*patterns: Any) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


def test_queue_bodies_are_read_as_json_or_as_text() -> None:
    json_filter = FilterSet.parse(criteria({"body": {"RequestCode": ["BBBB"]}}))
    assert json_filter.passes_message('{"RequestCode": "BBBB"}', {})
    assert not json_filter.passes_message('{"RequestCode": "AAAA"}', {})
    assert not json_filter.passes_message("RequestCode BBBB", {})  # not JSON: dropped
    text_filter = FilterSet.parse(criteria({"body": [{"prefix": "hello"}]}))
    assert text_filter.passes_message("hello world", {})
    assert not text_filter.passes_message("bye", {})
    either = FilterSet.parse(criteria({"body": {"n": [1]}}, {"body": ["plain"]}))
    assert either.passes_message('{"n": 1}', {}) and either.passes_message("plain", {})
    assert not either.passes_message('{"n": 2}', {})
    assert FilterSet.parse(None).passes_message("anything", {})
    assert FilterSet.parse({"Filters": []}).passes_message("anything", {})


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        {"Filters": [{"Pattern": "not json"}]},
        {"Filters": [{"Pattern": "[]"}]},
        {"Filters": [{"Pattern": "{}"}]},
        {"Filters": [{"Pattern": json.dumps({"a": "plain"})}]},
        {"Filters": [{"Pattern": json.dumps({"a": []})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [{"wat": 1}]})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [{"prefix": 1}]})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [{"numeric": [">", "x"]}]})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [{"numeric": ["!", 1]}]})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [{"exists": "yes"}]})}]},
        {"Filters": [{"Pattern": json.dumps({"$or": [{"a": [1]}]})}]},
        {"Filters": [{"Pattern": json.dumps({"a": [1]})}] * 6},
        {"Filters": [{"Pattern": "{" + '"a": [1],' * 600 + '"b": [2]}'}]},
    ],
)
def test_bad_patterns_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidParameterValueException):
        FilterSet.parse(bad)
