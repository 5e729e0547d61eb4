"""DynamoDB attribute values: validation messages, numbers, order, key bytes, sizes."""

from __future__ import annotations

import base64
import random
from decimal import Decimal
from typing import Any

import pytest

from gureum.tables.reserved_words import RESERVED_WORDS, is_reserved
from gureum.tables.values import (
    ITEM_TO_UPDATE_TOO_LARGE,
    MAX_ITEM_SIZE,
    AttributeValue,
    SerializationError,
    ValidationError,
    add_numbers,
    check_item_size,
    check_key_attribute,
    compare_values,
    item_size,
    key_bytes,
    normalize_number,
    number_size,
    validate_item,
    validate_value,
    value_size,
    values_equal,
)

INVALID = "One or more parameter values were invalid: "
OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
TWO_TYPES = (
    "Supplied AttributeValue has more than one datatypes set, "
    "must contain exactly one of the supported datatypes"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("1.50", "1.5"),
        ("-0", "0"),
        ("0.000", "0"),
        ("+7", "7"),
        ("1e2", "100"),
        ("1E+2", "100"),
        ("12.3400e-2", "0.1234"),
        (".5", "0.5"),
        ("5.", "5"),
        ("-000123.4500", "-123.45"),
        ("1E-130", "0." + "0" * 129 + "1"),
        (
            "9.9999999999999999999999999999999999999E+125",
            "99999999999999999999999999999999999999" + "0" * 88,
        ),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        (
            "1234567890123456789012345678901234567800000",
            "1234567890123456789012345678901234567800000",
        ),
        ("0e999999999999999999999", "0"),
    ],
)
def test_numbers_come_back_normalised_as_dynamodb_returns_them(text: str, normal: str) -> None:
    assert normalize_number(text) == normal
    assert validate_value({"N": text}) == {"N": normal}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The parameter cannot be converted to a numeric value"),
        ("b", "The parameter cannot be converted to a numeric value: b"),
        (" 1", "The parameter cannot be converted to a numeric value:  1"),
        ("1_000", "The parameter cannot be converted to a numeric value: 1_000"),
        ("NaN", "The parameter cannot be converted to a numeric value: NaN"),
        ("Infinity", "The parameter cannot be converted to a numeric value: Infinity"),
        ("0x10", "The parameter cannot be converted to a numeric value: 0x10"),
        ("1e", "The parameter cannot be converted to a numeric value: 1e"),
        (
            "123456789012345678901234567890123456789",
            "Attempting to store more than 38 significant digits in a Number",
        ),
        (
            "-1.23456789012345678901234567890123456789",
            "Attempting to store more than 38 significant digits in a Number",
        ),
        (
            "1e126",
            OVERFLOW,
        ),
        (
            "-1e126",
            OVERFLOW,
        ),
        (
            "1e" + "9" * 5000,
            OVERFLOW,
        ),
        (
            "1e-131",
            UNDERFLOW,
        ),
        (
            "-1e-131",
            UNDERFLOW,
        ),
        (
            "1e-" + "9" * 5000,
            UNDERFLOW,
        ),
    ],
)
def test_invalid_numbers_are_refused_with_dynamodbs_messages(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_value({"N": text})
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"a": ""},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"M": {"a": {}}},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"L": [{}]},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"S": "a", "N": "1"},
            TWO_TYPES,
        ),
        ({"NULL": False}, INVALID + "Null attribute value types must have the value of true"),
        ({"SS": []}, INVALID + "An string set  may not be empty"),
        ({"NS": []}, INVALID + "An number set  may not be empty"),
        ({"BS": []}, INVALID + "Binary sets should not be empty"),
        ({"SS": ["a", ""]}, INVALID + "An string set may not have a empty string as a member"),
        ({"BS": ["YWFh", ""]}, INVALID + "Binary sets may not contain null or empty values"),
        ({"SS": ["a", "a"]}, INVALID + "Input collection [a, a] contains duplicates."),
        (
            {"BS": ["Yg==", "Yg=="]},
            INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates.",
        ),
        ({"NS": ["1", "1.0"]}, "Input collection contains duplicates"),
        ({"NS": ["1", ""]}, "The parameter cannot be converted to a numeric value"),
        ({"NS": ["1", "b"]}, "The parameter cannot be converted to a numeric value: b"),
    ],
)
def test_invalid_values_are_refused_with_dynamodbs_messages(
    value: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_value(value)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "value",
    [{"S": 1}, {"B": "not base64!"}, {"BOOL": "yes"}, {"M": []}, {"L": {}}, {"SS": "a"}, "S", None],
)
def test_values_of_the_wrong_json_shape_are_serialization_errors(value: object) -> None:
    with pytest.raises(SerializationError):
        validate_value(value)


