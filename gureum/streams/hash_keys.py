"""The 128-bit hash key space that a stream's open shards divide between them.

A record's hash key is the MD5 of its partition key (UTF-8) read as a big-endian
integer, or its ExplicitHashKey. Ranges are inclusive, as Kinesis's HashKeyRange.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence

#: The largest hash key (2^128 - 1).
MAX_HASH_KEY = 2**128 - 1
#: Hash keys are stored as fixed-width decimal strings, which sort as the numbers do.
WIDTH = 39


def hash_key(partition_key: str) -> int:
    """The hash key Kinesis maps ``partition_key`` to."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def stored(key: int) -> str:
    return f"{key:0{WIDTH}d}"


def uniform_ranges(count: int) -> list[tuple[int, int]]:
    """``count`` ranges covering the space evenly, as CreateStream and UpdateShardCount
    lay shards out (the last one takes the remainder)."""
    step = (MAX_HASH_KEY + 1) // count
    starts = [i * step for i in range(count)]
    ends = [start - 1 for start in starts[1:]] + [MAX_HASH_KEY]
    return list(zip(starts, ends, strict=True))


def covering(starts: Sequence[int], key: int) -> int:
    """The index in ``starts`` (the sorted starts of ranges that tile the space) of the
    range that holds ``key``."""
    return bisect.bisect_right(starts, key) - 1
