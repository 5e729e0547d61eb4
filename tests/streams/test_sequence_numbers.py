"""Sequence numbers, hash keys and UpdateShardCount's plan: pure functions."""

from __future__ import annotations

import pytest

from gureum.streams import hash_keys, sequence_numbers
from gureum.streams.resharding import Merge, Split, uniform_plan


def test_sequence_numbers_are_56_digits_and_carry_where_they_came_from() -> None:
    text = sequence_numbers.sequence_number(1_796_306_400, 3, 42)
    assert len(text) == 56 and text.isdigit() and text.startswith("49")
    assert sequence_numbers.parse(text) == sequence_numbers.SequenceNumber(1_796_306_400, 3, 42)


def test_sequence_numbers_increase_in_a_shard_and_from_parent_to_child() -> None:
    numbers = [sequence_numbers.sequence_number(1_796_306_400, 0, p) for p in range(1, 200)]
    assert numbers == sorted(numbers, key=int)
    parent = sequence_numbers.sequence_number(1_796_306_400, 0, 10**12)
    assert int(sequence_numbers.sequence_number(1_796_306_400, 1, 1)) > int(parent)


@pytest.mark.parametrize(
    "text",
    ["", "1", "4" * 56, "49" + "x" * 54, "49" + "0" * 53, "49" + "9" * 54, "٤٩" + "0" * 54],
)
def test_numbers_not_handed_out_are_refused(text: str) -> None:
    assert sequence_numbers.parse(text) is None


def test_shard_ids() -> None:
    assert sequence_numbers.shard_id(7) == "shardId-000000000007"
    assert sequence_numbers.shard_index("shardId-000000000007") == 7
    for text in ("shardId-7", "shard-000000000007", "shardId-00000000000x", "x"):
        assert sequence_numbers.shard_index(text) is None


def test_hash_keys_as_kinesis_computes_them() -> None:
    # MD5("a") = 0cc175b9c0f1b6a831c399e269772661
    assert hash_keys.hash_key("a") == 0x0CC175B9C0F1B6A831C399E269772661
    assert hash_keys.uniform_ranges(1) == [(0, hash_keys.MAX_HASH_KEY)]
    three = hash_keys.uniform_ranges(3)
    # Kinesis's own layout of three shards.
    assert three[1] == (
        113427455640312821154458202477256070485,
        226854911280625642308916404954512140969,
    )
    assert three[2][1] == hash_keys.MAX_HASH_KEY
    starts = [start for start, _ in three]
    assert hash_keys.covering(starts, 0) == 0
    assert hash_keys.covering(starts, three[1][0]) == 1
    assert hash_keys.covering(starts, hash_keys.MAX_HASH_KEY) == 2


def _apply(ranges: list[tuple[int, int]], plan: list[Split | Merge]) -> list[tuple[int, int]]:
    layout = sorted(ranges)
    for step in plan:
        if isinstance(step, Split):
            [(start, end)] = [r for r in layout if r[0] == step.start]
            layout.remove((start, end))
            layout += [(start, step.new_start - 1), (step.new_start, end)]
        else:
            [left] = [r for r in layout if r[0] == step.start]
            [right] = [r for r in layout if r[0] == step.adjacent]
            assert left[1] + 1 == right[0]  # (only adjacent shards merge)
            layout.remove(left)
            layout.remove(right)
            layout.append((left[0], right[1]))
        layout.sort()
    return layout


@pytest.mark.parametrize(("current", "target"), [(1, 2), (2, 1), (3, 4), (4, 3), (5, 10), (8, 4)])
def test_uniform_plan_reaches_an_even_layout(current: int, target: int) -> None:
    start = hash_keys.uniform_ranges(current)
    assert _apply(start, uniform_plan(start, target)) == hash_keys.uniform_ranges(target)


def test_uniform_plan_from_an_uneven_layout() -> None:
    start = [(0, 9), (10, 2**127), (2**127 + 1, hash_keys.MAX_HASH_KEY)]
    assert _apply(start, uniform_plan(start, 2)) == hash_keys.uniform_ranges(2)
    assert uniform_plan(hash_keys.uniform_ranges(2), 2) == []
