"""Kinesis's sequence numbers: 56-digit decimal strings, increasing in each shard.

A number is ``49``, the stream's key (10 digits: a digest of its name and creation time,
:func:`stream_key`), the shard's index (12 digits) and the record's position in its shard
(32 digits). It is pure arithmetic
both ways, so a reader's number says which stream and shard it came from (a number
from another shard, or from an older stream of the same name, is refused as Kinesis
refuses it) and where to read from, without looking anything up. The children of a
resharding have higher indexes than their parents, so a key's numbers keep increasing
across it, as on Kinesis.

Positions start at 1; position 0 is a shard's StartingSequenceNumber (before its first
record), so that ``AT_`` and ``AFTER_SEQUENCE_NUMBER`` of it both read from the start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "49"
DIGITS = 56
_KEY_DIGITS = 10
_SHARD_DIGITS = 12
_POSITION_DIGITS = 32
#: Positions are stored as 64-bit integers.
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True, slots=True)
class SequenceNumber:
    """What a sequence number carries."""

    stream_key: int
    shard_index: int
    position: int

    def __str__(self) -> str:
        return (
            f"{PREFIX}{self.stream_key:0{_KEY_DIGITS}d}"
            f"{self.shard_index:0{_SHARD_DIGITS}d}{self.position:0{_POSITION_DIGITS}d}"
        )


def stream_key(name: str, created_ms: int) -> int:
    """The 10 digits that tell a stream's numbers from any other stream's, and from an
    older stream's of the same name."""
    digest = hashlib.md5(f"{name}:{created_ms}".encode()).digest()
    key: int = int.from_bytes(digest[:8], "big") % 10_000_000_000  # (_KEY_DIGITS)
    return key


def sequence_number(stream_key: int, shard_index: int, position: int) -> str:
    """The number of the record at ``position`` of a shard."""
    return str(SequenceNumber(stream_key, shard_index, position))


def parse(text: str) -> SequenceNumber | None:
    """What ``text`` carries, or None when it is no number this server hands out."""
    if len(text) != DIGITS or not text.isascii() or not text.isdigit():
        return None
    if not text.startswith(PREFIX):
        return None
    at = len(PREFIX)
    key = int(text[at : at + _KEY_DIGITS])
    at += _KEY_DIGITS
    shard = int(text[at : at + _SHARD_DIGITS])
    position = int(text[at + _SHARD_DIGITS :])
    if position > MAX_POSITION:
        return None
    return SequenceNumber(key, shard, position)


def shard_id(index: int) -> str:
    """A shard's id as Kinesis names them (``shardId-000000000000``)."""
    return f"shardId-{index:012d}"


def shard_index(text: str) -> int | None:
    """The index in a shard id, or None when ``text`` is no shard id."""
    prefix, _, digits = text.partition("-")
    if prefix != "shardId" or len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)
