"""KeyConditionExpression: DynamoDB's shape checks, schema binding and key ranges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gureum.tables.expressions import (
    ExpressionAttributes,
    ExpressionError,
    KeyCondition,
    KeyQuery,
    parse_key_condition,
)
from gureum.tables.key_conditions import KeyRange
from gureum.tables.values import AttributeValue, key_bytes

ONE: dict[str, Any] = {":a": {"N": "1"}, ":b": {"N": "1"}}


def key_condition(text: str, values: Mapping[str, Any] | None = None) -> KeyCondition:
    attributes = ExpressionAttributes(None, values)
    parsed = parse_key_condition(text, attributes)
    attributes.check_unused()
    return parsed


def message(text: str, values: Mapping[str, Any] | None = None) -> str:
    with pytest.raises(ExpressionError) as caught:
        key_condition(text, values)
    return caught.value.message


def bind(
    text: str,
    values: Mapping[str, Any],
    types: Mapping[str, str] | None = None,
    sort_key: str | None = "sk",
) -> KeyQuery:
    return key_condition(text, values).bind("pk", sort_key, types or {"pk": "S", "sk": "N"})


def bind_message(text: str, values: Mapping[str, Any], sort_key: str | None = "sk") -> str:
    with pytest.raises(ExpressionError) as caught:
        bind(text, values, sort_key=sort_key)
    return caught.value.message


P = {"S": "p"}


def test_partition_only() -> None:
    query = bind("pk = :p", {":p": P})
    assert query == KeyQuery("pk", P, None)


@pytest.mark.parametrize(
    ("text", "op", "values"),
    [
        ("pk = :p AND sk = :a", "=", ["1"]),
        ("pk = :p AND sk < :a", "<", ["1"]),
        ("pk = :p AND sk <= :a", "<=", ["1"]),
        ("pk = :p AND sk > :a", ">", ["1"]),
        ("pk = :p AND sk >= :a", ">=", ["1"]),
        ("pk = :p AND :a < sk", ">", ["1"]),
        ("pk = :p AND :a >= sk", "<=", ["1"]),
        (":p = pk AND sk BETWEEN :a AND :b", "BETWEEN", ["1", "5"]),
        ("sk between :a and :b and pk = :p", "BETWEEN", ["1", "5"]),
        ("(pk = :p) AND (sk = :a)", "=", ["1"]),
    ],
)
def test_sort_key_conditions(text: str, op: str, values: list[str]) -> None:
    query = bind(
        text,
        {":p": P, ":a": {"N": "1"}, ":b": {"N": "5"}}
        if ":b" in text
        else {":p": P, ":a": {"N": "1"}},
    )
    assert query.partition_value == P
    assert query.sort is not None
    assert query.sort.op == op
    assert [value["N"] for value in query.sort.values] == values


def test_begins_with_on_a_string_sort_key() -> None:
    query = bind(
        "pk = :p AND begins_with(sk, :pre)", {":p": P, ":pre": {"S": "ab"}}, {"pk": "S", "sk": "S"}
    )
    assert query.sort is not None
    assert query.sort.matches({"S": "abc"}) and not query.sort.matches({"S": "b"})
    assert query.sort.key_range() == KeyRange(b"ab", True, b"ac", False)


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("a > b and size(b) > c or a > c", "OR"),
        ("a in (b, size(c), d)", "IN"),
        ("attribute_exists(a)", "attribute_exists"),
        ("attribute_not_exists(a)", "attribute_not_exists"),
        ("contains(a.d, b)", "contains"),
        ("not a > b", "NOT"),
        ("a <> b", "<>"),
    ],
)
def test_invalid_operators(text: str, operator: str) -> None:
    assert message(text) == f"Invalid operator used in KeyConditionExpression: {operator}"


def test_attribute_type_is_checked_as_a_condition_first() -> None:
    assert message("attribute_type(a, b)").startswith(
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: attribute_type, operand type:"
    )
    assert message("attribute_type(a, :a)", {":a": {"S": "S"}}) == (
        "Invalid operator used in KeyConditionExpression: attribute_type"
    )


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        (":a between size(b) and size(a) and b > :b", "BETWEEN"),
        ("begins_with(:a, b) and a > :b", "begins_with"),
    ],
)
def test_key_attribute_first(text: str, operator: str) -> None:
    assert message(text, {":a": {"S": "1"}, ":b": {"S": "1"}}) == (
        f"Invalid condition in KeyConditionExpression: {operator} operator must have the key "
        "attribute as its first operand"
    )


@pytest.mark.parametrize(
    "text", ["size(b) > a AND a.b > b AND b > c", "a > size(b.d)", "a between size(b) and size(a)"]
)
def test_nested_operations(text: str) -> None:
    assert message(text) == "KeyConditionExpressions cannot contain nested operations"


@pytest.mark.parametrize(
    "text", ["b > a.b", "b between c[1] and d", "a between b and size(a)", "begins_with(a, b)"]
)
def test_multiple_attribute_names(text: str) -> None:
    assert message(text) == (
        "Invalid condition in KeyConditionExpression: "
        "Multiple attribute names used in one condition"
    )


@pytest.mark.parametrize("text", ["b.d > a AND c.d > e.f", "a.d > c", "b[0] > a"])
def test_nested_attributes(text: str) -> None:
    assert message(text) == "KeyConditionExpressions cannot have conditions on nested attributes"


@pytest.mark.parametrize("text", [":b > :a AND a < :b", ":a > b AND :a < :b"])
def test_no_key_attribute(text: str) -> None:
    assert message(text, ONE) == (
        "Invalid condition in KeyConditionExpression: No key attribute specified"
    )


@pytest.mark.parametrize(
    "text",
    ["b > :a AND b < :a and c = :a and d = :a", "(a > :a and b > :a) and (b > :a and c > :a)"],
)
def test_one_condition_per_key(text: str) -> None:
    assert message(text, {":a": {"N": "1"}}) == (
        "KeyConditionExpressions must only contain one condition per key"
    )


@pytest.mark.parametrize(
    "text",
    [
        ":a = a and b = :a and :a = c",
        "(a > :a and b > :a) and (c > :a and d > :a) and (e > :a and f > :a)",
    ],
)
def test_at_most_two_conditions(text: str) -> None:
    assert message(text, {":a": {"S": "a"}}) == "Conditions can be of length 1 or 2 only"


def test_between_bounds() -> None:
    assert message("a between :b and :a", {":a": {"S": "a"}, ":b": {"N": "1"}}) == (
        "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower "
        "and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
        "AttributeValue: {S:a}"
    )
    assert message("a between :b and :a", {":a": {"S": "a"}, ":b": {"S": "b"}}) == (
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be "
        "greater than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, "
        "upper bound operand: AttributeValue: {S:a}"
    )


def test_syntax_errors_and_emptiness() -> None:
    assert message("") == "Invalid KeyConditionExpression: The expression can not be empty;"
    for text in ["things are not gonna be ok", "a > 4", "(size(a))[0] > a"]:
        assert message(text).startswith("Invalid KeyConditionExpression: Syntax error; ")


def test_binding_to_the_key_schema() -> None:
    values = {":p": P, ":a": {"N": "1"}}
    assert bind_message("sk = :a", {":a": {"N": "1"}}) == (
        "Query condition missed key schema element: pk"
    )
    assert bind_message("pk > :p", {":p": P}) == "Query key condition not supported"
    assert bind_message("pk = :p AND extra = :a", values) == (
        "Query condition missed key schema element: sk"
    )
    assert bind_message("pk = :p AND extra = :a", values, sort_key=None) == (
        "Query key condition not supported"
    )
    assert bind_message("pk = :a", {":a": {"N": "1"}}) == (
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type"
    )
    assert bind_message("pk = :p AND begins_with(sk, :s)", {":p": P, ":s": {"S": "1"}}) == (
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type"
    )
    assert message("pk = :p AND begins_with(sk, :a)", values) == (
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: begins_with, operand type: N"
    )


def N(value: str) -> AttributeValue:
    return {"N": value}


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("sk = :a", ["1", "1.0"], ["0", "2"]),
        ("sk < :a", ["0", "-5", "0.99"], ["1", "2"]),
        ("sk <= :a", ["1", "-1"], ["1.01"]),
        ("sk > :a", ["1.5", "100"], ["1", "-1"]),
        ("sk >= :a", ["1", "2"], ["0.5"]),
        ("sk BETWEEN :a AND :b", ["1", "3", "5"], ["0.9", "5.1", "-3"]),
    ],
)
def test_sort_conditions_match_and_span_the_same_key_range(
    text: str, inside: list[str], outside: list[str]
) -> None:
    query = bind(
        f"pk = :p AND {text}",
        {":p": P, ":a": N("1"), ":b": N("5")} if ":b" in text else {":p": P, ":a": N("1")},
    )
    sort = query.sort
    assert sort is not None
    span = sort.key_range()
    for value in inside:
        assert sort.matches(N(value)) and span.contains(key_bytes(N(value))), value
    for value in outside:
        assert not sort.matches(N(value)) and not span.contains(key_bytes(N(value))), value
    assert not sort.matches(None)


def test_begins_with_ranges_handle_high_bytes() -> None:
    query = bind(
        "pk = :p AND begins_with(sk, :pre)",
        {":p": P, ":pre": {"B": "/w=="}},
        {"pk": "S", "sk": "B"},
    )
    assert query.sort is not None
    assert query.sort.key_range() == KeyRange(b"\xff", True, None, False)
    assert query.sort.matches({"B": "//8="})
    assert not query.sort.matches({"B": "AA=="})
