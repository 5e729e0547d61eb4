"""Kinesis's per-shard limits: 1,000 records and 1 MiB a second written, 5 GetRecords
calls and 2 MiB a second read, each beyond answered ProvisionedThroughputExceeded.

The windows are tested at the store with a clock the test moves (on both engines, and
with two stores on one database, as two nodes share one PostgreSQL); the answers on the
wire with boto3."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gureum.errors import ProvisionedThroughputExceededException
from gureum.store import Store
from gureum.streams import hash_keys
from gureum.streams.stream_store import StreamStore
from gureum.streams.writes import Entry, Throttled, Written
from tests.conftest import (
    RunningServer,
    client,
    make_settings,
    server_on,
    unique_name,
)

KIB = 1024


class Clock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


def _entry(size: int, key: str = "k") -> Entry:
    data = base64.b64encode(b"x" * size).decode()
    return Entry(key, data, size, hash_keys.hash_key(key))


def _streams(store: Store, clock: Clock, *, limited: bool = True) -> StreamStore:
    return StreamStore(
        store, region="us-east-1", account_id="000000000000", clock=clock, limited=limited
    )


def _throttled(results: list[Written | Throttled]) -> list[bool]:
    return [isinstance(r, Throttled) for r in results]


def test_a_shard_takes_a_thousand_records_a_second(store: Store) -> None:
    clock = Clock()
    streams = _streams(store, clock)

    async def run() -> None:
        await streams.create("s", 1, "PROVISIONED", {})
        assert not any(_throttled(await streams.put("s", [_entry(1)] * 500)))
        clock.ms += 999  # (the same second)
        results = await streams.put("s", [_entry(1)] * 501)
        assert _throttled(results) == [False] * 500 + [True]
        throttled = results[-1]
        assert isinstance(throttled, Throttled)
        assert throttled.shard_id == "shardId-000000000000"
        assert all(_throttled(await streams.put("s", [_entry(1)])))
        # The next second takes a thousand more; what was throttled was not written.
        clock.ms += 1
        assert not any(_throttled(await streams.put("s", [_entry(1)] * 1000)))
        _, [shard] = await streams.shards("s")
        assert shard.last_position == 2000

    asyncio.run(run())


def test_a_shard_takes_a_mebibyte_a_second_keys_counted(store: Store) -> None:
    clock = Clock()
    streams = _streams(store, clock)

    async def run() -> None:
        await streams.create("s", 1, "PROVISIONED", {})
        key = "k" * 100  # (a partition key's bytes count with the data's)
        half = 512 * KIB - 100
        results = await streams.put("s", [_entry(half, key), _entry(half, key), _entry(1, key)])
        assert _throttled(results) == [False, False, True]
        # A record that fits still goes in after one that did not, in the same call.
        clock.ms += 1000
        results = await streams.put("s", [_entry(1000 * KIB), _entry(100 * KIB), _entry(1)])
        assert _throttled(results) == [False, True, False]

    asyncio.run(run())


def test_each_shard_has_its_own_limit(store: Store) -> None:
    clock = Clock()
    streams = _streams(store, clock)

    async def run() -> None:
        await streams.create("s", 2, "PROVISIONED", {})
        _, shards = await streams.shards("s")
        keys: dict[int, str] = {}
        for n in range(200):  # a partition key for each shard
            index = hash_keys.covering(
                [int(s.hash_start) for s in shards], hash_keys.hash_key(str(n))
            )
            keys.setdefault(index, str(n))
        first, second = keys[0], keys[1]
        for _ in range(2):
            assert not any(_throttled(await streams.put("s", [_entry(1, first)] * 500)))
        results = await streams.put("s", [_entry(1, first), _entry(1, second)])
        assert _throttled(results) == [True, False]

    asyncio.run(run())


def test_two_nodes_count_against_one_limit(store: Store) -> None:
    """Two stores on one database, as two gureum processes on one PostgreSQL: what one
    wrote or read this second counts for the other."""
    clock = Clock()
    one, other = _streams(store, clock), _streams(store, clock)

    async def run() -> None:
        await one.create("s", 1, "PROVISIONED", {})
        assert not any(_throttled(await one.put("s", [_entry(1)] * 600)))
        assert _throttled(await other.put("s", [_entry(1)] * 401)) == [False] * 400 + [True]
        for streams in (one, other, one, other, one):
            await streams.metered_read("s", 0, 1, 10)
        with pytest.raises(ProvisionedThroughputExceededException):
            await other.metered_read("s", 0, 1, 10)

    asyncio.run(run())


def test_five_reads_a_second_and_two_mebibytes(store: Store) -> None:
    clock = Clock()
    streams = _streams(store, clock)

    async def run() -> None:
        await streams.create("s", 1, "PROVISIONED", {})
        for _ in range(5):
            assert (await streams.metered_read("s", 0, 1, 10)).records == []
        with pytest.raises(ProvisionedThroughputExceededException) as refused:
            await streams.metered_read("s", 0, 1, 10)
        assert (
            refused.value.message == "Rate exceeded for Shard - 000000000000/s/shardId-000000000000"
        )
        # (the refused call does not count: the next second has its five)
        clock.ms += 1000
        # Three seconds' worth of writes (1 MiB each), read in one call: 3 MiB, paid for
        # until 1.5 s from now, so the next read waits half a second.
        for _ in range(3):
            assert not any(_throttled(await streams.put("s", [_entry(1000 * KIB)])))
            clock.ms += 1000
        page = await streams.metered_read("s", 0, 1, 10)
        assert len(page.records) == 3
        clock.ms += 400
        with pytest.raises(ProvisionedThroughputExceededException):
            await streams.metered_read("s", 0, 4, 10)
        clock.ms += 100
        assert (await streams.metered_read("s", 0, 4, 10)).records == []
        # The pollers of event source mappings read without being counted.
        for _ in range(10):
            await streams.read("s", 0, 1, 10)

    asyncio.run(run())


def test_unlimited_shards_take_and_give_all(store: Store) -> None:
    clock = Clock()
    streams = _streams(store, clock, limited=False)

    async def run() -> None:
        await streams.create("s", 1, "PROVISIONED", {})
        for _ in range(3):
            assert not any(_throttled(await streams.put("s", [_entry(1)] * 500)))
        for _ in range(10):
            await streams.metered_read("s", 0, 1, 10)

    asyncio.run(run())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server with Kinesis's limits (the default)."""
    with server_on(request.param, Path(tmp_path_factory.mktemp("limits"))) as server:
        yield server


