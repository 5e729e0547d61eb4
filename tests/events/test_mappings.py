"""Event source mappings of SQS queues, through boto3's ``lambda`` and ``sqs`` clients on
a real server: Lambda's operations, States and checks; pollers that deliver batches,
delete what succeeded, honour ReportBatchItemFailures and the queue's RedrivePolicy;
and the Leasing Service's leases between owners."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gureum.events.leasing import LeasingService
from gureum.store import Store
from tests.conftest import ROLE, RunningServer, unique_name, zip_files
from tests.events.conftest import depth, drain, queue

RELAY = """
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = record["body"]
        if body.startswith("bad"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if body.startswith("crash"):
            raise RuntimeError("a poison message")
        sqs.send_message(
            QueueUrl=os.environ["OUT"],
            MessageBody=json.dumps({
                "body": body,
                "size": len(event["Records"]),
                "source": record["eventSource"],
                "arn": record["eventSourceARN"],
                "attributes": record["messageAttributes"],
                "count": record["attributes"]["ApproximateReceiveCount"],
            }),
        )
    if os.environ.get("REPORT"):
        return {"batchItemFailures": failures}
    return {}
"""


@pytest.fixture(scope="module")
def server(server_on_each_engine: RunningServer) -> RunningServer:
    return server_on_each_engine


def relay(lam: Any, out_url: str, **env: str) -> str:
    name = unique_name("relay")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": RELAY})},
        Environment={"Variables": {"OUT": out_url, **env}},
    )
    return name


def state_of(lam: Any, uuid: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = lam.get_event_source_mapping(UUID=uuid)
        if found["State"] == wanted or time.monotonic() > deadline:
            assert found["State"] == wanted, found
            return dict(found)
        time.sleep(0.1)


def error(call: Callable[..., Any], **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_create_get_list_update_and_delete(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    _, arn = queue(sqs)
    name = relay(lam, out)
    made = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert made["State"] == "Creating"
    assert made["BatchSize"] == 10 and made["MaximumBatchingWindowInSeconds"] == 0
    assert made["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert made["EventSourceArn"] == arn
    assert made["EventSourceMappingArn"].endswith(f":event-source-mapping:{made['UUID']}")
    uuid = made["UUID"]
    enabled = state_of(lam, uuid, "Enabled")
    assert enabled["StateTransitionReason"] == "USER_INITIATED"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert [
        m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    ] == [uuid]
    updated = lam.update_event_source_mapping(
        UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=1
    )
    assert updated["State"] == "Updating" and updated["BatchSize"] == 100
    state_of(lam, uuid, "Enabled")
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    state_of(lam, uuid, "Disabled")
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    state_of(lam, uuid, "Enabled")
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except lam.exceptions.ResourceNotFoundException:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the mapping was not deleted")


def test_pages_of_mappings(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    name = relay(lam, out)
    made = {
        lam.create_event_source_mapping(EventSourceArn=queue(sqs)[1], FunctionName=name)["UUID"]
        for _ in range(3)
    }
    seen: list[str] = []
    marker = None
    while True:
        page = lam.list_event_source_mappings(
            FunctionName=name, MaxItems=2, **({"Marker": marker} if marker else {})
        )
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == sorted(made)


def test_bad_requests_answer_lambdas_errors(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    _, arn = queue(sqs)
    name = relay(lam, out)
    missing_queue = "arn:aws:sqs:us-east-1:000000000000:no-such-queue"
    code, status, message = error(
        lam.create_event_source_mapping, EventSourceArn=missing_queue, FunctionName=name
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "NonExistentQueue" in message
    code, status, message = error(
        lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="no-such-function"
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, message = error(
        lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=name, BatchSize=11
    )
    assert code == "InvalidParameterValueException"
    assert "Maximum batch window in seconds must be greater than 0" in message
    for size in (0, 10_001):
        code, status, _ = error(
            lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=name, BatchSize=size
        )
        assert (code, status) == ("ValidationException", 400)
    code, _, message = error(
        lam.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=name,
        ScalingConfig={"MaximumConcurrency": 1},
    )
    assert code == "InvalidParameterValueException" and "between 2 and 1000" in message
    code, _, _ = error(
        lam.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="LATEST",
    )
    assert code == "InvalidParameterValueException"
    code, _, _ = error(
        lam.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=name,
        FunctionResponseTypes=["SomethingElse"],
    )
    assert code == "ValidationException"
    code, status, message = error(
        lam.create_event_source_mapping,
        FunctionName=name,
        EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/no-such-stream",
        StartingPosition="LATEST",
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Stream not found")
    code, status, message = error(
        lam.create_event_source_mapping,
        FunctionName=name,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": '{"body": "not a list"}'}]},
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Invalid filter pattern definition.")
    slow = unique_name("slow")
    lam.create_function(
        FunctionName=slow,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Timeout=60,
        Code={"ZipFile": zip_files({"app.py": RELAY})},
    )
    code, _, message = error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=slow)
    assert code == "InvalidParameterValueException"
    assert (
        message == "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    )
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    code, status, message = error(
        lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=name
    )
    assert (code, status) == ("ResourceConflictException", 409)
    assert "already exists" in message
    code, status, _ = error(lam.get_event_source_mapping, UUID="no-such-uuid")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_batches_reach_the_function_and_leave_the_queue(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    url, arn = queue(sqs)
    name = relay(lam, out)
    for n in range(25):
        attributes = {"n": {"DataType": "Number", "StringValue": str(n)}}
        sqs.send_message(QueueUrl=url, MessageBody=f"message {n}", MessageAttributes=attributes)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=25, MaximumBatchingWindowInSeconds=2
    )
    got = drain(sqs, out, 25)
    assert sorted(g["body"] for g in got) == sorted(f"message {n}" for n in range(25))
    assert {g["source"] for g in got} == {"aws:sqs"} and {g["arn"] for g in got} == {arn}
    assert max(g["size"] for g in got) > 10  # (the window gathered more than a receive)
    first = next(g for g in got if g["body"] == "message 3")
    assert first["attributes"]["n"] == {
        "stringValue": "3",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Number",
    }
    deadline = time.monotonic() + 30
    while depth(sqs, url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert depth(sqs, url) == 0


def test_report_batch_item_failures_and_the_redrive_policy(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    dlq_url, dlq_arn = queue(sqs)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queue(sqs, VisibilityTimeout="3", RedrivePolicy=redrive)
    name = relay(lam, out, REPORT="1")
    lam.update_function_configuration(FunctionName=name, Timeout=3)
    for body in ("good 1", "bad 1", "good 2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    got = drain(sqs, out, 2)
    assert sorted(g["body"] for g in got) == ["good 1", "good 2"]
    assert {g["count"] for g in got} == {"1"}  # (each good one ran once)
    deadline = time.monotonic() + 60
    dead: list[str] = []
    while not dead and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)
        dead = [m["Body"] for m in answer.get("Messages", [])]
    assert dead == ["bad 1"]


def test_a_failing_batch_stays_in_the_queue(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    dlq_url, dlq_arn = queue(sqs)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queue(sqs, VisibilityTimeout="3", RedrivePolicy=redrive)
    name = relay(lam, out)
    sqs.send_message(QueueUrl=url, MessageBody="crash now")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    deadline = time.monotonic() + 60
    dead: list[str] = []
    while not dead and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)
        dead = [m["Body"] for m in answer.get("Messages", [])]
    assert dead == ["crash now"]


def test_a_disabled_mapping_stops_and_a_deleted_function_disables_it(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    url, arn = queue(sqs)
    name = relay(lam, out)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    state_of(lam, uuid, "Enabled")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    state_of(lam, uuid, "Disabled")
    time.sleep(1.5)  # (a batch the pollers had begun is done by now)
    sqs.send_message(QueueUrl=url, MessageBody="wait for me")
    time.sleep(3)
    assert depth(sqs, url) == 1
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert drain(sqs, out, 1)[0]["body"] == "wait for me"
    lam.delete_function(FunctionName=name)
    sqs.send_message(QueueUrl=url, MessageBody="nobody reads me")
    disabled = state_of(lam, uuid, "Disabled")
    assert disabled["StateTransitionReason"].startswith("PROBLEM")


def test_leases_pass_between_owners(store: Store) -> None:
    """One owner at a time; a lease not renewed passes to another with its checkpoint;
    the old owner can neither renew nor checkpoint it then."""
    first = LeasingService(store, "node-a", lease_seconds=0.5)
    second = LeasingService(store, "node-b", lease_seconds=0.5)

    async def scenario() -> None:
        taken = await first.take("mapping-1", "shard-0")
        assert taken is not None and taken.owner == "node-a"
        assert await second.take("mapping-1", "shard-0") is None
        assert await first.checkpoint("mapping-1/shard-0", "seq-41")
        assert await first.renew(["mapping-1/shard-0"]) == {"mapping-1/shard-0"}
        await asyncio.sleep(0.7)  # node-a misses its heartbeats
        over = await second.take("mapping-1", "shard-0")
        assert over is not None and over.owner == "node-b" and over.checkpoint == "seq-41"
        assert await first.renew(["mapping-1/shard-0"]) == set()
        assert not await first.checkpoint("mapping-1/shard-0", "seq-99")
        await second.release(["mapping-1/shard-0"])
        again = await first.take("mapping-1", "shard-0")
        assert again is not None and again.checkpoint == "seq-41"
        leases = await second.leases("mapping-1")
        assert [lease.owner for lease in leases] == ["node-a"]
        await first.forget("mapping-1")
        assert await first.leases("mapping-1") == []

    asyncio.run(scenario())


def test_two_owners_racing_for_a_new_lease_get_one(store: Store) -> None:
    owners = [LeasingService(store, f"node-{n}") for n in range(6)]

    async def race() -> list[Any]:
        return await asyncio.gather(*(owner.take("contested") for owner in owners))

    results = asyncio.run(race())
    assert sum(result is not None for result in results) == 1


def test_filter_criteria_let_through_what_matches_and_delete_the_rest(lam: Any, sqs: Any) -> None:
    out, _ = queue(sqs)
    url, arn = queue(sqs)
    name = relay(lam, out)
    pattern = {"body": {"kind": ["order"], "total": [{"numeric": [">=", 10]}]}}
    made = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )
    assert json.loads(made["FilterCriteria"]["Filters"][0]["Pattern"]) == pattern
    bodies = [
        {"kind": "order", "total": 12},
        {"kind": "order", "total": 3},
        {"kind": "refund", "total": 50},
        {"kind": "order", "total": 10},
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=url, MessageBody="not json at all")
    got = drain(sqs, out, 2)
    assert sorted(json.loads(g["body"])["total"] for g in got) == [10, 12]
    deadline = time.monotonic() + 30
    while depth(sqs, url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert depth(sqs, url) == 0  # (the filtered-out ones deleted, as Lambda does)
    assert not sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages")
