"""Kinesis's request rules, without a server: AWS's validation wording, a record's
size with its partition key, hash keys and their bounds."""

from __future__ import annotations

import base64

import pytest

from gureum.errors import InvalidArgumentException, ValidationException
from gureum.frontend import kinesis_rules as rules
from gureum.streams import hash_keys


def test_a_member_outside_its_constraints_in_aws_wording() -> None:
    with pytest.raises(ValidationException) as caught:
        rules.string({"StreamName": "a b"}, "StreamName", 1, 128, rules.STREAM_NAME)
    assert caught.value.message == (
        "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    with pytest.raises(ValidationException, match="Member must not be null"):
        rules.integer({}, "RetentionPeriodHours", required=True)
    with pytest.raises(ValidationException, match="less than or equal to 10000"):
        rules.integer({"Limit": 10001}, "Limit", 1, 10000)
    with pytest.raises(ValidationException, match="enum value set"):
        rules.enum("X", "shardIteratorType", rules.ITERATOR_TYPES)
    with pytest.raises(ValidationException):
        rules.integer({"Limit": True}, "Limit", 1)


def test_a_record_counts_its_partition_key_in_its_megabyte() -> None:
    def record(size: int, key: str = "k") -> dict[str, str]:
        return {"Data": base64.b64encode(b"x" * size).decode(), "PartitionKey": key}

    entry = rules.entry(record(10), "")
    assert (entry.size, entry.hash_key) == (10, hash_keys.hash_key("k"))
    rules.entry(record(rules.MAX_RECORD_BYTES - 1), "")
    with pytest.raises(ValidationException, match="records.1.member.data"):
        rules.entry(record(rules.MAX_RECORD_BYTES), "records.1.member.")
    with pytest.raises(ValidationException, match="not base64"):
        rules.entry({"Data": "!!", "PartitionKey": "k"}, "")


def test_explicit_hash_keys() -> None:
    top = str(hash_keys.MAX_HASH_KEY)
    assert rules.entry({"Data": "", "PartitionKey": "k", "ExplicitHashKey": top}, "").hash_key == (
        hash_keys.MAX_HASH_KEY
    )
    with pytest.raises(InvalidArgumentException, match=r"\[0, 2\^128-1\]"):
        rules.hash_key({"ExplicitHashKey": str(hash_keys.MAX_HASH_KEY + 1)}, "explicitHashKey")
    with pytest.raises(ValidationException, match="regular expression"):
        rules.hash_key({"ExplicitHashKey": "01"}, "explicitHashKey")


def test_tags() -> None:
    assert rules.tags({"a": ""}) == {"a": ""}
    with pytest.raises(ValidationException, match="greater than or equal to 1"):
        rules.tags({})
    with pytest.raises(ValidationException, match="less than or equal to 50"):
        rules.tag_keys([f"k{i}" for i in range(51)])
