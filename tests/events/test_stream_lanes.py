"""A stream mapping's ParallelizationFactor, tumbling windows and function OnFailure
destinations, through boto3 on a real server: a shard read by several lanes keeps each
partition key's records in order while a stuck key holds up only its own lane; a
changed factor moves the shard's leases to the new lanes with nothing lost; a window's
``state`` is carried between its invocations and handed to its final one; a record
given up reaches a function; a lane's lease shows its iterator age."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from typing import Any

import pytest

from gureum.events.leasing import LeasingService
from gureum.events.mappings import Mapping
from gureum.events.stream_pollers import Lane, StreamTracker
from gureum.events.stream_sources import SourceRecord
from gureum.store import Store
from tests.conftest import ROLE, RunningServer, unique_name, zip_files
from tests.events.conftest import drain, queue
from tests.events.test_stream_mappings import relay, stream

STUCK_RELAY = """
import asyncio
import base64
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        key = record["kinesis"]["partitionKey"]
        if key == "stuck":
            raise RuntimeError("this key's records always fail")
        body = base64.b64decode(record["kinesis"]["data"]).decode()
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps({"key": key,
                                                                           "body": body}))
"""

WINDOW_COUNTER = """
import json
import os

import boto3

sqs = boto3.client("sqs")
answered = False


def handler(event, context):
    global answered
    state = event["state"]
    if event["isFinalInvokeForWindow"]:
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps({
            "count": state.get("count", 0), "window": event["window"],
            "records": len(event["Records"]), "shardId": event["shardId"],
            "source": event["eventSourceARN"], "early": event["isWindowTerminatedEarly"],
        }))
        return {}
    if not answered:  # the first answer has no state: the invocation failed
        answered = True
        return None
    return {"state": {"count": state.get("count", 0) + len(event["Records"])}}
"""

SINK = """
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


@pytest.fixture(scope="module")
def server(server_on_each_engine: RunningServer) -> RunningServer:
    return server_on_each_engine


def function(lam: Any, code: str, out: str) -> str:
    name = unique_name("lane")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": code})},
        Environment={"Variables": {"OUT": out}},
    )
    arn: str = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


def leases(endpoint: str, uuid: str) -> list[dict[str, Any]]:
    url = f"{endpoint}/_gureum/event-source-mappings/{uuid}/leases"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return list(json.loads(answer.read())["Leases"])


def lane_of(key: str, factor: int) -> int:
    record = SourceRecord(0, "", 0, 0, {}, key)
    return next(n for n in range(factor) if Lane("s", n, factor).takes(record))


def test_a_lane_started_late_resumes_from_the_old_factors_lanes_not_its_siblings(
    store: Store,
) -> None:
    """A lane whose lease is taken after its siblings have read on (a busy node takes
    them one tick apart) starts at the StartingPosition, not at a sibling's checkpoint:
    the siblings passed over its records. Only lanes of another factor say where a new
    lane starts."""
    leasing = LeasingService(store, "node-a")
    tracker = StreamTracker(leasing)
    mapping = Mapping("m", "arn:f", "arn:aws:kinesis:us-east-1:000000000000:stream/s", {},
                      "Enabled", "", "", 0)  # fmt: skip

    async def run() -> None:
        for n in (1, 2):
            await leasing.take("m", f"shard-0/{n}-of-3")
            assert await leasing.checkpoint(f"m/shard-0/{n}-of-3", "40")
        assert await tracker.resume_from(mapping, "shard-0/3-of-3") is None
        # The shard read before by two lanes: a lane of three starts at their earliest.
        await leasing.take("m", "shard-0/1-of-2")
        assert await leasing.checkpoint("m/shard-0/1-of-2", "17")
        await leasing.take("m", "shard-0/2-of-2")
        assert await leasing.checkpoint("m/shard-0/2-of-2", "12")
        await leasing.take("m", "shard-1")  # (another shard's say nothing)
        assert await leasing.checkpoint("m/shard-1", "3")
        assert await tracker.resume_from(mapping, "shard-0/3-of-3") == "12"

    asyncio.run(run())


