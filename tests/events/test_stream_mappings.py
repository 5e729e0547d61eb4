"""Event source mappings of streams through boto3 on a real server: Kinesis streams and
DynamoDB Streams read shard by shard in order from their StartingPosition, a poison
record bisected down to itself and sent to the OnFailure queue while the rest of the
shard moves on (the seed's scenario), children read after their parents, and the
stream-only settings checked as Lambda checks them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files
from tests.events.conftest import drain, queue
from tests.events.test_mappings import error

RELAY = """
import base64
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        if "kinesis" in record:
            body = base64.b64decode(record["kinesis"]["data"]).decode()
            key = record["kinesis"]["partitionKey"]
        else:
            body = json.dumps(record["dynamodb"].get("NewImage"))
            key = record["eventName"]
        if body == "poison":
            raise RuntimeError("a poison record")
        sqs.send_message(
            QueueUrl=os.environ["OUT"],
            MessageBody=json.dumps({"body": body, "key": key, "size": len(event["Records"]),
                                    "source": record["eventSource"]}),
        )
"""


@pytest.fixture(scope="module")
def server(server_on_each_engine: RunningServer) -> RunningServer:
    return server_on_each_engine


def relay(lam: Any, out: str) -> str:
    name = unique_name("srelay")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": RELAY})},
        Environment={"Variables": {"OUT": out}},
    )
    return name


def stream(kinesis: Any, shards: int = 1) -> str:
    name = unique_name("stream")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def test_a_kinesis_stream_reaches_the_function_in_order(lam: Any, sqs: Any, kinesis: Any) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis, shards=2)
    name = arn.rsplit("/", 1)[-1]
    for n in range(10):
        kinesis.put_record(StreamName=name, Data=f"early {n}".encode(), PartitionKey=f"k{n % 3}")
    made = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=relay(lam, out), StartingPosition="TRIM_HORIZON"
    )
    assert made["StartingPosition"] == "TRIM_HORIZON" and made["BatchSize"] == 100
    assert made["MaximumRetryAttempts"] == -1 and made["BisectBatchOnFunctionError"] is False
    for n in range(10, 20):
        kinesis.put_record(StreamName=name, Data=f"later {n}".encode(), PartitionKey=f"k{n % 3}")
    got = drain(sqs, out, 20)
    assert {g["source"] for g in got} == {"aws:kinesis"}
    for key in ("k0", "k1", "k2"):  # each partition key's records in the order put
        numbers = [int(g["body"].split()[1]) for g in got if g["key"] == key]
        assert numbers == sorted(numbers)
    deadline = time.monotonic() + 30  # (the last batch's result is written as it returns)
    while lam.get_event_source_mapping(UUID=made["UUID"])["LastProcessingResult"] != "OK":
        assert time.monotonic() < deadline, "no LastProcessingResult"
        time.sleep(0.1)


def test_latest_skips_what_came_before(lam: Any, sqs: Any, kinesis: Any) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=relay(lam, out), StartingPosition="LATEST"
    )["UUID"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # (LATEST is where the shard is when it is leased)
        leased = client("lambda", lam.meta.endpoint_url).get_event_source_mapping(UUID=uuid)
        if leased["State"] == "Enabled":
            break
        time.sleep(0.1)
    time.sleep(2)
    kinesis.put_record(StreamName=name, Data=b"after", PartitionKey="p")
    assert [g["body"] for g in drain(sqs, out, 1)] == ["after"]
    assert not sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages")


def test_a_poison_record_is_bisected_to_the_on_failure_queue(
    lam: Any, sqs: Any, kinesis: Any
) -> None:
    out, _ = queue(sqs)
    failures_url, failures_arn = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    bodies = [f"good {n}" for n in range(7)]
    bodies.insert(4, "poison")
    for body in bodies:
        kinesis.put_record(StreamName=name, Data=body.encode(), PartitionKey="one")
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=relay(lam, out),
        StartingPosition="TRIM_HORIZON",
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    kinesis.put_record(StreamName=name, Data=b"good after", PartitionKey="one")
    wanted = {f"good {n}" for n in range(7)} | {"good after"}
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while not wanted <= set(seen) and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=out, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            seen.append(json.loads(message["Body"])["body"])
            sqs.delete_message(QueueUrl=out, ReceiptHandle=message["ReceiptHandle"])
    # every good record went through (those before the poison in a failed half more than
    # once: a batch is retried whole), and the shard moved on past the poison record
    assert set(seen) == wanted and seen[-1] == "good after"
    failed = drain(sqs, failures_url, 1)
    info = failed[0]["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert failed[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["startSequenceNumber"] == info["endSequenceNumber"]


def test_a_table_stream_reaches_the_function(lam: Any, sqs: Any, server: Any) -> None:
    out, _ = queue(sqs)
    dynamodb = client("dynamodb", server.endpoint)
    table = unique_name("ddb")
    created = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName=table, Item={"id": {"S": "1"}, "v": {"N": "1"}})
    lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=relay(lam, out), StartingPosition="TRIM_HORIZON"
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "1"}, "v": {"N": "2"}})
    got = drain(sqs, out, 2)
    assert [g["key"] for g in got] == ["INSERT", "MODIFY"]
    assert {g["source"] for g in got} == {"aws:dynamodb"}
    assert json.loads(got[1]["body"])["v"] == {"N": "2"}


def test_children_are_read_after_their_parents(lam: Any, sqs: Any, kinesis: Any) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = arn.rsplit("/", 1)[-1]
    for n in range(5):
        kinesis.put_record(StreamName=name, Data=f"n {n}".encode(), PartitionKey="same")
    kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    for n in range(5, 10):
        kinesis.put_record(StreamName=name, Data=f"n {n}".encode(), PartitionKey="same")
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=relay(lam, out), StartingPosition="TRIM_HORIZON"
    )
    got = drain(sqs, out, 10)
    assert [int(g["body"].split()[1]) for g in got] == list(range(10))


def test_stream_settings_are_checked(lam: Any, kinesis: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    arn = stream(kinesis)
    name = relay(lam, out)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "InvalidParameterValueException"),  # no StartingPosition
        ({"StartingPosition": "SOMEWHERE"}, "InvalidParameterValueException"),
        ({"StartingPosition": "AT_TIMESTAMP"}, "InvalidParameterValueException"),
        (
            {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
            "InvalidParameterValueException",
        ),
        ({"StartingPosition": "LATEST", "MaximumRetryAttempts": -2}, "ValidationException"),
        ({"StartingPosition": "LATEST", "ParallelizationFactor": 11}, "ValidationException"),
        ({"StartingPosition": "LATEST", "ParallelizationFactor": 0}, "ValidationException"),
        ({"StartingPosition": "LATEST", "TumblingWindowInSeconds": 901}, "ValidationException"),
        (
            {
                "StartingPosition": "LATEST",
                "DestinationConfig": {
                    "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}
                },
            },
            "InvalidParameterValueException",
        ),
        (
            {
                "StartingPosition": "LATEST",
                "DestinationConfig": {"OnFailure": {"Destination": "x"}},
            },
            "ValidationException",
        ),
        (
            {"StartingPosition": "LATEST", "ScalingConfig": {"MaximumConcurrency": 2}},
            "InvalidParameterValueException",
        ),
        (
            {
                "StartingPosition": "LATEST",
                "DestinationConfig": {
                    "OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:t"}
                },
            },
            "InvalidParameterValueException",
        ),
    ]
    for params, expected in cases:
        code, _, _ = error(
            lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=name, **params
        )
        assert code == expected, params
