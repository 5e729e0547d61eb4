"""The store-level interface pollers read streams through, on both engines: pages of a
shard, a closed shard's end and children, and a write that races a resharding."""

from __future__ import annotations

import asyncio
import base64
import threading
import time

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.tables import kinesis_shards
from gureum.streams import hash_keys, sequence_numbers
from gureum.streams.stream_store import StreamStore, _shard
from gureum.streams.writes import Entry, Throttled, Written


def _entry(key: str, text: str, hash_key: int | None = None) -> Entry:
    data = base64.b64encode(text.encode()).decode()
    return Entry(key, data, len(text), hash_keys.hash_key(key) if hash_key is None else hash_key)


def _written(results: list[Written | Throttled]) -> list[Written]:
    """What :meth:`StreamStore.put` answered, every record written."""
    assert all(isinstance(r, Written) for r in results), results
    return [r for r in results if isinstance(r, Written)]


def _streams(store: Store) -> StreamStore:
    return StreamStore(store, region="us-east-1", account_id="000000000000")


def test_pages_of_a_shard_and_a_closed_shards_end(store: Store) -> None:
    streams = _streams(store)

    async def run() -> None:
        await streams.create("s", 1, "PROVISIONED", {})
        written = _written(await streams.put("s", [_entry("k", f"r{i}") for i in range(5)]))
        assert [w.shard_id for w in written] == ["shardId-000000000000"] * 5
        stream, [shard] = await streams.shards("s")
        assert shard.open and shard.last_position == 5 and shard.parents == []
        page = await streams.read("s", 0, 1, 2)
        assert [r.position for r in page.records] == [1, 2]
        assert [r.sequence_number for r in page.records] == [w.sequence_number for w in written[:2]]
        assert base64.b64decode(page.records[0].data) == b"r0"
        assert (page.next_position, page.ended) == (3, False)
        # A page holds at least one record, and no more bytes than asked beyond it.
        assert len((await streams.read("s", 0, 1, 100, max_bytes=1)).records) == 1
        await streams.split("s", "shardId-000000000000", 2**127)
        rest = await streams.read("s", 0, page.next_position, 100)
        assert [r.position for r in rest.records] == [3, 4, 5]
        assert rest.ended and rest.millis_behind == 0
        assert [c.shard_id for c in rest.children] == [
            "shardId-000000000001",
            "shardId-000000000002",
        ]
        assert all(c.parents == ["shardId-000000000000"] for c in rest.children)
        after = sequence_numbers.parse(written[-1].sequence_number)
        assert after is not None and after.position == 5
        assert (await streams.read("s", 0, after.position + 1, 100)).ended
        stamp = page.records[1].arrival_ms
        assert await streams.position_at("s", 0, stamp) <= 2
        assert await streams.position_at("s", 0, int(time.time() * 1000) + 60_000) == 6

    asyncio.run(run())


def test_a_write_racing_a_split_lands_in_the_children(store: Store) -> None:
    """A write that waits for a split's lock on its shard finds it closed, and is done
    again over the children: nothing lands in a closed shard."""
    streams = _streams(store)
    asyncio.run(streams.create("race", 1, "PROVISIONED", {}))
    asyncio.run(streams.put("race", [_entry("k", "before")]))
    results: list[list[Written | Throttled]] = []
    with store.engine.begin() as connection:
        if store.dialect == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        stream = streams._locked_stream(connection, "race")
        rows = connection.execute(
            sa.select(kinesis_shards)
            .where(kinesis_shards.c.stream_name == "race")
            .with_for_update()
        )
        open_shards = {row.shard_index: _shard(row) for row in rows}
        streams._split(connection, stream, open_shards, "shardId-000000000000", 2**127)
        # The write starts while the split holds the shard and is not committed yet.
        writer = threading.Thread(
            target=lambda: results.append(asyncio.run(streams.put("race", [_entry("k", "after")])))
        )
        writer.start()
        time.sleep(0.5)
        assert not results  # (it waits for the split)
    writer.join(timeout=30)
    [[written]] = results
    assert written.shard_id in ("shardId-000000000001", "shardId-000000000002")
    _, shards = asyncio.run(streams.shards("race"))
    assert shards[0].last_position == 1  # the parent holds only the record before


def test_a_write_wakes_this_processs_readers_of_its_shard(store: Store) -> None:
    """A poller that found nothing waits for the shard's next write on this node, not
    out its poll interval (others' writes it sees when it reads again)."""
    streams = _streams(store)

    async def run() -> None:
        await streams.create("s", 2, "PROVISIONED", {})
        [written] = _written(await streams.put("s", [_entry("k", "first")]))
        other = "shardId-000000000001" if written.shard_id.endswith("0") else "shardId-000000000000"
        waiting = asyncio.create_task(streams.written("s", written.shard_id, 60))
        elsewhere = asyncio.create_task(streams.written("s", other, 60))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await streams.put("s", [_entry("k", "second")])
        await asyncio.wait_for(waiting, 10)  # (woken, long before its 60 s)
        assert not elsewhere.done()  # (a write to another shard wakes nobody here)
        elsewhere.cancel()
        # Without a write, the wait ends when its time is up.
        await asyncio.wait_for(streams.written("s", written.shard_id, 0.05), 10)

    asyncio.run(run())
