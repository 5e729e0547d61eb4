"""UpdateExpression: parsing, DynamoDB's errors, and the item an update leaves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gureum.tables.expressions import (
    ExpressionAttributes,
    ExpressionError,
    UpdateExpression,
    UpdateResult,
    parse_condition,
    parse_update,
)
from gureum.tables.updates import AddAction, DeleteAction, RemoveAction, SetAction
from gureum.tables.values import (
    ITEM_TO_UPDATE_TOO_LARGE,
    AttributeValue,
    Item,
    ValidationError,
    check_item_size,
    validate_item,
)


def n(value: str | int) -> AttributeValue:
    return {"N": str(value)}


def s(value: str) -> AttributeValue:
    return {"S": value}


KEY: Item = {"a": s("key")}


def update(
    text: str,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    *,
    all_used: bool = True,
) -> UpdateExpression:
    attributes = ExpressionAttributes(names, values)
    parsed = parse_update(text, attributes)
    if all_used:
        attributes.check_unused()
    return parsed


def apply(
    text: str,
    item: Item | None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> UpdateResult:
    return update(text, values, names).apply(item)


def message(
    text: str,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    with pytest.raises(ExpressionError) as caught:
        update(text, values, names)
    return caught.value.message


def runtime_message(text: str, item: Item | None, values: Mapping[str, Any] | None = None) -> str:
    parsed = update(text, values)
    with pytest.raises(ValidationError) as caught:
        parsed.apply(item)
    return caught.value.message


def test_the_four_clauses_parse_into_actions_in_order() -> None:
    parsed = update(
        "SET a = :v, b = c REMOVE d, e[1] ADD f :n DELETE g :ss",
        {":v": s("x"), ":n": n(1), ":ss": {"SS": ["x"]}},
    )
    kinds = [type(action) for action in parsed.actions]
    assert kinds == [SetAction, SetAction, RemoveAction, RemoveAction, AddAction, DeleteAction]
    assert [str(path) for path in parsed.paths] == ["[a]", "[b]", "[d]", "[e, [1]]", "[f]", "[g]"]
    assert parsed.attributes == ("a", "b", "d", "e", "f", "g")


def test_clauses_may_come_in_any_order_and_any_case() -> None:
    result = apply(
        "add c :n remove b Set d = :v",
        {"b": s("gone"), "c": n(1)},
        {":n": n(2), ":v": s("x")},
    )
    assert result.item == {"c": n(3), "d": s("x")}


def test_the_nested_update_dynamodb_documents() -> None:
    # From dynalite's AWS-verified test "should update nested attributes".
    before = {
        **KEY,
        "b": {"M": {"a": n(1), "b": n(2), "c": n(3)}},
        "c": {"L": [n(1), n(3)]},
    }
    result = apply(
        "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c "
        "add c[8] :b, c[6] :a",
        before,
        {":a": n(2), ":b": {"SS": ["a"]}},
    )
    assert result.item == {
        **KEY,
        "b": {"M": {"a": s("key"), "b": n(2), "c": n(4)}},
        "c": {"L": [n(1), s("key"), n(3), n(-1), n(2), {"SS": ["a"]}]},
    }
    assert result.updated_new() == {
        "b": {"M": {"a": s("key"), "c": n(4)}},
        "c": {"L": [s("key"), n(3), n(2)]},
    }
    assert result.updated_old() == {
        "b": {"M": {"a": n(1), "c": n(3)}},
        "c": {"L": [n(3)]},
    }
    assert result.old == before  # the item passed in is not changed
    assert result.attributes == ("b", "c")


def test_operands_read_the_item_before_the_update() -> None:
    result = apply("SET a = b, b = a", {"a": n(1), "b": n(2)})
    assert result.item == {"a": n(2), "b": n(1)}


def test_a_new_item_starts_from_its_key() -> None:
    result = apply("set b = if_not_exists(b, a)", dict(KEY))
    assert result.item == {**KEY, "b": s("key")}
    assert result.updated_new() == {"b": s("key")}
    assert result.updated_old() == {}


def test_actions_on_an_item_that_does_not_exist() -> None:
    # From dynalite's "should just add valid ADD actions if nothing exists".
    result = apply(
        "REMOVE b DELETE c :c ADD d :d, e :e SET f = :f",
        dict(KEY),
        {
            ":c": {"SS": ["a", "b"]},
            ":d": n(5),
            ":e": {"SS": ["a", "b"]},
            ":f": {"L": [s("a"), n(1)]},
        },
    )
    assert result.item == {**KEY, "d": n(5), "e": {"SS": ["a", "b"]}, "f": {"L": [s("a"), n(1)]}}
    assert result.updated_new() == {"d": n(5), "e": {"SS": ["a", "b"]}, "f": {"L": [s("a"), n(1)]}}


def test_arithmetic_is_exact() -> None:
    result = apply(
        "SET x = x + :a, y = :b - y", {"x": n("0.1"), "y": n(3)}, {":a": n("0.2"), ":b": n(1)}
    )
    assert result.item == {"x": n("0.3"), "y": n(-2)}


def test_arithmetic_that_cannot_be_stored_is_refused() -> None:
    big = "9.9999999999999999999999999999999999999E+125"
    assert runtime_message("SET x = x + :a", {"x": n(big)}, {":a": n(big)}) == (
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )


def test_if_not_exists() -> None:
    assert apply("SET a = if_not_exists(a, :v)", {}, {":v": n(0)}).item == {"a": n(0)}
    assert apply("SET a = if_not_exists(a, :v)", {"a": n(7)}, {":v": n(0)}).item == {"a": n(7)}
    result = apply("SET c = if_not_exists(c, :zero) + :one", {}, {":zero": n(0), ":one": n(1)})
    assert result.item == {"c": n(1)}
    assert apply("SET a = if_not_exists(b.c, :v)", {}, {":v": s("x")}).item == {"a": s("x")}


def test_list_append() -> None:
    item = {"l": {"L": [n(1)]}}
    assert apply("SET l = list_append(l, :v)", item, {":v": {"L": [n(2)]}}).item == {
        "l": {"L": [n(1), n(2)]}
    }
    assert apply("SET l = list_append(:v, l)", item, {":v": {"L": [n(0)]}}).item == {
        "l": {"L": [n(0), n(1)]}
    }
    result = apply(
        "SET m = list_append(if_not_exists(m, :empty), :v)",
        {},
        {":empty": {"L": []}, ":v": {"L": [n(1)]}},
    )
    assert result.item == {"m": {"L": [n(1)]}}


def test_set_past_the_end_of_a_list_appends_in_index_order() -> None:
    result = apply(
        "SET l[9] = :c, l[5] = :b, l[0] = :a",
        {"l": {"L": [n(0)]}},
        {":a": n(1), ":b": n(2), ":c": n(3)},
    )
    assert result.item == {"l": {"L": [n(1), n(2), n(3)]}}


def test_remove_takes_list_indexes_of_the_list_before_the_update() -> None:
    item = {"l": {"L": [n(0), n(1), n(2), n(3)]}}
    assert apply("REMOVE l[1], l[2]", item).item == {"l": {"L": [n(0), n(3)]}}
    assert apply("REMOVE l[2], l[1]", item).item == {"l": {"L": [n(0), n(3)]}}
    assert apply("REMOVE l[9]", item).item == item


def test_remove_of_missing_attributes_and_members_is_no_error() -> None:
    item = {"m": {"M": {"k": n(1)}}}
    assert apply("REMOVE x, m.absent", item).item == item
    assert apply("REMOVE m.k", item).item == {"m": {"M": {}}}


def test_add_numbers_and_sets() -> None:
    item = {"n": n(5), "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}}
    result = apply(
        "ADD n :one, ss :ss, ns :ns, fresh :one, freshset :ss",
        item,
        {":one": n(1), ":ss": {"SS": ["b", "c"]}, ":ns": {"NS": ["2.0", "3"]}},
    )
    assert result.item == {
        "n": n(6),
        "ss": {"SS": ["a", "b", "c"]},
        "ns": {"NS": ["1", "2", "3"]},
        "fresh": n(1),
        "freshset": {"SS": ["b", "c"]},
    }


def test_delete_members_and_an_emptied_set_goes() -> None:
    item = {"ns": {"NS": ["1", "2", "3"]}, "bs": {"BS": ["AQ==", "Ag=="]}}
    result = apply(
        "DELETE ns :ns, bs :bs, absent :ns",
        item,
        {":ns": {"NS": ["1", "4"]}, ":bs": {"BS": ["AQ==", "Ag=="]}},
    )
    assert result.item == {"ns": {"NS": ["2", "3"]}}
    assert result.updated_new() == {"ns": {"NS": ["2", "3"]}}
    assert result.updated_old() == {"ns": {"NS": ["1", "2", "3"]}, "bs": {"BS": ["AQ==", "Ag=="]}}


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("delete d :a", {":a": {"SS": ["1"]}}),
        ("delete b :a", {":a": {"NS": ["1"]}}),
        ("delete b.a :a", {":a": {"NS": ["1"]}}),
        ("delete c :a", {":a": {"NS": ["1"]}}),
        ("add b :a", {":a": {"NS": ["1"]}}),
        ("add d :a", {":a": n(1)}),
        ("set e = a + :a", {":a": n(1)}),
        ("set e = b - :a", {":a": n(1)}),
        ("set e = list_append(d, if_not_exists(f, :a))", {":a": {"L": []}}),
    ],
)
def test_operands_of_the_wrong_type(text: str, values: dict[str, Any]) -> None:
    # From dynalite's "should return ValidationException if using expression to
    # delete/add incorrect types".
    item = {**KEY, "b": {"M": {"a": {"SS": ["1"]}}}, "c": n(1), "d": {"NS": ["1"]}}
    assert runtime_message(text, item, values) == (
        "An operand in the update expression has an incorrect data type"
    )


@pytest.mark.parametrize(
    "text", ["set c = b", "set e = list_append(b, c)", "set a = if_not_exists(a, z)"]
)
def test_operands_that_reach_nothing(text: str) -> None:
    assert runtime_message(text, dict(KEY)) == (
        "The provided expression refers to an attribute that does not exist in the item"
    )


@pytest.mark.parametrize(
    "text",
    [
        "set b.a = :a",
        "set b[1] = :a",
        "set y.a = :a",
        "set y[1] = :a",
        "set c[1] = :a",
        "set d.#1 = :a",
        "remove b.a set #1 = :a",
        "remove b[1] set #1 = :a",
        "remove y.a set #1 = :a",
        "remove y[1] set #1 = :a",
        "remove c[1] set #1 = :a",
        "remove d.#1 set #1 = :a",
        "delete b.a :a set #1 = :a",
        "delete b[1] :a set #1 = :a",
        "delete y.a :a set #1 = :a",
        "delete c[1] :a set #1 = :a",
        "delete d.#1 :a",
        "add b.a :a set #1 = :a",
        "add y.a :a set #1 = :a",
        "add y[1] :a set #1 = :a",
        "add c[1] :a set #1 = :a",
        "add d.#1 :a",
    ],
)
def test_document_paths_invalid_for_update(text: str) -> None:
    # From dynalite's "should return ValidationException if trying to update
    # non-existent nested attribute in existing item".
    item = {**KEY, "b": s("key"), "c": {"M": {"1": s("a")}}, "d": {"L": [s("a"), s("b")]}}
    parsed = update(text, {":a": {"SS": ["a"]}}, {"#1": "1"}, all_used=False)
    with pytest.raises(ExpressionError) as caught:
        parsed.apply(item)
    assert caught.value.message == (
        "The document path provided in the update expression is invalid for update"
    )


@pytest.mark.parametrize(
    "text",
    [
        "add a.b :n",
        "delete a :ns",
        "remove d set b = :n, a = :n",
        "delete b :ns remove a",
        "set a = a.b + a[1]",
        "set a.x = :n",
    ],
)
def test_key_attributes_cannot_be_updated(text: str) -> None:
    parsed = update(text, {":n": n(1), ":ns": {"NS": ["1"]}}, all_used=False)
    with pytest.raises(ExpressionError) as caught:
        parsed.check_keys(["a"])
    assert caught.value.message == (
        "One or more parameter values were invalid: Cannot update attribute a. "
        "This attribute is part of the key"
    )
    update("set b = a", None).check_keys(["a"])


@pytest.mark.parametrize(
    "text",
    [
        "whatever",
        "set a",
        "add a",
        "delete a",
        "set a=set",
        "remove a = b",
        "add a = b",
        "delete a = b",
        "delete a b",
        "delete a if_not_exist(b)",
        "add abort b",
        "add a if_not_exist(b)",
        "remove a b",
        "set a b",
        "set :a = b",
        "add :a b",
        "delete :a b",
        "remove :a",
        "set a = b / c",
        "set a = b * c",
        'set a[1] = "eight"',
        "set a[1] = 1",
        "SET a = if_not_exist(a, 100)",
        "SET if_not_exist(a, b) = a",
        "set (a = (b + c))",
        "set a = (b.c).d + e",
        "set a = (b.c)[0] + e",
        "set a = b + c + d",
        "set a = (((b)))",
        "SET",
        "SET a = b,",
        "SET a = b REMOVE",
        "set a = b and c = d",
    ],
)
def test_syntax_errors(text: str) -> None:
    assert message(text).startswith("Invalid UpdateExpression: Syntax error; token: ")


@pytest.mark.parametrize(
    ("text", "token", "near"),
    [
        ("SET path = VALUE 1", "1", "VALUE 1"),
        ("SET", "<EOF>", "SET"),
        ("whatever", "whatever", "whatever"),
        ("set a = b / c", "/", "b / c"),
    ],
)
def test_syntax_errors_name_the_token_and_what_is_near_it(text: str, token: str, near: str) -> None:
    assert (
        message(text) == f'Invalid UpdateExpression: Syntax error; token: "{token}", near: "{near}"'
    )


def test_parentheses_around_a_value_or_an_operand() -> None:
    item = {"b": n(1), "c": n(2)}
    assert apply("set a = (b + c)", item).item["a"] == n(3)
    assert apply("set a = (b) + (c)", item).item["a"] == n(3)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        (" set #c = :c set abOrt = :c ", "abOrt"),
        (" remove Absolute ", "Absolute"),
        ("set a = status", "status"),
    ],
)
def test_reserved_words(text: str, word: str) -> None:
    assert message(text, {":c": n(1)}, {"#c": "c"}) == (
        f"Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: {word}"
    )


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ("set #c = if_not_exist(:c) set c = d", "if_not_exist"),
        ("set a = whatever(b)", "whatever"),
    ],
)
def test_unknown_functions(text: str, function: str) -> None:
    assert message(text, {":c": n(1)}, {"#c": "c"}) == (
        f"Invalid UpdateExpression: Invalid function name; function: {function}"
    )


@pytest.mark.parametrize("function", ["size", "attribute_exists", "contains"])
def test_condition_functions_are_not_update_functions(function: str) -> None:
    assert message(f"set a = {function}(b)") == (
        "Invalid UpdateExpression: The function is not allowed in an update expression; "
        f"function: {function}"
    )


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("set a = #c set c = :d", "SET"),
        ("remove #d set a = b remove e", "REMOVE"),
        ("add #d :e set a = b add e :f", "ADD"),
        ("delete #d :e set a = b delete #e :f", "DELETE"),
    ],
)
def test_each_section_at_most_once(text: str, section: str) -> None:
    assert message(text, {":d": n(1)}, {"#c": "c"}) == (
        f'Invalid UpdateExpression: The "{section}" section can only be used once in an '
        "update expression;"
    )


def test_undefined_placeholders() -> None:
    assert message("SET #c = if_not_exists(:c)", {":a": s("a")}, {"#a": "a"}) == (
        "Invalid UpdateExpression: An expression attribute name used in the document path is "
        "not defined; attribute name: #c"
    )
    assert message("SET #a = if_not_exists(:c)", {":a": s("a")}, {"#a": "a"}) == (
        "Invalid UpdateExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :c"
    )


@pytest.mark.parametrize(
    ("text", "one", "two"),
    [
        ("set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a, b)", "[c, [1], a]", "[c]"),
        ("set c.b.#c = a, c = a, #d = a", "[c, b, c]", "[c]"),
        ("set a = b remove a, #c, #d", "[a]", "[a]"),
        ("set #c[3].#d = a, #c[3] = a", "[c, [3], [3]]", "[c, [3]]"),
        ("remove c, #c.a, #d", "[c]", "[c, a]"),
        ("remove a, #c, a, #d", "[a]", "[a]"),
        ("add a :v delete a :v", "[a]", "[a]"),
    ],
)
def test_overlapping_paths(text: str, one: str, two: str) -> None:
    assert message(text, {":v": {"SS": ["x"]}}, {"#c": "c", "#d": "[3]"}) == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        f"rewrite one of these paths; path one: {one}, path two: {two}"
    )


@pytest.mark.parametrize(
    ("text", "one", "two"),
    [
        ("set #c[3].#d = a, #c.#d[3] = if_not_exists(a, b)", "[c, [3], [3]]", "[c, [3], [3]]"),
        ("remove a.#c set a[1] = #d", "[a, c]", "[a, [1]]"),
    ],
)
def test_conflicting_paths(text: str, one: str, two: str) -> None:
    assert message(text, None, {"#c": "c", "#d": "[3]"}) == (
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
        f"rewrite one of these paths; path one: {one}, path two: {two}"
    )


def test_paths_that_share_only_a_prefix_are_fine() -> None:
    update("SET a.b = :v, a.c = :v, l[0] = :v, l[1] = :v", {":v": n(1)})


@pytest.mark.parametrize(
    ("text", "value", "operator", "kind"),
    [
        ("set b = list_append(:b, a), c = if_not_exists(a, b) add a.b :a", s("a"), "ADD", "STRING"),
        ("delete a.b :a", s("a"), "DELETE", "STRING"),
        ("add a.b :a", {"NULL": True}, "ADD", "NULL"),
        ("add a.b :a", {"BOOL": False}, "ADD", "BOOLEAN"),
        ("delete a.b :a", {"B": "YQ=="}, "DELETE", "BINARY"),
        ("add a.b :a", {"M": {"a": {"L": [n(1)]}}}, "ADD", "MAP"),
        ("add a.b :a", {"L": [n(1)]}, "ADD", "LIST"),
        ("delete a.b :a", n(1), "DELETE", "NUMBER"),
    ],
)
def test_add_and_delete_operand_types(
    text: str, value: AttributeValue, operator: str, kind: str
) -> None:
    assert message(text, {":a": value, ":b": {"L": []}}) == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        f"operator: {operator}, operand type: {kind}, typeSet: ALLOWED_FOR_{operator}_OPERAND"
    )


@pytest.mark.parametrize(
    ("text", "function", "kind"),
    [
        ("set a = list_append(:a, a)", "list_append", "S"),
        ("set a = list_append(a, :b)", "list_append", "N"),
        ("set a = list_append(:c, a)", "list_append", "B"),
        ("set a = list_append(:i, a)", "list_append", "M"),
        ("set a = a + :a", "+", "S"),
        ("set a = :a + :c", "+", "S"),
        ("set a = :c + a", "+", "B"),
        ("set a = a + :j", "+", "L"),
        ("set a = a - :g", "-", "NS"),
        ("set a = a - :e", "-", "NULL"),
    ],
)
def test_function_and_arithmetic_operand_types(text: str, function: str, kind: str) -> None:
    values = {
        ":a": s("a"),
        ":b": n(1),
        ":c": {"B": "YQ=="},
        ":e": {"NULL": True},
        ":g": {"NS": ["1"]},
        ":i": {"M": {}},
        ":j": {"L": []},
    }
    attributes = ExpressionAttributes(None, values)
    with pytest.raises(ExpressionError) as caught:
        parse_update(text, attributes)
    assert caught.value.message == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        f"operator or function: {function}, operand type: {kind}"
    )


@pytest.mark.parametrize("text", ["set a = if_not_exists(c)", "set a = list_append(c)"])
def test_function_operand_counts(text: str) -> None:
    name = text.split("= ")[1].split("(")[0]
    assert message(text) == (
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
        f"operator or function: {name}, number of operands: 1"
    )


@pytest.mark.parametrize(
    "text", ["set a = if_not_exists(:a, c)", "set a = if_not_exists(if_not_exists(a, b), c)"]
)
def test_if_not_exists_needs_a_path(text: str) -> None:
    assert message(text, {":a": s("a")}) == (
        "Invalid UpdateExpression: Operator or function requires a document path; "
        "operator or function: if_not_exists"
    )


def test_update_and_condition_share_placeholders() -> None:
    # From dynalite: every name and value must be used by one of the expressions.
    attributes = ExpressionAttributes({"#a": "a", "#b": "b"}, {":a": s("a"), ":b": s("a")})
    parse_update("remove a set b = list_append(b, if_not_exists(a, :a))", attributes)
    parse_condition("a = :b", attributes)
    with pytest.raises(ExpressionError) as caught:
        attributes.check_unused()
    assert caught.value.message == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    )


def test_the_expression_may_not_be_empty_or_over_4_kb() -> None:
    assert message("") == "Invalid UpdateExpression: The expression can not be empty;"
    assert message("SET a = b" + " " * 4088).endswith("expression size: 4097")
    update("SET " + "a" * 4087 + " = :v", {":v": n(1)})  # exactly 4096 bytes


def test_deep_function_nesting_answers_an_error() -> None:
    text = "SET a = " + "list_append(" * 200 + "b" + ", :v)" * 200
    assert message(text, {":v": {"L": []}}).startswith("Invalid UpdateExpression: ")
    assert message("SET a = " + "size(" * 500 + "b" + ")" * 500) == (
        "Invalid UpdateExpression: The function is not allowed in an update expression; "
        "function: size"
    )


def test_an_update_item_request_as_the_api_layer_runs_it() -> None:
    # UpdateItem: Key, UpdateExpression, ConditionExpression, one set of placeholders.
    key = {"pk": s("user#1")}
    stored: Item | None = {**key, "visits": n(4), "tags": {"SS": ["new"]}}
    attributes = ExpressionAttributes(
        {"#v": "visits"}, {":one": n(1), ":max": n(10), ":old": {"SS": ["new"]}}
    )
    expression = parse_update("SET #v = #v + :one DELETE tags :old", attributes)
    condition = parse_condition("#v < :max", attributes)
    attributes.check_unused()
    expression.check_keys(key)
    assert condition.evaluate(stored)  # else ConditionalCheckFailedException
    result = expression.apply(stored if stored is not None else key)
    item = validate_item(result.item)
    check_item_size(item, message=ITEM_TO_UPDATE_TOO_LARGE)
    assert item == {**key, "visits": n(5)}
    assert result.updated_new() == {"visits": n(5)}
    assert result.updated_old() == {"visits": n(4), "tags": {"SS": ["new"]}}
    assert result.attributes == ("visits", "tags")