def test_lanes_keep_each_keys_order_and_a_stuck_key_holds_up_only_its_lane(
    lam: Any, sqs: Any, kinesis: Any, server: Any
) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    stuck_lane = lane_of("stuck", 4)
    keys = [k for k in (f"key-{n}" for n in range(40)) if lane_of(k, 4) != stuck_lane][:6]
    assert len({lane_of(k, 4) for k in keys}) == 3  # (the other three lanes)
    made = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function(lam, STUCK_RELAY, out),
        StartingPosition="TRIM_HORIZON",
        ParallelizationFactor=4,
        BatchSize=3,
    )
    assert made["ParallelizationFactor"] == 4
    kinesis.put_record(StreamName=name, Data=b"first", PartitionKey="stuck")
    for n in range(5):
        for key in keys:
            kinesis.put_record(StreamName=name, Data=str(n).encode(), PartitionKey=key)
    got = drain(sqs, out, 30)
    for key in keys:  # every record of the other lanes came, each key's in order
        assert [int(g["body"]) for g in got if g["key"] == key] == list(range(5))
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    found = {lease["Shard"]: lease for lease in leases(server.endpoint, made["UUID"])}
    assert sorted(found) == [f"{shard}/{n}-of-4" for n in range(1, 5)]
    stuck = found[f"{shard}/{stuck_lane + 1}-of-4"]
    assert stuck["Checkpoint"] in (None, "0")  # (held up at its first record)
    done = [lease for lease in found.values() if lease is not stuck]
    assert all(lease["IteratorAgeMilliseconds"] is not None for lease in done)
    assert all(lease["IteratorAgeMilliseconds"] >= 0 for lease in done)
    lam.delete_event_source_mapping(UUID=made["UUID"])  # (its stuck lane retries forever)


def test_a_changed_factor_moves_the_shard_to_new_lanes(
    lam: Any, sqs: Any, kinesis: Any, server: Any
) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=relay(lam, out),
        StartingPosition="TRIM_HORIZON",
        ParallelizationFactor=3,
    )["UUID"]
    for n in range(12):
        kinesis.put_record(StreamName=name, Data=f"before {n}".encode(), PartitionKey=f"k{n}")
    drain(sqs, out, 12)
    lam.update_event_source_mapping(UUID=uuid, ParallelizationFactor=2)
    deadline = time.monotonic() + 30
    while True:  # (the earlier lanes' leases go once the new ones have checkpoints)
        shards = sorted(lease["Shard"] for lease in leases(server.endpoint, uuid))
        if all(shard.endswith("-of-2") for shard in shards) and len(shards) == 2:
            break
        assert time.monotonic() < deadline, shards
        kinesis.put_record(StreamName=name, Data=b"nudge", PartitionKey="k-nudge")
        time.sleep(0.3)
    for n in range(12):
        kinesis.put_record(StreamName=name, Data=f"after {n}".encode(), PartitionKey=f"k{n}")
    wanted = {f"after {n}" for n in range(12)}
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while not wanted <= seen and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=out, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            seen.add(json.loads(message["Body"])["body"])
            sqs.delete_message(QueueUrl=out, ReceiptHandle=message["ReceiptHandle"])
    assert wanted <= seen


def test_a_tumbling_windows_state_is_carried_to_its_final_invocation(
    lam: Any, sqs: Any, kinesis: Any
) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    made = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function(lam, WINDOW_COUNTER, out),
        StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=2,
        BatchSize=4,
    )
    assert made["TumblingWindowInSeconds"] == 2
    for n in range(12):
        kinesis.put_record(StreamName=name, Data=str(n).encode(), PartitionKey="p")
    finals: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while sum(f["count"] for f in finals) < 12 and time.monotonic() < deadline:
        finals += drain(sqs, out, 1, timeout=max(1.0, deadline - time.monotonic()))
    # each record counted once (the answer without a state was retried, not counted)
    assert sum(f["count"] for f in finals) == 12
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    for final in finals:
        start = time.strptime(final["window"]["start"], "%Y-%m-%dT%H:%M:%SZ")
        end = time.strptime(final["window"]["end"], "%Y-%m-%dT%H:%M:%SZ")
        assert time.mktime(end) - time.mktime(start) == 2 and start.tm_sec % 2 == 0
        assert final["records"] == 0 and final["shardId"] == shard and final["source"] == arn
        assert final["early"] is False
    starts = [f["window"]["start"] for f in finals]
    assert starts == sorted(set(starts))  # one final invocation a window, in order


def test_a_record_given_up_reaches_a_function_destination(lam: Any, sqs: Any, kinesis: Any) -> None:
    out, _ = queue(sqs)
    failures, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    sink = function(lam, SINK, failures)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=relay(lam, out),
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        BatchSize=1,
        DestinationConfig={"OnFailure": {"Destination": sink}},
    )
    kinesis.put_record(StreamName=name, Data=b"poison", PartitionKey="p")
    kinesis.put_record(StreamName=name, Data=b"fine", PartitionKey="p")
    assert [g["body"] for g in drain(sqs, out, 1)] == ["fine"]
    record = drain(sqs, failures, 1)[0]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    data = kinesis.get_records(
        ShardIterator=kinesis.get_shard_iterator(
            StreamName=name,
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"],
        Limit=1,
    )["Records"][0]["Data"]
    assert data == b"poison" or base64.b64decode(data) == b"poison"
