"""DynamoDB attribute values in their wire form: validation, numbers, order, keys, sizes.

Pure (no I/O). An attribute value is the JSON DynamoDB's API carries, a dict with one
type key: ``{"S": "x"}``, ``{"N": "1.5"}``, ``{"B": "<base64>"}``, ``{"BOOL": true}``,
``{"NULL": true}``, ``{"M": {name: value}}``, ``{"L": [value]}``, ``{"SS": [..]}``,
``{"NS": [..]}``, ``{"BS": [..]}``; an item maps attribute names to values. Values stay
in this form everywhere (stored as JSON, compared and evaluated here), so what a client
wrote is what it reads back, except that numbers come back normalised as DynamoDB
normalises them (``"1.50"`` reads ``"1.5"``, ``"-0"`` reads ``"0"``, ``"1e2"`` reads
``"100"``).

Why :class:`decimal.Decimal` and never float: a DynamoDB number has up to 38 significant
digits and a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125; a
float keeps neither, and ``ADD`` on a counter must be exact.

Order is DynamoDB's: numbers numerically, strings by their UTF-8 bytes (the same order
as Python's code-point order), binary bytewise. :func:`key_bytes` turns an S, N or B key
value into bytes whose bytewise order (SQLite's BLOB comparison, PostgreSQL's ``bytea``)
is that order, so a sort key can be a SQL column that ``ORDER BY`` and range conditions
read directly. Numbers need a real encoding for that: a sign byte, the decimal exponent
in one byte (inverted for negatives) and the digits packed two to a byte (complemented
and terminated for negatives, so that a longer negative mantissa sorts first).

Sizes follow DynamoDB's accounting (its developer guide, "Item sizes and formats"): an
attribute is its name's UTF-8 length plus its value's size; strings count UTF-8 bytes,
binary its raw bytes, a number one byte per two significant digits (aligned on the
decimal point) plus one (plus one more when negative), BOOL and NULL one byte, a list or
map three bytes plus one per element on top of the elements (and a map's keys). An item
may be at most 400 KB.

Errors carry DynamoDB's ValidationException wording; :class:`ValidationError` is the
root of every error the tables' pure core raises.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
SCALAR_KEY_TYPES = ("S", "N", "B")
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}

#: DynamoDB's item size limit, in bytes.
MAX_ITEM_SIZE = 400 * 1024
#: Containers (M, L) nest at most this deep inside an attribute value.
MAX_NESTING = 32
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_DIGITS = 38
MAX_EXPONENT = 125  # 9.99..E+125 is the largest magnitude
MIN_EXPONENT = -130  # 1E-130 is the smallest non-zero magnitude

INVALID = "One or more parameter values were invalid: "
EMPTY_VALUE = (
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
)
TWO_TYPES = (
    "Supplied AttributeValue has more than one datatypes set, "
    "must contain exactly one of the supported datatypes"
)
NOT_A_NUMBER = "The parameter cannot be converted to a numeric value"
TOO_MANY_DIGITS = "Attempting to store more than 38 significant digits in a Number"
OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"
ITEM_TO_UPDATE_TOO_LARGE = "Item size to update has exceeded the maximum allowed size"


class ValidationError(ValueError):
    """A request DynamoDB would refuse with a ValidationException; ``message`` is its text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SerializationError(ValidationError):
    """JSON of the wrong shape for an attribute value (DynamoDB: SerializationException)."""


# numbers

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _digits_and_exponent(number: Decimal) -> tuple[str, int]:
    """The significant digits (no leading or trailing zeros) and the adjusted exponent."""
    digits = "".join(map(str, number.as_tuple().digits)).lstrip("0").rstrip("0")
    return digits, number.adjusted()


def parse_number(text: object) -> Decimal:
    """The value of a DynamoDB number string, refused with DynamoDB's messages."""
    if not isinstance(text, str):
        raise SerializationError(f"{NOT_A_NUMBER}: {text!r}")
    if not text:
        raise ValidationError(NOT_A_NUMBER)
    if not _NUMBER.fullmatch(text):
        raise ValidationError(f"{NOT_A_NUMBER}: {text}")
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent too long for the decimal module
        mantissa, _, power = text.lower().partition("e")
        if not mantissa.strip("+-.0"):
            return Decimal(0)
        raise ValidationError(UNDERFLOW if power.startswith("-") else OVERFLOW) from None
    if number.is_zero():
        return Decimal(0)
    digits, exponent = _digits_and_exponent(number)
    if exponent > MAX_EXPONENT:
        raise ValidationError(OVERFLOW)
    if exponent < MIN_EXPONENT:
        raise ValidationError(UNDERFLOW)
    if len(digits) > MAX_DIGITS:
        raise ValidationError(TOO_MANY_DIGITS)
    return number


