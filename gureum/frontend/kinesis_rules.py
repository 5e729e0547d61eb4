"""Kinesis's request rules as pure functions: its limits, its member checks, and the
errors and messages it answers for them (the API's operations are in ``kinesis_api``).

A member outside its model's constraints is a ValidationException in AWS's "1
validation error detected" wording; what breaks Kinesis's own rules an
InvalidArgumentException.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from gureum.errors import InvalidArgumentException, ValidationException
from gureum.streams import hash_keys
from gureum.streams.writes import Entry

#: Kinesis's iterators and ListShards' tokens are good for five minutes.
ITERATOR_MS = 5 * 60 * 1000
NEXT_TOKEN_MS = 5 * 60 * 1000
MIN_RETENTION_HOURS = 24
#: Kinesis's default quota of ON_DEMAND streams, which DescribeLimits reports.
ON_DEMAND_STREAM_LIMIT = 50
#: A record's data and partition key together, and a PutRecords request's records.
MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
MAX_PUT_RECORDS = 500
MAX_GET_RECORDS = 10_000
STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
STREAM_ARN = re.compile(r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+")
RESOURCE_ARN = re.compile(r"arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+")
SHARD_ID = re.compile(r"[a-zA-Z0-9_.-]+")
HASH_KEY = re.compile(r"0|([1-9]\d{0,38})")
SEQUENCE = re.compile(r"0|([1-9]\d{0,128})")
ITERATOR_TYPES = (
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
)
FILTER_TYPES = (
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
)
MODES = ("PROVISIONED", "ON_DEMAND")


def invalid(value: object, member: str, rule: str) -> ValidationException:
    shown = "null" if value is None else f"'{value}'"
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def member_name(name: str) -> str:
    return name[0].lower() + name[1:]


def string(
    params: Mapping[str, Any],
    name: str,
    low: int,
    high: int,
    pattern: re.Pattern[str] | None = None,
    *,
    required: bool = False,
    member: str | None = None,
) -> str | None:
    member = member or member_name(name)
    value = params.get(name)
    if value is None:
        if required:
            raise invalid(None, member, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise ValidationException(f"Invalid value for {name}: it must be a string")
    if len(value) < low:
        raise invalid(value, member, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        raise invalid(value, member, f"Member must have length less than or equal to {high}")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(
            value, member, f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )
    return value


def required(params: Mapping[str, Any], name: str, low: int, high: int) -> str:
    value = string(params, name, low, high, required=True)
    assert value is not None
    return value


def integer(
    params: Mapping[str, Any],
    name: str,
    low: int | None = None,
    high: int | None = None,
    *,
    required: bool = False,
) -> int | None:
    member = member_name(name)
    value = params.get(name)
    if value is None:
        if required:
            raise invalid(None, member, "Member must not be null")
        return None
    if type(value) is not int:
        raise ValidationException(f"Invalid value for {name}: it must be an integer")
    if low is not None and value < low:
        raise invalid(value, member, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise invalid(value, member, f"Member must have value less than or equal to {high}")
    return value


def timestamp(value: object, name: str) -> int:
    """A JSON timestamp (epoch seconds, as botocore sends them) in milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationException(f"Invalid value for {name}: it must be a timestamp")
    return int(value * 1000)


def enum(value: object, member: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    assert isinstance(value, str)
    return value


def tags(value: object, member: str = "tags") -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationException("Invalid value for Tags: it must be a map")
    if not value:
        raise invalid("{}", member, "Member must have length greater than or equal to 1")
    if len(value) > 200:
        raise invalid("{...}", member, "Member must have length less than or equal to 200")
    tags: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str):
            raise ValidationException("Invalid value for Tags: values must be strings")
        if not 1 <= len(key) <= 128:
            raise invalid(key, f"{member}.key", "Member must have length less than or equal to 128")
        if len(text) > 256:
            raise invalid(
                text, f"{member}.{key}.member", "Member must have length less than or equal to 256"
            )
        tags[key] = text
    return tags


def tag_keys(keys: object) -> list[str]:
    if keys is None:
        raise invalid(None, "tagKeys", "Member must not be null")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValidationException("Invalid value for TagKeys: it must be a list of strings")
    if not keys:
        raise invalid("[]", "tagKeys", "Member must have length greater than or equal to 1")
    if len(keys) > 50:
        raise invalid("[...]", "tagKeys", "Member must have length less than or equal to 50")
    return keys


def data(value: object, member: str) -> tuple[str, int]:
    """Base64 data as botocore sends it: (the text, kept as it came; its size in bytes)."""
    if value is None:
        raise invalid(None, member, "Member must not be null")
    if not isinstance(value, str):
        raise ValidationException(f"Invalid value for {member}: it must be base64 text")
    try:
        size = len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ValidationException(f"Invalid value for {member}: it is not base64") from None
    return value, size


def hash_key(params: Mapping[str, Any], member: str) -> int | None:
    text = string(params, "ExplicitHashKey", 0, 64, HASH_KEY, member=member)
    if text is None:
        return None
    key = int(text)
    if key > hash_keys.MAX_HASH_KEY:
        raise InvalidArgumentException(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {text}"
        )
    return key


def entry(params: Mapping[str, Any], prefix: str) -> Entry:
    """A record to write, as PutRecord or one of PutRecords' ``Records`` gives it."""
    key = string(params, "PartitionKey", 1, 256, required=True, member=f"{prefix}partitionKey")
    assert key is not None
    text, size = data(params.get("Data"), f"{prefix}data")
    if size + len(key.encode()) > MAX_RECORD_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at '{prefix}data' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}"
        )
    explicit = hash_key(params, f"{prefix}explicitHashKey")
    return Entry(key, text, size, hash_keys.hash_key(key) if explicit is None else explicit)