def test_boto3_sees_kinesiss_answers(limited_server: RunningServer) -> None:
    kinesis = client("kinesis", limited_server.endpoint)
    name = unique_name("limited")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    big = b"x" * (700 * KIB)
    answer = kinesis.put_records(
        StreamName=name,
        Records=[{"Data": big, "PartitionKey": "a"}, {"Data": big, "PartitionKey": "a"}],
    )
    assert answer["FailedRecordCount"] == 1
    ok, refused = answer["Records"]
    assert ok["ShardId"] == "shardId-000000000000" and "ErrorCode" not in ok
    assert refused == {
        "ErrorCode": "ProvisionedThroughputExceededException",
        "ErrorMessage": f"Rate exceeded for shard shardId-000000000000 in stream {name} "
        "under account 000000000000.",
    }
    # PutRecord says it as an error (unless the second turned meanwhile).
    try:
        kinesis.put_record(StreamName=name, Data=big, PartitionKey="a")
    except kinesis.exceptions.ProvisionedThroughputExceededException as error:
        assert error.response["Error"]["Message"] == refused["ErrorMessage"]
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    shard_iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )["ShardIterator"]
    # Six reads within one second: the sixth is refused (each try starts a second).
    for _ in range(3):
        time.sleep(1 - time.time() % 1)
        started = int(time.time())
        try:
            for _ in range(6):
                kinesis.get_records(ShardIterator=shard_iterator)
        except kinesis.exceptions.ProvisionedThroughputExceededException as error:
            message = error.response["Error"]["Message"]
            assert message == f"Rate exceeded for Shard - 000000000000/{name}/shardId-000000000000"
            return
        assert int(time.time()) != started, "six reads in one second were all answered"
    pytest.fail("no try of six reads fit in one second")


def test_an_unlimited_server_takes_it_all(tmp_path: Path) -> None:
    server = RunningServer(make_settings(tmp_path, stream_throughput="unlimited"))
    server.start()
    try:
        kinesis: Any = client("kinesis", server.endpoint)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        big = b"x" * (900 * KIB)
        records = [{"Data": big, "PartitionKey": "a"} for _ in range(4)]
        assert kinesis.put_records(StreamName="s", Records=records)["FailedRecordCount"] == 0
    finally:
        server.stop()
