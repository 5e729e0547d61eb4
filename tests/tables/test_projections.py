"""ProjectionExpression: parsing, DynamoDB's errors, and the shape of projected items."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gureum.tables.documents import Path, path_clash, resolve
from gureum.tables.expressions import (
    ExpressionAttributes,
    ExpressionError,
    ProjectionExpression,
    parse_projection,
)
from gureum.tables.values import AttributeValue, Item


def n(value: int) -> AttributeValue:
    return {"N": str(value)}


def s(value: str) -> AttributeValue:
    return {"S": value}


def m(**members: AttributeValue) -> AttributeValue:
    return {"M": members}


def lst(*elements: AttributeValue) -> AttributeValue:
    return {"L": list(elements)}


# The item of ScyllaDB's test_projection_expression_path (checked against DynamoDB).
ITEM: Item = {
    "p": s("key"),
    "a": m(b=lst(n(2), n(4), m(x=s("hi"), y=s("yo"))), c=n(5)),
    "b": s("hello"),
}


def projection(text: str, names: Mapping[str, str] | None = None) -> ProjectionExpression:
    attributes = ExpressionAttributes(names)
    parsed = parse_projection(text, attributes)
    attributes.check_unused()
    return parsed


def message(text: str, names: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ExpressionError) as caught:
        projection(text, names)
    return caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", {"a": ITEM["a"]}),
        ("a.b", {"a": m(b=lst(n(2), n(4), m(x=s("hi"), y=s("yo"))))}),
        ("a.b[0]", {"a": m(b=lst(n(2)))}),
        ("a.b[2]", {"a": m(b=lst(m(x=s("hi"), y=s("yo"))))}),
        ("a.b[2].y", {"a": m(b=lst(m(y=s("yo"))))}),
        ("x", {}),
        ("a.b[3]", {}),
        ("a.x", {}),
        ("a.x.y", {}),
        ("a.b[3].x", {}),
        ("a.b.x", {}),
        ("a[0]", {}),
        ("a.b[0].x", {}),
        ("a.b[0][0]", {}),
        ("a.b[0],a.b[1]", {"a": m(b=lst(n(2), n(4)))}),
        ("a.b[2], a.b[0]", {"a": m(b=lst(n(2), m(x=s("hi"), y=s("yo"))))}),
        ("a.b[0],a.c", {"a": m(b=lst(n(2)), c=n(5))}),
        ("a.c,b", {"a": m(c=n(5)), "b": s("hello")}),
        ("a.x, a.b[0], x, a.b[3].x", {"a": m(b=lst(n(2)))}),
        (" a  ,   b  ", {"a": ITEM["a"], "b": s("hello")}),
        ("p, b", {"p": s("key"), "b": s("hello")}),
    ],
)
def test_projections_are_shaped_as_dynamodb_shapes_them(text: str, expected: Item) -> None:
    assert projection(text).apply(ITEM) == expected


def test_a_projection_copies_what_it_returns() -> None:
    projected = projection("a.b").apply(ITEM)
    projected["a"]["M"]["b"]["L"].clear()
    assert ITEM["a"]["M"]["b"]["L"]


def test_name_placeholders_are_one_element_each() -> None:
    item = {"a.b": s("hi"), "a": m(b=s("yo"), c=s("jo"))}
    assert projection("a.b").apply(item) == {"a": m(b=s("yo"))}
    assert projection("#name", {"#name": "a.b"}).apply(item) == {"a.b": s("hi")}
    assert projection("#n1.#n2", {"#n1": "a", "#n2": "b"}).apply(item) == {"a": m(b=s("yo"))}


def test_attributes_lists_the_top_level_attributes_once() -> None:
    assert projection("a.b, a.c, b").attributes == ("a", "b")


@pytest.mark.parametrize(
    "text",
    [
        "a, a",
        "a.b, a.b",
        "a[1], a[1]",
        "a, a.b",
        "a.b, a",
        "a.b, a.b[2]",
        "a.b, a.b.c",
        "a, a.b[2].c",
        "a.b.d, a.b",
        "a.b.d.e, a.b",
        "a.b, a.b.d",
        "a.b, a.b.d.e",
    ],
)
def test_overlapping_paths_are_refused(text: str) -> None:
    assert "Two document paths overlap with each other" in message(text)


def test_the_overlap_message_names_both_paths() -> None:
    assert message("a.b[0],a.b[0]") == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove "
        "or rewrite one of these paths; path one: [a, b, [0]], path two: [a, b, [0]]"
    )


@pytest.mark.parametrize("text", ["a, b", "a.b, a.c", "a.b.d, a.b.e", "a[1], a[2]", "a.b, a.c[2]"])
def test_paths_sharing_a_prefix_are_fine(text: str) -> None:
    projection(text)


def test_conflicting_paths_are_refused() -> None:
    assert message("a.b, a[1]") == (
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove "
        "or rewrite one of these paths; path one: [a, b], path two: [a, [1]]"
    )


@pytest.mark.parametrize(
    "text",
    ["a,", ",a", "a,,b", "a b", "a = b", ":a", "size(a)", "a.", "a[", "a[x]", "(a)", "a[-1]"],
)
def test_syntax_errors(text: str) -> None:
    assert message(text).startswith("Invalid ProjectionExpression: Syntax error; token: ")


def test_syntax_error_detail() -> None:
    assert message("l[a]") == 'Invalid ProjectionExpression: Syntax error; token: "a", near: "[a]"'


def test_reserved_words_and_placeholders() -> None:
    assert message("name") == (
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    )
    assert message("a.#n2", {"#wrong": "b"}) == (
        "Invalid ProjectionExpression: An expression attribute name used in the document path "
        "is not defined; attribute name: #n2"
    )
    assert message("a.#n2", {"#n2": "b", "#unused": "x"}) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"
    )


def test_limits() -> None:
    assert message("") == "Invalid ProjectionExpression: The expression can not be empty;"
    projection("a" + ".b" * 31)
    assert message("a" + ".b" * 32) == (
        "Invalid ProjectionExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )
    assert "Expression size has exceeded" in message(",".join(f"a{i}" for i in range(1000)))


def test_resolve_and_path_clash() -> None:
    assert resolve(ITEM, Path(("a", "b", 2, "x"))) == s("hi")
    assert resolve(ITEM, Path(("b", 0))) is None
    assert str(Path(("a", 1, "b"))) == "[a, [1], b]"
    one, two, three = Path(("a", 1)), Path(("a", "x")), Path(("a",))
    assert path_clash([one, two, three]) == ("overlap", one, three)
    assert path_clash([one, two]) == ("conflict", one, two)
    assert path_clash([one, Path(("a", 2))]) is None