def format_number(number: Decimal) -> str:
    """``number`` as DynamoDB returns it: plain notation, no trailing zeros, no ``-0``."""
    if number.is_zero():
        return "0"
    digits, exponent = _digits_and_exponent(number)
    if exponent >= 0:
        whole = digits[: exponent + 1].ljust(exponent + 1, "0")
        fraction = digits[exponent + 1 :]
        text = whole + ("." + fraction if fraction else "")
    else:
        text = "0." + "0" * (-exponent - 1) + digits
    return "-" + text if number.is_signed() else text


#: Integers already in DynamoDB's form (no sign but minus, no leading zero, at most 38
#: digits): the common case, which needs no Decimal to validate or normalise.
_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")


def normalize_number(text: object) -> str:
    """A number string validated and normalised (``"1.50"`` is ``"1.5"``)."""
    if isinstance(text, str) and _PLAIN_INTEGER.fullmatch(text):
        return text
    return format_number(parse_number(text))


def number_value(number: Decimal) -> AttributeValue:
    """``{"N": ...}`` for the result of arithmetic, validated like a stored number."""
    return {"N": normalize_number(format_number(number))}


def add_numbers(left: str, right: str, *, subtract: bool = False) -> AttributeValue:
    """``left + right`` (or ``-``) exactly; a result DynamoDB cannot store is refused."""
    with localcontext() as context:
        context.prec = 400  # wider than any two storable numbers' exact sum
        a, b = parse_number(left), parse_number(right)
        return number_value(a - b if subtract else a + b)


# binary


def decode_binary(text: object) -> bytes:
    """The bytes of a base64 ``B`` value."""
    if isinstance(text, bytes | bytearray):
        return bytes(text)
    if not isinstance(text, str):
        raise SerializationError(f"Invalid binary value: {text!r}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationError(
            f"'{text}' can not be converted to a Blob: invalid Base64 encoding"
        ) from None


