"""ConditionExpression and FilterExpression: parsing, DynamoDB's errors, evaluation."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gureum.tables.conditions import And, Comparison, Not, Or
from gureum.tables.expressions import (
    ConditionExpression,
    ExpressionAttributes,
    ExpressionError,
    parse_condition,
    parse_filter,
)
from gureum.tables.values import AttributeValue, Item, SerializationError


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


VALUES: dict[str, AttributeValue] = {
    ":one": {"N": "1"},
    ":two": {"N": "2.0"},
    ":ten": {"N": "10"},
    ":hello": {"S": "hello"},
    ":he": {"S": "he"},
    ":ell": {"S": "ell"},
    ":x": {"S": "x"},
    ":empty": {"S": ""},
    ":bin": {"B": b64(b"\x01\x02\x03")},
    ":binpre": {"B": b64(b"\x01\x02")},
    ":yes": {"BOOL": True},
    ":null": {"NULL": True},
    ":list": {"L": [{"N": "1"}, {"S": "x"}]},
    ":map": {"M": {"k": {"S": "v"}}},
    ":ss": {"SS": ["a", "b"]},
    ":tS": {"S": "S"},
    ":tN": {"S": "N"},
    ":tM": {"S": "M"},
    ":tL": {"S": "L"},
    ":tSS": {"S": "SS"},
    ":tNULL": {"S": "NULL"},
}
NAMES = {"#s": "status", "#dot": "a.b", "#idx": "[3]", "#n": "n"}

ITEM: Item = {
    "n": {"N": "1"},
    "s": {"S": "hello"},
    "status": {"S": "open"},
    "a.b": {"S": "literal dot"},
    "a": {"M": {"b": {"S": "nested"}}},
    "bin": {"B": b64(b"\x01\x02\x03")},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "ss": {"SS": ["a", "b", "c"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b64(b"\x01"), b64(b"\x02")]},
    "lst": {"L": [{"N": "1"}, {"S": "x"}, {"M": {"deep": {"L": [{"S": "y"}]}}}]},
    "mp": {"M": {"k": {"S": "v"}, "n": {"N": "2"}}},
    "emoji": {"S": "é\U0001d11e"},
}


def condition(text: str, *, kind: str = "ConditionExpression") -> ConditionExpression:
    attributes = ExpressionAttributes(NAMES, VALUES)
    return parse_condition(text, attributes, kind=kind)


def message(
    text: str, names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None
) -> str:
    with pytest.raises(ExpressionError) as caught:
        attributes = ExpressionAttributes(names, values)
        parse_filter(text, attributes)
        attributes.check_unused()
    return caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n = :one", True),
        ("n = :two", False),
        ("n <> :two", True),
        ("n < :two", True),
        ("n <= :one", True),
        ("n > :one", False),
        ("n >= :one", True),
        ("s < :x", True),  # by bytes
        ("s = :hello", True),
        ("absent = :one", False),
        ("absent <> :one", True),  # a missing attribute is not equal to anything
        ("absent < :one", False),
        ("s < :one", False),  # different types compare false
        ("s <> :one", True),
        ("flag = :yes", True),
        ("nothing = :null", True),
        ("lst = :list", False),
        ("mp.k = :x", False),
        ("ss = :ss", False),
        ("n BETWEEN :one AND :ten", True),
        ("n between :two and :ten", False),
        ("s BETWEEN :he AND :x", True),
        ("n IN (:two, :ten, :one)", True),
        ("n IN (:two)", False),
        ("absent IN (:one)", False),
        ("attribute_exists(n)", True),
        ("attribute_exists(absent)", False),
        ("attribute_not_exists(absent)", True),
        ("attribute_not_exists(a.b)", False),
        ("attribute_exists(#dot)", True),  # a #name is one path element, dot and all
        ("attribute_exists(a.absent)", False),
        ("attribute_exists(lst[2].deep[0])", True),
        ("attribute_exists(lst[3])", False),
        ("attribute_exists(mp[0])", False),  # an index into a map reaches nothing
        ("attribute_exists(lst.k)", False),  # a key into a list reaches nothing
        ("attribute_type(s, :tS)", True),
        ("attribute_type(n, :tN)", True),
        ("attribute_type(mp, :tM)", True),
        ("attribute_type(lst, :tL)", True),
        ("attribute_type(ss, :tSS)", True),
        ("attribute_type(nothing, :tNULL)", True),
        ("attribute_type(s, :tN)", False),
        ("attribute_type(absent, :tS)", False),
        ("begins_with(s, :he)", True),
        ("begins_with(s, :ell)", False),
        ("begins_with(s, :empty)", True),
        ("begins_with(bin, :binpre)", True),
        ("begins_with(n, :he)", False),
        ("contains(s, :ell)", True),
        ("contains(s, :x)", False),
        ("contains(bin, :binpre)", True),
        ("contains(ss, :x)", False),
        ("contains(lst, :x)", True),
        ("contains(lst, :one)", True),
        ("contains(ns, :one)", True),
        ("contains(mp, :x)", False),
        ("contains(absent, :x)", False),
        ("size(s) = :ten", False),
        ("size(s) > :two", True),
        ("size(bin) BETWEEN :one AND :ten", True),
        ("size(ss) > :two", True),
        ("size(lst) > :two", True),
        ("size(mp) = :two", True),
        ("size(n) = :one", False),  # a number has no size
        ("size(flag) >= :one", False),
        ("size(absent) >= :one", False),
        ("#s = :x OR #n = :one", True),
        ("NOT n = :one", False),
        ("not not n = :one", True),
        ("n = :one AND s = :x OR flag = :yes", True),
        ("n = :one AND (s = :x OR flag = :yes)", True),
        ("n = :two OR s = :x AND flag = :yes", False),
        ("NOT n = :two AND s = :hello", True),
        ("NOT (n = :two OR s = :hello)", False),
        ("(n) = (:one)", True),
        ("(a).b = :x", False),
        ("(lst[2]).deep[0] = :x", False),
        ("(size(s)) > (:two)", True),
        ("((n = :one) AND (s = :hello))", True),
    ],
)
def test_conditions_evaluate_as_dynamodb_evaluates_them(text: str, expected: bool) -> None:
    assert condition(text).evaluate(ITEM) is expected


def test_size_counts_utf16_code_units_as_dynamodb_does() -> None:
    attributes = ExpressionAttributes(None, {":three": {"N": "3"}})
    assert parse_condition("size(emoji) = :three", attributes).evaluate(ITEM)


def test_no_item_reads_as_an_empty_one() -> None:
    assert condition("attribute_not_exists(n)").evaluate(None)
    assert not condition("attribute_exists(n)").evaluate({})


def test_precedence_is_not_then_and_then_or() -> None:
    root = condition("n = :one OR s = :x AND NOT flag = :yes").root
    assert isinstance(root, Or)
    assert isinstance(root.items[0], Comparison)
    second = root.items[1]
    assert isinstance(second, And)
    assert isinstance(second.items[1], Not)


def test_chains_of_the_same_operator_are_flattened() -> None:
    root = condition("n = :one AND (s = :x AND flag = :yes) AND n < :ten").root
    assert isinstance(root, And)
    assert len(root.items) == 4


def test_keywords_are_case_insensitive_and_function_names_are_not() -> None:
    assert condition("n between :one aNd :ten AnD NoT n In (:two)").evaluate(ITEM)
    assert message("Attribute_Exists(n)") == (
        "Invalid FilterExpression: Invalid function name; function: Attribute_Exists"
    )


def test_paths_and_attributes_read_are_listed() -> None:
    parsed = condition("a.b = :x AND size(lst[1]) > :one OR #dot = :x")
    assert [str(path) for path in parsed.paths] == ["[a, b]", "[lst, [1]]", "[a.b]"]
    assert parsed.attributes == ("a", "lst", "a.b")


@pytest.mark.parametrize(
    "text",
    [
        "things are not gonna be ok",
        "a > 4",
        "attribute_exists(Pictures-RearView)",
        'attribute_exists("Pictures.RearView")',
        "attribute_exists(Pictures..RearView)",
        "attribute_exists(Pi#ctures.RearView)",
        "attribute_exists(asdf[a])",
        "a in b, c",
        "a > between",
        "a in b",
        "a in (b,c,)",
        "(a)between(b.(c.d))and(c)",
        "(a)between(b.c.d)and((c)",
        "#$.b > a",
        "a > :things.stuff",
        "b[:a] > a",
        "b[#_] > a",
        "ü > a",
        "(a)between(b.c[4.5].#d)and(:a)",
        "size(a).b > a",
        "(size(a)).b > a",
        "size(a)[0] > a",
        "(size(a))[0] > a",
        "a",
        "(a)",
        "a = ",
        "a = b AND",
        "NOT",
        "a = b)",
        "((a = b)",
        "a BETWEEN b",
        "a IN ()",
        "attribute_exists()",
        "a <=> b",
        "a == b",
        "a = b c = d",
    ],
)
def test_syntax_errors(text: str) -> None:
    assert message(text).startswith("Invalid FilterExpression: Syntax error; token: ")


@pytest.mark.parametrize(
    ("text", "token", "near"),
    [
        ("contains (themes, :theme", "<EOF>", ":theme"),
        ("attribute_type()", ")", "()"),
        ("a > 4", "4", "> 4"),
        ("things are not", "are", "things are not"),
        ("a[b] = c", "b", "[b]"),
        ("a = b AND ", "<EOF>", "AND "),
        ("((((a = :v", "<EOF>", ":v"),
    ],
)
def test_syntax_errors_name_the_token_and_what_is_near_it(text: str, token: str, near: str) -> None:
    assert message(text, values={":v": {"N": "1"}, ":theme": {"S": "x"}}) == (
        f'Invalid FilterExpression: Syntax error; token: "{token}", near: "{near}"'
    )


def test_syntax_errors_carry_the_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition("a = b AND = c", ExpressionAttributes())
    assert caught.value.position == 10


@pytest.mark.parametrize(
    "text",
    [
        "a=a and a > ((views))",
        "(a)between(((b.c)).d)and(c)",
        "a > whatever((:things), ((a)))",
        "a=a AND ((a=a AND a=a)) AND a=a",
        "a=a OR ((a=a OR a=a)) OR a=a",
        "a=a AND ((a=a AND (a=a AND a=a)))",
        "a=a OR ((a=a OR (a=a OR a=a)))",
        "((a = b))",
        "(((a = b)))",
    ],
)
def test_redundant_parentheses_come_first(text: str) -> None:
    assert message(text) == "Invalid FilterExpression: The expression has redundant parentheses;"


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("a=a and whatever((:things)) > a", "whatever"),
        ("attRIbute_exIsts((views), #a)", "attRIbute_exIsts"),
    ],
)
def test_unknown_functions(text: str, function: str) -> None:
    assert message(text) == f"Invalid FilterExpression: Invalid function name; function: {function}"


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("a=a and attribute_exists((views), (#a)) > b", "attribute_exists"),
        ("attribute_not_exists(things) > b", "attribute_not_exists"),
        ("attribute_type(things, :a) > b", "attribute_type"),
        ("begins_with(things, a) > b", "begins_with"),
        ("contains(:things, c) > b", "contains"),
        ("size(contains(a, b)) > a", "contains"),
        ("size(things)", "size"),
        ("a between b and attribute_exists(things)", "attribute_exists"),
        ("a in (b, attribute_exists(things))", "attribute_exists"),
    ],
)
def test_functions_used_where_a_value_or_a_condition_belongs(text: str, function: str) -> None:
    assert message(text) == (
        "Invalid FilterExpression: The function is not allowed to be used this way in an "
        f"expression; function: {function}"
    )


@pytest.mark.parametrize("function", ["if_not_exists", "list_append"])
def test_update_functions_are_not_conditions(function: str) -> None:
    assert message(f"a = {function}(b, c)") == (
        "Invalid FilterExpression: The function is not allowed in a condition expression; "
        f"function: {function}"
    )


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("attribute_exists(views, #a)", "views"),
        (":a < abOrT", "abOrT"),
        ("a.status = b", "status"),
        ("a[1].Size = b", "Size"),
    ],
)
def test_reserved_words_are_refused_as_bare_names(text: str, word: str) -> None:
    assert message(text) == (
        f"Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: {word}"
    )


def test_a_name_placeholder_stands_in_for_a_reserved_word() -> None:
    assert condition("#s = :x OR size(#s) > :one").evaluate(ITEM)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("attribute_exists(#Pictures.RearView, :a) and a=a", "#Pictures"),
        ("begins_with(Pictures.#RearView)", "#RearView"),
        ("(#P between :lo and :hi) and (#PC in (:cat1, :cat2))", "#P"),
        ("#4g > a", "#4g"),
        ("#_ > a", "#_"),
        ("(a)between(b.c[45].#d)and(:a)", "#d"),
    ],
)
def test_undefined_names(text: str, name: str) -> None:
    assert message(text) == (
        "Invalid FilterExpression: An expression attribute name used in the document path is "
        f"not defined; attribute name: {name}"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("begins_with(:hello, #a, #b)", ":hello"),
        (":a < :b", ":a"),
        (":_ > a", ":_"),
    ],
)
def test_undefined_values(text: str, value: str) -> None:
    assert message(text) == (
        "Invalid FilterExpression: An expression attribute value used in expression is not "
        f"defined; attribute value: {value}"
    )


@pytest.mark.parametrize(
    ("text", "function", "count"),
    [
        ("attribute_exists(things, a) and a=a", "attribute_exists", 2),
        ("attribute_not_exists(things, b)", "attribute_not_exists", 2),
        ("attribute_type(things)", "attribute_type", 1),
        ("begins_with(things)", "begins_with", 1),
        ("begins_with(things, size(a), b)", "begins_with", 3),
        ("contains(things)", "contains", 1),
        ("size(things, a) > b", "size", 2),
    ],
)
def test_operand_counts(text: str, function: str, count: int) -> None:
    assert message(text) == (
        "Invalid FilterExpression: Incorrect number of operands for operator or function; "
        f"operator or function: {function}, number of operands: {count}"
    )


@pytest.mark.parametrize(
    ("text", "function", "value"),
    [
        ("attribute_type(a, size(a)) and a=a and a=:a", "attribute_type", {"N": "1"}),
        ("attribute_type(a, :a)", "attribute_type", {"N": "1"}),
        ("attribute_type(a, :a)", "attribute_type", {"B": "YQ=="}),
        ("attribute_type(a, :a)", "attribute_type", {"BOOL": True}),
        ("attribute_type(a, :a)", "attribute_type", {"L": []}),
        ("attribute_type(a, :a)", "attribute_type", {"SS": ["1"]}),
        ("begins_with(a, size(a)) and a=:a", "begins_with", {"N": "1"}),
        ("begins_with(a, :a)", "begins_with", {"N": "1"}),
        ("begins_with(a, :a)", "begins_with", {"NULL": True}),
        ("begins_with(a, :a)", "begins_with", {"M": {}}),
        ("begins_with(:a, a)", "begins_with", {"NS": ["1"]}),
        ("begins_with(:a, a)", "begins_with", {"BS": ["YQ=="]}),
        ("size(size(a)) > :a", "size", {"N": "1"}),
        ("attribute_not_exists(size(:a))", "size", {"N": "1"}),
        ("size(:a) > a", "size", {"BOOL": True}),
        ("size(:a) > a", "size", {"NULL": True}),
        ("a < :a", "<", {"L": []}),
        ("a >= :a", ">=", {"M": {}}),
        ("a BETWEEN :a AND b", "BETWEEN", {"BOOL": True}),
    ],
)
def test_operand_types(text: str, function: str, value: dict[str, Any]) -> None:
    kind = next(iter(value))
    assert message(text, values={":a": value}) == (
        "Invalid FilterExpression: Incorrect operand type for operator or function; "
        f"operator or function: {function}, operand type: {kind}"
    )


def test_attribute_type_of_a_path_names_every_type() -> None:
    assert message("attribute_type(a, b)") == (
        "Invalid FilterExpression: Incorrect operand type for operator or function; "
        "operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
    )


def test_attribute_type_needs_a_type_name() -> None:
    assert message("attribute_type(a, :a)", values={":a": {"S": "1"}}) == (
        "Invalid FilterExpression: Invalid attribute type name found; type: 1, "
        "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    )


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("attribute_exists(:a) and a=a", "attribute_exists"),
        ("attribute_not_exists(size(:a))", "attribute_not_exists"),
    ],
)
def test_existence_functions_need_a_path(text: str, function: str) -> None:
    assert message(text, values={":a": {"S": "1"}}) == (
        "Invalid FilterExpression: Operator or function requires a document path; "
        f"operator or function: {function}"
    )


@pytest.mark.parametrize(
    ("text", "operator", "path"),
    [
        ("a = a AND #a = b AND :views > a", "=", "[a]"),
        ("#a <> a", "<>", "[a]"),
        ("a > #a", ">", "[a]"),
        ("((a=a) OR (a=a))", "=", "[a]"),
        ("contains(ab.bc[1].a, ab.bc[1].#a)", "contains", "[ab, bc, [1], a]"),
        ("attribute_type(ab.bc[1].#a, ab.bc[1].a)", "attribute_type", "[ab, bc, [1], a]"),
        ("begins_with(ab.bc[1].a, ab.bc[1].#a)", "begins_with", "[ab, bc, [1], a]"),
        ("a BETWEEN b AND a", "BETWEEN", "[a]"),
        ("a IN (b, a)", "IN", "[a]"),
    ],
)
def test_repeated_operands(text: str, operator: str, path: str) -> None:
    assert message(text, names={"#a": "a"}) == (
        "Invalid FilterExpression: The first operand must be distinct from the remaining "
        f"operands for this operator or function; operator: {operator}, first operand: {path}"
    )


def test_two_values_may_be_the_same() -> None:
    assert condition(":one = :one").evaluate({})


def test_between_bounds_must_share_a_type_and_be_in_order() -> None:
    assert message("a between :b and :a", values={":a": {"S": "a"}, ":b": {"N": "1"}}) == (
        "Invalid FilterExpression: The BETWEEN operator requires same data type for lower and "
        "upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
        "AttributeValue: {S:a}"
    )
    assert message("a between :b and :a", values={":a": {"S": "a"}, ":b": {"S": "b"}}) == (
        "Invalid FilterExpression: The BETWEEN operator requires upper bound to be greater than "
        "or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound "
        "operand: AttributeValue: {S:a}"
    )


def test_the_first_problem_of_the_first_faulty_condition_wins() -> None:
    # the count problem of the first condition beats the undefined name of the second
    assert "number of operands: 2" in message("size(a, b) > c AND #x = d")
    # within one condition an undefined placeholder beats a count problem
    assert "attribute name: #x" in message("size(#x, b) > c AND #y = d")


def test_in_takes_at_most_100_operands() -> None:
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    hundred = ", ".join(list(values)[:100])
    attributes = ExpressionAttributes(None, values)
    assert parse_condition(f"a IN ({hundred})", attributes).evaluate({"a": {"N": "99"}})
    assert message(f"a IN ({', '.join(values)})", values=values) == (
        "Invalid FilterExpression: The IN operator is provided with too many operands; "
        "number of operands: 101"
    )


def test_at_most_300_operators() -> None:
    attributes = ExpressionAttributes()
    text = "a<b " + "or (a<b " * 149 + ")" * 149
    assert parse_condition(text, attributes).evaluate({"a": {"N": "1"}, "b": {"N": "2"}})
    text = "a<b " + "or (a<b " * 150 + ")" * 150
    assert message(text) == (
        "Invalid FilterExpression: The expression contains too many operators; operator count: 301"
    )
    assert message("not " * 1000 + "a < b") == (
        "Invalid FilterExpression: The expression contains too many operators; operator count: 1001"
    )


def test_document_paths_nest_at_most_32_levels() -> None:
    assert condition("a" + ".b" * 31 + " = :one").evaluate({}) is False
    assert message("a" + ".b" * 32 + " = c") == (
        "Invalid FilterExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )
    assert "nesting levels: 33" in message("a" + "[0]" * 32 + " = c")


def test_the_expression_may_not_be_empty_or_over_4_kb() -> None:
    assert message("") == "Invalid FilterExpression: The expression can not be empty;"
    long = "a = b" + " " * 4092
    assert message(long) == (
        "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
        "expression size: 4097"
    )
    assert "expression size: 4098" in message("a = b" + " " * 4091 + "é")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(" * 2046 + "a<b" + ")" * 2046, "The expression has redundant parentheses;"),
        ("(" * 4096, 'Syntax error; token: "<EOF>", near: "("'),
        ("a < " + "f(" * 1355 + "b" + ")" * 1355, "Invalid function name; function: f"),
        (
            "a < " + "size(" * 680 + "b" + ")" * 680,
            "Incorrect operand type for operator or function; operator or function: size, "
            "operand type: N",
        ),
        ("a < " + "(" * 2000 + "b" + ")" * 2000, "The expression has redundant parentheses;"),
        (
            "a = " + "attribute_exists(" * 100 + "b" + ")" * 100,
            "The function is not allowed to be used this way in an expression; "
            "function: attribute_exists",
        ),
    ],
)
def test_deep_nesting_answers_dynamodbs_error_not_a_crash(text: str, expected: str) -> None:
    assert message(text).startswith("Invalid FilterExpression: " + expected)


def _at_depth(frames: int, call: Callable[[], bool]) -> bool:
    return call() if frames == 0 else _at_depth(frames - 1, call)


def test_the_largest_valid_expressions_evaluate_with_stack_to_spare() -> None:
    item = {"a": {"N": "1"}, "b": {"N": "2"}}
    nots = parse_condition("not " * 298 + "a < b", ExpressionAttributes())
    alternating = parse_condition(
        "a<b " + "and (a<b or (a<b " * 74 + "))" * 74, ExpressionAttributes()
    )
    assert _at_depth(400, lambda: nots.evaluate(item)) is True
    assert _at_depth(400, lambda: alternating.evaluate(item)) is True


def test_placeholders_are_checked_across_expressions() -> None:
    attributes = ExpressionAttributes({"#a": "a", "#b": "b"}, {":a": {"S": "x"}, ":b": {"S": "y"}})
    parse_condition("#a = :a", attributes)
    with pytest.raises(ExpressionError) as caught:
        attributes.check_unused()
    assert caught.value.message == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    )
    parse_filter("#b = :b", attributes)
    attributes.check_unused()


def test_unused_values_are_refused() -> None:
    assert message("a = :a", values={":a": {"S": "a"}, ":c": {"S": "c"}, ":d": {"S": "d"}}) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:c, :d}"
    )


@pytest.mark.parametrize(
    ("names", "values", "expected"),
    [
        ({}, None, "ExpressionAttributeNames must not be empty"),
        ({"a": "a"}, None, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"'),
        (None, {}, "ExpressionAttributeValues must not be empty"),
        (
            None,
            {"b": {"S": "b"}},
            'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"',
        ),
        (
            None,
            {":b": {}},
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, "
            "must contain exactly one of the supported datatypes for key :b",
        ),
        (
            None,
            {":b": {"SS": []}},
            "ExpressionAttributeValues contains invalid value: One or more parameter values were "
            "invalid: An string set  may not be empty for key :b",
        ),
        (
            None,
            {":b": {"N": "b"}},
            "ExpressionAttributeValues contains invalid value: The parameter cannot be converted "
            "to a numeric value: b for key :b",
        ),
    ],
)
def test_the_placeholder_maps_are_validated(
    names: dict[str, str] | None, values: dict[str, Any] | None, expected: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        ExpressionAttributes(names, values)
    assert caught.value.message == expected


def test_placeholder_values_are_normalised() -> None:
    attributes = ExpressionAttributes(None, {":n": {"N": "1.50"}})
    assert attributes.values[":n"] == {"N": "1.5"}


def test_a_condition_expression_says_so_in_its_errors() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition("a =", ExpressionAttributes())
    assert caught.value.message.startswith("Invalid ConditionExpression: Syntax error")


def test_placeholder_maps_must_be_maps() -> None:
    with pytest.raises(SerializationError):
        ExpressionAttributes(None, [":a"])  # type: ignore[arg-type]