def test_valid_values_of_every_type_pass_and_nested_numbers_are_normalised() -> None:
    item = {
        "s": {"S": ""},
        "n": {"N": "10.0"},
        "b": {"B": b64(b"\x00\xff")},
        "t": {"BOOL": False},
        "z": {"NULL": True},
        "m": {"M": {"x": {"N": "-0.0"}, "y": {"L": [{"N": "1e1"}, {"SS": ["a", "b"]}]}}},
        "ns": {"NS": ["1.50", "2"]},
        "bs": {"BS": [b64(b"a"), b64(b"b")]},
    }
    checked = validate_item(item)
    assert checked["n"] == {"N": "10"}
    assert checked["m"] == {"M": {"x": {"N": "0"}, "y": {"L": [{"N": "10"}, {"SS": ["a", "b"]}]}}}
    assert checked["ns"] == {"NS": ["1.5", "2"]}
    assert checked["s"] == {"S": ""}  # empty strings are valid outside keys


def test_nesting_beyond_32_levels_is_refused() -> None:
    value: AttributeValue = {"S": "deep"}
    for _ in range(32):
        value = {"L": [value]}
    validate_value(value)
    with pytest.raises(ValidationError, match="Nesting Levels have exceeded supported limits"):
        validate_value({"M": {"x": value}})


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ({"N": "1"}, {"N": "1.000"}, True),
        ({"N": "1"}, {"S": "1"}, False),
        ({"NS": ["1", "2"]}, {"NS": ["2.0", "1"]}, True),
        ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}, True),
        ({"SS": ["a"]}, {"SS": ["a", "b"]}, False),
        ({"B": b64(b"x")}, {"B": b64(b"x")}, True),
        ({"L": [{"N": "1"}, {"S": "a"}]}, {"L": [{"N": "1.0"}, {"S": "a"}]}, True),
        ({"L": [{"N": "1"}, {"S": "a"}]}, {"L": [{"S": "a"}, {"N": "1"}]}, False),
        ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1"}}}, True),
        ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1"}, "b": {"NULL": True}}}, False),
        ({"BOOL": True}, {"BOOL": True}, True),
        ({"NULL": True}, {"NULL": True}, True),
    ],
)
def test_equality_is_dynamodbs(left: AttributeValue, right: AttributeValue, equal: bool) -> None:
    assert values_equal(left, right) is equal
    assert values_equal(right, left) is equal


def test_order_is_numeric_for_numbers_and_bytewise_for_strings_and_binary() -> None:
    assert compare_values({"N": "9"}, {"N": "10"}) == -1
    assert compare_values({"S": "9"}, {"S": "10"}) == 1
    assert compare_values({"S": "Z"}, {"S": "a"}) == -1  # by bytes, not by letter
    assert compare_values({"S": "\uffff"}, {"S": "\U0001f600"}) == -1  # UTF-8, not UTF-16
    assert compare_values({"B": b64(b"\x01")}, {"B": b64(b"\x01\x00")}) == -1
    assert compare_values({"N": "1"}, {"S": "1"}) is None
    assert compare_values({"BOOL": True}, {"BOOL": False}) is None


def _number_list() -> list[str]:
    rng = random.Random(7)
    numbers = [
        "0",
        "1",
        "-1",
        "10",
        "-10",
        "0.5",
        "-0.5",
        "0.55",
        "-0.55",
        "0.50001",
        "-0.50001",
        "1E-130",
        "-1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "123456789012345678901234567890123456.78",
        "100",
        "99",
        "101",
    ]
    for _ in range(400):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 38)))
        exponent = rng.randint(-125, 80)
        sign = rng.choice(["", "-"])
        numbers.append(f"{sign}{digits}e{exponent}")
    return numbers


