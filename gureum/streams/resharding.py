"""UpdateShardCount's UNIFORM_SCALING as Kinesis does it: a series of splits and merges.

Every child of a split or a merge has at most two parents, which is all that a shard's
``ParentShardId`` and ``AdjacentParentShardId`` can name; a reader that finishes a
shard's parents before the shard keeps each key's order. To reach an even layout of
``target`` shards, each open shard that straddles a boundary of the target layout is
split at it, then the shards between two boundaries are merged, left to right, into
one. The plan names shards by the first hash key of their range, which stays unique
among open shards as the plan goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from gureum.streams.hash_keys import uniform_ranges


@dataclass(frozen=True, slots=True)
class Split:
    """Split the open shard starting at ``start`` at ``new_start``."""

    start: int
    new_start: int


@dataclass(frozen=True, slots=True)
class Merge:
    """Merge the open shard starting at ``start`` with the adjacent one at ``adjacent``."""

    start: int
    adjacent: int


def uniform_plan(ranges: list[tuple[int, int]], target: int) -> list[Split | Merge]:
    """The splits and merges that turn open shards over ``ranges`` (tiling the key space)
    into ``target`` evenly spread shards."""
    layout = sorted(ranges)
    plan: list[Split | Merge] = []
    boundaries = [start for start, _ in uniform_ranges(target)]
    for boundary in boundaries[1:]:
        for start, end in layout:
            if start < boundary <= end:
                plan.append(Split(start, boundary))
                layout.remove((start, end))
                layout += [(start, boundary - 1), (boundary, end)]
                layout.sort()
                break
    for low, high in uniform_ranges(target):
        inside = [(start, end) for start, end in layout if low <= start and end <= high]
        while len(inside) > 1:
            (first, _), (second, end) = inside[0], inside[1]
            plan.append(Merge(first, second))
            inside[:2] = [(first, end)]
    return plan
