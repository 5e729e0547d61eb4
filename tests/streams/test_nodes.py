"""Two gureum nodes on one PostgreSQL writing to one shard at once: every record gets a
number of its own, each writer's records stay in its order, and a reader sees the
shard's positions with no gap, whichever node it asks."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

from gureum.settings import Settings
from gureum.streams import sequence_numbers
from tests.conftest import RunningServer, client, make_settings, store_settings

WRITERS_PER_NODE = 4
RECORDS_PER_WRITER = 40


def unlimited(data_dir: Path, overrides: dict[str, Any]) -> Settings:
    """A node's settings, without Kinesis's per-shard limits: its readers page through
    the shard many times a second (test_shard_limits.py has two nodes share a limit)."""
    return make_settings(data_dir, stream_throughput="unlimited", **overrides)


def test_two_nodes_write_one_shard_without_sharing_or_reordering_numbers(
    tmp_path: Path,
) -> None:
    with store_settings("postgres") as overrides:
        nodes = [RunningServer(unlimited(tmp_path / str(n), overrides)) for n in range(2)]
        for node in nodes:
            node.start()
        try:
            client("kinesis", nodes[0].endpoint).create_stream(StreamName="shared", ShardCount=1)

            def write(node: RunningServer, writer: str) -> list[str]:
                kinesis = client("kinesis", node.endpoint)
                numbers = []
                for i in range(RECORDS_PER_WRITER):
                    if i % 4 == 0:  # (batches too)
                        answer = kinesis.put_records(
                            StreamName="shared",
                            Records=[
                                {"Data": f"{writer}:{i}:{j}".encode(), "PartitionKey": writer}
                                for j in range(3)
                            ],
                        )
                        numbers += [r["SequenceNumber"] for r in answer["Records"]]
                    else:
                        answer = kinesis.put_record(
                            StreamName="shared", Data=f"{writer}:{i}".encode(), PartitionKey=writer
                        )
                        numbers.append(answer["SequenceNumber"])
                return numbers

            jobs = [
                (node, f"n{n}w{w}") for n, node in enumerate(nodes) for w in range(WRITERS_PER_NODE)
            ]
            with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
                results = dict(
                    zip((w for _, w in jobs), pool.map(lambda job: write(*job), jobs), strict=True)
                )
            every = [number for numbers in results.values() for number in numbers]
            assert len(set(every)) == len(every)
            for numbers in results.values():
                assert numbers == sorted(numbers, key=int)  # each writer's order kept
            reader = client("kinesis", nodes[1].endpoint)
            text = reader.get_shard_iterator(
                StreamName="shared",
                ShardId="shardId-000000000000",
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            read: list[dict[str, object]] = []
            while True:
                got = reader.get_records(ShardIterator=text, Limit=50)
                read += got["Records"]
                if not got["Records"]:
                    break
                text = got["NextShardIterator"]
            assert [r["SequenceNumber"] for r in read] == sorted(every, key=int)
            parsed = [sequence_numbers.parse(str(r["SequenceNumber"])) for r in read]
            positions = [number.position for number in parsed if number is not None]
            assert positions == list(range(1, len(every) + 1))  # no gap, none twice
            for writer, numbers in results.items():
                mine = [str(r["SequenceNumber"]) for r in read if r["PartitionKey"] == writer]
                assert mine == numbers
        finally:
            for node in nodes:
                node.stop()


def _read_tree(kinesis: Any, name: str) -> list[dict[str, Any]]:
    """Every record, each shard read after its parents (as a consumer reads them)."""
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    done: set[str] = set()
    records: list[dict[str, Any]] = []
    while len(done) < len(shards):
        for shard_id, shard in shards.items():
            parents = {shard.get("ParentShardId"), shard.get("AdjacentParentShardId")} - {None}
            if shard_id in done or not parents <= done:
                continue
            text = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while text:
                got = kinesis.get_records(ShardIterator=text)
                records += got["Records"]
                if not got["Records"] and "ChildShards" not in got:
                    break
                text = got.get("NextShardIterator")
            done.add(shard_id)
    return records


def test_writes_racing_a_resharding_on_another_node_keep_each_keys_order(
    tmp_path: Path,
) -> None:
    with store_settings("postgres") as overrides:
        nodes = [RunningServer(unlimited(tmp_path / str(n), overrides)) for n in range(2)]
        for node in nodes:
            node.start()
        try:
            resharder = client("kinesis", nodes[1].endpoint)
            resharder.create_stream(StreamName="racing", ShardCount=2)
            keys = [f"k{i}" for i in range(16)]

            def write(writer: int) -> None:
                kinesis = client("kinesis", nodes[0].endpoint)
                for i in range(30):
                    kinesis.put_records(
                        StreamName="racing",
                        Records=[
                            {"Data": f"{i}".encode(), "PartitionKey": key}
                            for key in keys[writer::4]
                        ],
                    )

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                writes = [pool.submit(write, w) for w in range(4)]
                for target in (4, 3, 6, 3):
                    resharder.update_shard_count(
                        StreamName="racing", TargetShardCount=target, ScalingType="UNIFORM_SCALING"
                    )
                for done in writes:
                    done.result()
            seen: dict[str, list[int]] = {}
            for record in _read_tree(resharder, "racing"):
                seen.setdefault(record["PartitionKey"], []).append(int(record["Data"]))
            assert seen == {key: list(range(30)) for key in keys}
        finally:
            for node in nodes:
                node.stop()