def encode_binary(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# validation


def value_type(value: AttributeValue) -> str:
    """The type key of an already valid value (``"S"``, ``"N"``, ...)."""
    return next(iter(value))


def validate_value(value: object, *, depth: int = 0) -> AttributeValue:
    """``value`` checked as DynamoDB checks it, returned with its numbers normalised.

    Raises :class:`ValidationError` with DynamoDB's message, or a
    :class:`SerializationError` for JSON of the wrong shape.
    """
    if not isinstance(value, Mapping):
        raise SerializationError("Start of structure or map found where not expected")
    present = [key for key in value if key in TYPES and value[key] is not None]
    if not present:
        raise ValidationError(EMPTY_VALUE)
    if len(present) > 1:
        raise ValidationError(TWO_TYPES)
    kind = present[0]
    data = value[kind]
    if kind == "S":
        if not isinstance(data, str):
            raise SerializationError("S must be a string")
        return {"S": data}
    if kind == "N":
        return {"N": normalize_number(data)}
    if kind == "B":
        decode_binary(data)
        return {"B": data}
    if kind == "BOOL":
        if not isinstance(data, bool):
            raise SerializationError("BOOL must be true or false")
        return {"BOOL": data}
    if kind == "NULL":
        if data is not True:
            raise ValidationError(
                INVALID + "Null attribute value types must have the value of true"
            )
        return {"NULL": True}
    if kind in ("M", "L"):
        return _validate_container(kind, data, depth)
    return _validate_set(kind, data)


def _validate_container(kind: str, data: object, depth: int) -> AttributeValue:
    if depth >= MAX_NESTING:
        raise ValidationError(TOO_DEEP)
    if kind == "M":
        if not isinstance(data, Mapping):
            raise SerializationError("M must be a map")
        members: dict[str, AttributeValue] = {}
        for name, member in data.items():
            if not isinstance(name, str):
                raise SerializationError("map keys must be strings")
            members[name] = validate_value(member, depth=depth + 1)
        return {"M": members}
    if not isinstance(data, list):
        raise SerializationError("L must be a list")
    return {"L": [validate_value(member, depth=depth + 1) for member in data]}


def _validate_set(kind: str, data: object) -> AttributeValue:
    if not isinstance(data, list):
        raise SerializationError(f"{kind} must be a list")
    if not data:
        empty = {
            "SS": "An string set  may not be empty",
            "NS": "An number set  may not be empty",
            "BS": "Binary sets should not be empty",
        }
        raise ValidationError(INVALID + empty[kind])
    if kind == "SS":
        if not all(isinstance(member, str) for member in data):
            raise SerializationError("SS members must be strings")
        if "" in data:
            raise ValidationError(INVALID + "An string set may not have a empty string as a member")
        if len(set(data)) != len(data):
            raise ValidationError(
                INVALID + f"Input collection [{', '.join(data)}] contains duplicates."
            )
        return {"SS": list(data)}
    if kind == "NS":
        numbers = [normalize_number(member) for member in data]
        if len(set(numbers)) != len(numbers):
            raise ValidationError("Input collection contains duplicates")
        return {"NS": numbers}
    raw = [decode_binary(member) for member in data]
    if any(not member for member in raw):
        raise ValidationError(INVALID + "Binary sets may not contain null or empty values")
    if len(set(raw)) != len(raw):
        listed = ", ".join(str(member) for member in data)
        raise ValidationError(
            INVALID + f"Input collection [{listed}]of type BS contains duplicates."
        )
    return {"BS": list(data)}


def validate_item(item: object) -> Item:
    """Every attribute of ``item`` validated (numbers normalised), in a new dict."""
    if not isinstance(item, Mapping):
        raise SerializationError("Start of structure or map found where not expected")
    checked: Item = {}
    for name, value in item.items():
        if not isinstance(name, str):
            raise SerializationError("attribute names must be strings")
        checked[name] = validate_value(value)
    return checked


def check_key_attribute(
    name: str, value: AttributeValue, expected_type: str, *, partition: bool
) -> None:
    """A key attribute of ``expected_type`` (S, N or B) within DynamoDB's key limits."""
    actual = value_type(value)
    if actual != expected_type:
        raise ValidationError(
            INVALID + f"Type mismatch for key {name} expected: {expected_type} actual: {actual}"
        )
    if actual == "N":
        return
    raw = (
        value["S"].encode("utf-8", "surrogatepass") if actual == "S" else decode_binary(value["B"])
    )
    if not raw:
        what = "string" if actual == "S" else "binary"
        raise ValidationError(
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            f"cannot contain an empty {what} value. Key: {name}"
        )
    if partition and len(raw) > MAX_PARTITION_KEY_BYTES:
        raise ValidationError(
            INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes"
        )
    if not partition and len(raw) > MAX_SORT_KEY_BYTES:
        raise ValidationError(
            INVALID + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
        )


# equality and order


def set_member_key(kind: str, member: str) -> object:
    """What makes two members of a set of ``kind`` the same (numbers by value)."""
    if kind == "NS":
        return parse_number(member)
    if kind == "BS":
        return decode_binary(member)
    return member


def set_members(value: AttributeValue) -> set[object]:
    """The members of a set value, by identity (see :func:`set_member_key`)."""
    kind = value_type(value)
    return {set_member_key(kind, member) for member in value[kind]}


def values_equal(left: AttributeValue, right: AttributeValue) -> bool:
    """DynamoDB's ``=``: same type and same value (numbers by value, sets unordered)."""
    kind = value_type(left)
    if kind != value_type(right):
        return False
    if kind == "N":
        return parse_number(left["N"]) == parse_number(right["N"])
    if kind == "B":
        return decode_binary(left["B"]) == decode_binary(right["B"])
    if kind in SET_TYPES:
        return set_members(left) == set_members(right)
    if kind == "L":
        a, b = left["L"], right["L"]
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "M":
        a, b = left["M"], right["M"]
        return a.keys() == b.keys() and all(values_equal(a[key], b[key]) for key in a)
    return bool(left[kind] == right[kind])


def compare_values(left: AttributeValue, right: AttributeValue) -> int | None:
    """-1, 0 or 1 for two N, two S or two B values; None for any other pair."""
    kind = value_type(left)
    if kind != value_type(right) or kind not in SCALAR_KEY_TYPES:
        return None
    a: Any
    b: Any
    if kind == "N":
        a, b = parse_number(left["N"]), parse_number(right["N"])
    elif kind == "B":
        a, b = decode_binary(left["B"]), decode_binary(right["B"])
    else:
        a, b = left["S"], right["S"]
    order: int = (a > b) - (a < b)
    return order


def set_contains(container: AttributeValue, member: AttributeValue) -> bool:
    """Whether a set holds ``member`` (of the set's element type)."""
    kind = value_type(container)
    if SET_TYPES.get(kind) != value_type(member):
        return False
    return set_member_key(kind, member[SET_TYPES[kind]]) in set_members(container)


# key encoding


def key_bytes(value: AttributeValue) -> bytes:
    """Bytes of an S, N or B key value whose bytewise order is DynamoDB's order."""
    kind = value_type(value)
    if kind == "S":
        return str(value["S"]).encode("utf-8", "surrogatepass")
    if kind == "B":
        return decode_binary(value["B"])
    if kind == "N":
        return _number_key(parse_number(value["N"]))
    raise ValidationError(f"{kind} is not a key type")


def _number_key(number: Decimal) -> bytes:
    if number.is_zero():
        return b"\x02"
    digits, exponent = _digits_and_exponent(number)
    if len(digits) % 2:
        digits += "0"  # a trailing zero is never significant, so padding is unambiguous
    packed = [int(digits[i : i + 2]) + 1 for i in range(0, len(digits), 2)]  # 1..100
    biased = exponent - MIN_EXPONENT  # 0..255 for every storable number
    if not number.is_signed():
        return bytes([0x03, biased, *packed])
    return bytes([0x01, 255 - biased, *(255 - byte for byte in packed), 0xFF])


# sizes


def number_size(text: str) -> int:
    """Bytes a stored number takes: base-100 digits aligned on the point, plus one."""
    number = parse_number(text)
    if number.is_zero():
        return 1
    digits, exponent = _digits_and_exponent(number)
    last = exponent - len(digits) + 1  # the power of ten of the last significant digit
    pairs = exponent // 2 - last // 2 + 1
    return min(pairs + 1 + (1 if number.is_signed() else 0), 21)


def value_size(value: AttributeValue) -> int:
    """The size DynamoDB counts for an attribute value (its name not included)."""
    kind = value_type(value)
    data = value[kind]
    if kind == "S":
        return len(data.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(decode_binary(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode("utf-8", "surrogatepass")) for member in data)
    if kind == "NS":
        return sum(number_size(member) for member in data)
    if kind == "BS":
        return sum(len(decode_binary(member)) for member in data)
    if kind == "L":
        return 3 + sum(value_size(member) + 1 for member in data)
    return 3 + sum(
        len(name.encode("utf-8", "surrogatepass")) + value_size(member) + 1
        for name, member in data.items()
    )


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """The size of an item as DynamoDB computes it (names plus values)."""
    return sum(
        len(name.encode("utf-8", "surrogatepass")) + value_size(value)
        for name, value in item.items()
    )


def check_item_size(item: Mapping[str, AttributeValue], *, message: str = ITEM_TOO_LARGE) -> int:
    """The item's size; refused over 400 KB (UpdateItem passes ITEM_TO_UPDATE_TOO_LARGE)."""
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise ValidationError(message)
    return size


def copy_value(value: AttributeValue) -> AttributeValue:
    """A deep copy of a valid value (cheaper than ``copy.deepcopy`` for this shape)."""
    kind = value_type(value)
    if kind == "M":
        return {"M": {name: copy_value(member) for name, member in value["M"].items()}}
    if kind == "L":
        return {"L": [copy_value(member) for member in value["L"]]}
    if kind in SET_TYPES:
        return {kind: list(value[kind])}
    return {kind: value[kind]}


def copy_item(item: Mapping[str, AttributeValue]) -> Item:
    return {name: copy_value(value) for name, value in item.items()}


def merge_sets(kind: str, groups: Iterable[list[str]]) -> list[str]:
    """Members of several sets of ``kind``, first occurrence kept, duplicates dropped."""
    seen: set[object] = set()
    merged: list[str] = []
    for group in groups:
        for member in group:
            identity = set_member_key(kind, member)
            if identity not in seen:
                seen.add(identity)
                merged.append(member)
    return merged