def test_number_key_bytes_sort_as_the_numbers_do() -> None:
    numbers = _number_list()
    by_value = sorted(numbers, key=Decimal)
    by_key = sorted(numbers, key=lambda n: key_bytes({"N": n}))
    assert [Decimal(n) for n in by_key] == [Decimal(n) for n in by_value]
    assert key_bytes({"N": "1.50"}) == key_bytes({"N": "1.5"})
    assert key_bytes({"N": "-0"}) == key_bytes({"N": "0"})


def test_string_and_binary_key_bytes_sort_as_dynamodb_orders_them() -> None:
    strings = ["", "a", "B", "ab", "\u00e9", "\uffff", "\U0001f600", "a\x00", "Z"]
    assert sorted(strings, key=lambda s: key_bytes({"S": s})) == sorted(
        strings, key=lambda s: s.encode()
    )
    assert key_bytes({"B": b64(b"\x00\x01")}) == b"\x00\x01"


def test_key_bytes_refuse_non_key_types() -> None:
    with pytest.raises(ValidationError):
        key_bytes({"BOOL": True})


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 1),
        ("1", 2),
        ("12", 2),
        ("123", 3),
        ("100", 2),
        ("1000", 2),
        ("12.3456", 4),
        ("0.001", 2),
        ("-1", 3),
        ("12345678901234567890123456789012345678", 20),
        ("-12345678901234567890123456789012345678", 21),
    ],
)
def test_number_sizes(text: str, size: int) -> None:
    assert number_size(text) == size


def test_value_and_item_sizes_follow_the_developer_guide() -> None:
    assert value_size({"S": "héllo"}) == 6
    assert value_size({"B": b64(b"abc")}) == 3
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "c"]}) == 3
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (2 + 1) + (2 + 1)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert item_size({"id": {"S": "abc"}, "n": {"N": "12345"}}) == (2 + 3) + (1 + 4)


def test_items_over_400_kb_are_refused() -> None:
    name = "a"
    fits = {name: {"S": "x" * (MAX_ITEM_SIZE - 1)}}
    assert check_item_size(fits) == MAX_ITEM_SIZE
    with pytest.raises(ValidationError) as caught:
        check_item_size({name: {"S": "x" * MAX_ITEM_SIZE}})
    assert caught.value.message == "Item size has exceeded the maximum allowed size"
    with pytest.raises(ValidationError) as caught:
        check_item_size({name: {"S": "x" * MAX_ITEM_SIZE}}, message=ITEM_TO_UPDATE_TOO_LARGE)
    assert caught.value.message == "Item size to update has exceeded the maximum allowed size"


def test_numbers_add_exactly_and_refuse_what_cannot_be_stored() -> None:
    assert add_numbers("0.1", "0.2") == {"N": "0.3"}
    assert add_numbers("1", "1", subtract=True) == {"N": "0"}
    assert add_numbers("1e125", "-1e125") == {"N": "0"}
    big = "9.9999999999999999999999999999999999999E+125"
    with pytest.raises(ValidationError, match="Number overflow"):
        add_numbers(big, big)
    with pytest.raises(ValidationError, match="38 significant digits"):
        add_numbers("1e20", "1e-20")


def test_key_attributes_are_checked_as_dynamodb_checks_them() -> None:
    check_key_attribute("pk", {"S": "x"}, "S", partition=True)
    with pytest.raises(ValidationError) as caught:
        check_key_attribute("pk", {"N": "1"}, "S", partition=True)
    assert caught.value.message == INVALID + "Type mismatch for key pk expected: S actual: N"
    with pytest.raises(ValidationError) as caught:
        check_key_attribute("pk", {"S": ""}, "S", partition=True)
    assert caught.value.message == (
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk"
    )
    with pytest.raises(
        ValidationError, match="Size of hashkey has exceeded the maximum size limit of2048 bytes"
    ):
        check_key_attribute("pk", {"S": "x" * 2049}, "S", partition=True)
    check_key_attribute("sk", {"B": b64(b"x" * 1024)}, "B", partition=False)
    with pytest.raises(ValidationError, match="Aggregated size of all range keys"):
        check_key_attribute("sk", {"B": b64(b"x" * 1025)}, "B", partition=False)


def test_reserved_words_are_awss_573_in_any_case() -> None:
    assert len(RESERVED_WORDS) == 573
    assert is_reserved("status") and is_reserved("Size") and is_reserved("ZONE")
    assert not is_reserved("statuses") and not is_reserved("id")
