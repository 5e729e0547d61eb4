"""Random token soup and deep nesting against every parser: an ExpressionError or success.

Whatever text a client sends, the expression languages answer with DynamoDB's
ValidationException (an :class:`ExpressionError`) or a parsed expression, never another
exception (no RecursionError, IndexError, ValueError); a parsed expression then
evaluates against an item to a result or a :class:`ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gureum.tables.expressions import (
    ConditionExpression,
    ExpressionAttributes,
    ExpressionError,
    KeyCondition,
    ProjectionExpression,
    UpdateExpression,
    parse_condition,
    parse_filter,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from gureum.tables.values import Item, ValidationError

NAMES = {"#n": "n", "#s": "status", "#dot": "a.b", "#i": "[0]"}
VALUES = {
    ":n": {"N": "1"},
    ":big": {"N": "9.9999999999999999999999999999999999999E+125"},
    ":s": {"S": "text"},
    ":b": {"B": "AQI="},
    ":l": {"L": [{"N": "1"}]},
    ":m": {"M": {"k": {"S": "v"}}},
    ":ss": {"SS": ["a"]},
    ":ns": {"NS": ["1"]},
    ":t": {"S": "N"},
    ":bool": {"BOOL": True},
    ":null": {"NULL": True},
}
ITEM: Item = {
    "pk": {"S": "key"},
    "n": {"N": "5"},
    "a": {"M": {"b": {"L": [{"N": "1"}, {"M": {"c": {"S": "x"}}}]}}},
    "l": {"L": [{"S": "x"}, {"N": "2"}]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "s": {"S": "text"},
}

TOKENS = [
    "a", "b", "c", "n", "l", "s", "ss", "ns", "x", "_y", "pk", "sk",
    "#n", "#s", "#dot", "#i", "#undefined",
    ":n", ":big", ":s", ":b", ":l", ":m", ":ss", ":ns", ":t", ":bool", ":null", ":undefined",
    "size", "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
    "contains", "if_not_exists", "list_append", "f", "status", "name",
    "(", ")", "[", "]", "0", "1", "99", "4294967296", ",", ".", "+", "-",
    "=", "<>", "<", "<=", ">", ">=",
    "AND", "and", "OR", "NOT", "not", "BETWEEN", "IN",
    "SET", "set", "REMOVE", "ADD", "DELETE",
    '"', "'", "ü", "*", "/", "$", "#", ":", "\t", "\n",
]  # fmt: skip

Parser = Callable[[str, ExpressionAttributes], object]
PARSERS: list[Parser] = [
    parse_condition,
    parse_filter,
    parse_update,
    parse_projection,
    parse_key_condition,
]


def exercise(text: str) -> None:
    """Parse ``text`` every way; on success, use the result as the API layer would."""
    for parse in PARSERS:
        attributes = ExpressionAttributes(NAMES, VALUES)
        try:
            parsed = parse(text, attributes)
            attributes.check_unused()
        except ExpressionError:
            continue
        try:
            if isinstance(parsed, ConditionExpression):
                assert parsed.evaluate(ITEM) in (True, False)
                assert parsed.evaluate(None) in (True, False)
            elif isinstance(parsed, UpdateExpression):
                parsed.check_keys(["pk"])
                result = parsed.apply(ITEM)
                result.updated_old()
                result.updated_new()
            elif isinstance(parsed, ProjectionExpression):
                parsed.apply(ITEM)
            else:
                assert isinstance(parsed, KeyCondition)
                query = parsed.bind("pk", "sk", {"pk": "S", "sk": "N"})
                if query.sort is not None:
                    query.sort.key_range()
                    query.sort.matches({"N": "3"})
        except ValidationError:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", ""]))
def test_token_soup_answers_only_expression_errors(tokens: list[str], separator: str) -> None:
    exercise(separator.join(tokens))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_answers_only_expression_errors(text: str) -> None:
    exercise(text)


#: (prefix, opening repeated, core, closing repeated, suffix)
NESTINGS = [
    ("", "(", "a = :n", ")", ""),
    ("", "(", "", "", ""),
    ("", "", "", ")", ""),
    ("", "NOT ", "a = :n", "", ""),
    ("", "NOT (", "a = :n", ")", ""),
    ("a = :n AND ", "(b = :n OR ", "c = :n", ")", ""),
    ("", "(a = :n AND (b = :n OR ", "c = :n", "))", ""),
    ("a < ", "f(", "b", ")", ""),
    ("a < ", "size(", "b", ")", ""),
    ("a < ", "(", "b", ")", ""),
    ("a = ", "attribute_exists(", "b", ")", ""),
    ("SET a = ", "list_append(", "b", ", :l)", ""),
    ("SET a = ", "if_not_exists(", "b", ", :n)", ""),
    ("SET a = ", "(", "b", ")", ""),
    ("SET a", "", "", "[0]", " = :n"),
    ("REMOVE a", "", "", ".b", ""),
    ("a", "", "", ".b", " = :n"),
    ("a", "", "", "[0]", ""),
    ("pk = :n AND ", "(", "sk = :n", ")", ""),
    ("a", "", "", ", a", ""),
    ("a = :n", "", "", " AND b = :n", ""),
    ("a IN (:n", "", "", ", :n", ")"),
    ("SET a = :n", "", "", ", a = :n", ""),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NESTINGS), st.integers(min_value=0, max_value=2100))
def test_deep_nesting_answers_only_expression_errors(
    nesting: tuple[str, str, str, str, str], depth: int
) -> None:
    prefix, opening, core, closing, suffix = nesting
    exercise(prefix + opening * depth + core + closing * depth + suffix)
    exercise(prefix + opening * depth + core)
    exercise(core + closing * depth + suffix)
