"""Shard iterators: what they carry comes back, anything else is refused, and they
expire after 15 minutes."""

from __future__ import annotations

import base64

import pytest

from gureum.tables.shard_iterators import (
    ITERATOR_MS,
    InvalidIterator,
    ShardIterator,
    decode,
    encode,
)

ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-12-03T14:00:00.000"
SHARD = "shardId-00000001796306400000-1a2b3c4d"


def test_round_trip() -> None:
    iterator = ShardIterator(ARN, SHARD, 42, 1_796_306_400_000)
    text = encode(iterator)
    assert text.startswith(ARN + "|1|")
    assert decode(text) == iterator


def test_round_trip_with_a_stream_key() -> None:
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
    iterator = ShardIterator(arn, "shardId-000000000000", 1, 1_796_306_400_000, 1234567890)
    assert decode(encode(iterator), "kinesis") == iterator
    with pytest.raises(InvalidIterator):
        decode(encode(iterator))  # (not a DynamoDB stream's)


def test_expiry() -> None:
    iterator = ShardIterator(ARN, SHARD, 1, 1000)
    assert not iterator.expired(1000 + ITERATOR_MS)
    assert iterator.expired(1001 + ITERATOR_MS)


def _body(raw: bytes) -> str:
    return f"{ARN}|1|{base64.urlsafe_b64encode(raw).decode()}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        f"arn:aws:sqs:us-east-1:000000000000:q|1|{encode(ShardIterator(ARN, SHARD, 1, 1))[-20:]}",
        f"{ARN}|1|",
        f"{ARN}|1|!!!",
        _body(b"not json"),
        _body(b'{"a": 1}'),
        _body(b'["s", 1]'),
        _body(b"[1, 1, 1]"),
        _body(b'["s", 0, 1]'),
        _body(b'["s", 1.5, 1]'),
        _body(b'["s", true, 1]'),
        _body(b'["s", 1, "1"]'),
        _body(b'["s", 1, 1, "key"]'),
        _body(b'["s", 1, 1, 2, 3]'),
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(InvalidIterator):
        decode(text)
