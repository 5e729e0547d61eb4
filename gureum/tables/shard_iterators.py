"""Shard iterators: opaque strings that carry where a reader of a stream is.

An iterator names its stream, its shard, the position it reads next and when it was
handed out (it expires after ``lifetime_ms``: 15 minutes for DynamoDB's, 5 for
Kinesis's). It is the stream's ARN, as DynamoDB's begin, then the rest as base64 of
JSON. Nothing is kept on the server, so any node of a cluster takes any node's
iterators; an iterator is not signed, and a forged one can only read a stream that its
caller could read anyway. The tables' streams and the Kinesis streams
(:mod:`gureum.streams`) both hand out these.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

#: A DynamoDB Streams iterator is good for this long after GetShardIterator or
#: GetRecords handed it out.
ITERATOR_MS = 15 * 60 * 1000


class InvalidIterator(ValueError):
    """The string is not an iterator this server handed out."""


@dataclass(frozen=True, slots=True)
class ShardIterator:
    stream_arn: str
    shard_id: str
    #: The sequence number read next (records at or after it).
    position: int
    issued_ms: int
    #: Which stream of that ARN it reads (Kinesis: a stream deleted and made again under
    #: its name is another stream); None for the tables' streams, whose ARNs differ.
    stream_key: int | None = None

    def expired(self, now_ms: int, lifetime_ms: int = ITERATOR_MS) -> bool:
        return now_ms - self.issued_ms > lifetime_ms


def encode(iterator: ShardIterator) -> str:
    parts: list[object] = [iterator.shard_id, iterator.position, iterator.issued_ms]
    if iterator.stream_key is not None:
        parts.append(iterator.stream_key)
    body = orjson.dumps(parts)
    return f"{iterator.stream_arn}|1|{base64.urlsafe_b64encode(body).decode()}"


def decode(text: str, service: str = "dynamodb") -> ShardIterator:
    """The iterator ``text`` carries for a stream of ``service`` (``dynamodb``,
    ``kinesis``); InvalidIterator when it carries none."""
    arn, _, rest = text.rpartition("|1|")
    if not arn.startswith(f"arn:aws:{service}:") or "stream/" not in arn:
        raise InvalidIterator(text)
    try:
        parts = orjson.loads(base64.urlsafe_b64decode(rest))
        shard_id, position, issued_ms, *key = parts
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError):
        raise InvalidIterator(text) from None
    if not (
        isinstance(shard_id, str)
        and type(position) is int
        and position >= 1
        and type(issued_ms) is int
        and (key == [] or (len(key) == 1 and type(key[0]) is int))
    ):
        raise InvalidIterator(text)
    return ShardIterator(arn, shard_id, position, issued_ms, key[0] if key else None)
