"""Asynchronous invoke through boto3: 202, retries, destinations, dead-letter queues,
throttles, and the EventInvokeConfig API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gureum.events.async_invoke import ASYNC_QUEUE, Event
from gureum.queues.queues import Outgoing
from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    make_settings,
    unique_name,
    zip_files,
)
from tests.frontend.test_concurrency import SLEEPER, max_overlap

ECHO = (
    "def handler(event, context):\n"
    "    return {'event': event, 'request_id': context.aws_request_id}\n"
)
FAIL = "def handler(event, context):\n    raise ValueError('always broken: ' + str(event))\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return event\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose retries wait 0.2 s and 0.4 s instead of 1 and 2 minutes (its
    clients, ``lam`` and ``sqs``, are the conftest's)."""
    running = RunningServer(make_settings(tmp_path_factory.mktemp("async"), retry_delays="0.2,0.4"))
    running.start()
    yield running
    running.stop()


def deploy(lam: Any, code: str, **config: Any) -> str:
    name = unique_name("async")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": code})},
        **config,
    )
    return name


def queue(sqs: Any) -> tuple[str, str]:
    """A new queue: (url, arn)."""
    url = sqs.create_queue(QueueName=unique_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def receive(sqs: Any, url: str, count: int = 1, wait: float = 20) -> list[dict[str, Any]]:
    """``count`` messages from ``url`` (deleted as they come), or fail after ``wait`` s."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while len(found) < count and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=2,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found.extend(batch)
    assert len(found) >= count, f"{len(found)} of {count} messages arrived in {wait} s"
    return found


def starts(server: RunningServer, name: str, request_id: str) -> int:
    """How many times the function started on ``request_id`` (its START lines)."""
    logs = client("logs", server.endpoint)
    server.call(server.platform.logs.flush)
    try:
        events = logs.filter_log_events(
            logGroupName=f"/aws/lambda/{name}", filterPattern=f'"START RequestId: {request_id}"'
        )["events"]
    except logs.exceptions.ResourceNotFoundException:
        return 0  # never ran, so it has no log group
    return len(events)


def test_event_invoke_answers_202_and_reaches_on_success(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = deploy(lam, ECHO)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]

    (message,) = receive(sqs, url)
    record = json.loads(message["Body"])
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    # The function saw the same request id the 202 carried: it can be idempotent on it.
    assert record["responsePayload"] == {"event": {"n": 1}, "request_id": request_id}


def test_seed_scenario_one_retry_then_the_dead_letter_queue(
    server: RunningServer, lam: Any, sqs: Any
) -> None:
    """An event whose function always fails, with one retry and a DLQ: exactly two
    attempts, then one DLQ message with the error."""
    url, arn = queue(sqs)
    name = deploy(lam, FAIL, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": arn
    }
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'"boom"')
    request_id = response["ResponseMetadata"]["RequestId"]

    (message,) = receive(sqs, url)
    assert message["Body"] == '"boom"'  # the original event, unchanged
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"]["StringValue"] == "always broken: boom"
    time.sleep(1.0)  # longer than both retry delays: a third attempt would have started
    assert starts(server, name, request_id) == 2
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_on_failure_to_a_function_with_every_retry(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    # The failure record goes to a second function, whose own result goes to the queue.
    relay = deploy(lam, ECHO)
    lam.put_function_event_invoke_config(
        FunctionName=relay, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    relay_arn = lam.get_function(FunctionName=relay)["Configuration"]["FunctionArn"]
    name = deploy(lam, FAIL)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": relay_arn}}
    )
    started = time.monotonic()
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"x": 2}')

    (message,) = receive(sqs, url)
    assert time.monotonic() - started >= 0.6  # it waited 0.2 s, then 0.4 s
    record = json.loads(message["Body"])["responsePayload"]["event"]
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the default 2 retries
    assert record["requestPayload"] == {"x": 2}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "always broken: {'x': 2}"


def test_throttled_events_wait_and_all_run(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = deploy(lam, SLOW)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arn}},
    )
    for n in range(3):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n}))
    messages = receive(sqs, url, count=3, wait=30)
    records = [json.loads(m["Body"]) for m in messages]
    assert sorted(r["requestPayload"]["n"] for r in records) == [0, 1, 2]
    # Throttles do not use up attempts: each ran once, and succeeded.
    assert {r["requestContext"]["approximateInvokeCount"] for r in records} == {1}


def test_reserved_concurrency_zero_goes_straight_to_on_failure(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = deploy(lam, ECHO)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    assert lam.invoke(FunctionName=name, InvocationType="Event")["StatusCode"] == 202
    (message,) = receive(sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["responseContext"]["statusCode"] == 429


def test_an_event_older_than_its_maximum_age_is_not_invoked(
    server: RunningServer, lam: Any, sqs: Any
) -> None:
    url, arn = queue(sqs)
    name = deploy(lam, ECHO)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    # An event accepted 61 s ago (written as the Front End writes one, back-dated).
    event = Event("old-request", name, None, '{"late": true}', int(time.time() * 1000) - 61_000)
    server.call(lambda: server.platform.queues.send(ASYNC_QUEUE, [Outgoing(event.encode())]))
    (message,) = receive(sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert starts(server, name, "old-request") == 0


def test_event_invoke_config_api(lam: Any, sqs: Any) -> None:
    _, arn = queue(sqs)
    name = deploy(lam, ECHO)
    function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert "doesn't have an EventInvokeConfig" in str(missing.value)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)

    put = lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    assert put["FunctionArn"] == function_arn + ":$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert put["MaximumEventAgeInSeconds"] == 21600
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": arn}}
    assert put["LastModified"].year >= 2026

    # Update merges; Put replaces.
    updated = lam.update_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": arn}},
    )
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["MaximumEventAgeInSeconds"] == 120
    assert updated["DestinationConfig"] == {
        "OnSuccess": {"Destination": arn},
        "OnFailure": {"Destination": arn},
    }
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0

    # Per qualifier: a version has its own.
    lam.publish_version(FunctionName=name)
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=2)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn + ":$LATEST",
        function_arn + ":1",
    ]
    page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionEventInvokeConfigs"]) == 1
    rest = lam.list_function_event_invoke_configs(FunctionName=name, Marker=page["NextMarker"])
    assert len(rest["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" not in rest

    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="1")
    # A deleted alias or version takes its configuration with it.
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live")
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1")
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn + ":$LATEST"
    ]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="9")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_function_event_invoke_config(FunctionName="no-such-function")


@pytest.mark.parametrize(
    ("params", "code", "fragment"),
    [
        ({"MaximumRetryAttempts": 3}, "ValidationException", "maximumRetryAttempts"),
        ({"MaximumRetryAttempts": -1}, "ValidationException", "maximumRetryAttempts"),
        ({"MaximumEventAgeInSeconds": 59}, "ValidationException", "maximumEventAgeInSeconds"),
        ({"MaximumEventAgeInSeconds": 21601}, "ValidationException", "maximumEventAgeInSeconds"),
        (
            {
                "DestinationConfig": {
                    "OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:t"}
                }
            },
            "InvalidParameterValueException",
            "not supported by gureum",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "nonsense"}}},
            "ValidationException",
            "destinationConfig.onSuccess.destination",
        ),
    ],
)
def test_event_invoke_config_validation(
    server: RunningServer, lam: Any, params: dict[str, Any], code: str, fragment: str
) -> None:
    name = deploy(lam, ECHO)
    unchecked = client("lambda", server.endpoint, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.ClientError) as error:
        unchecked.put_function_event_invoke_config(FunctionName=name, **params)
    assert error.value.response["Error"]["Code"] == code
    assert fragment in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_dead_letter_config_is_updated_and_removed(lam: Any, sqs: Any) -> None:
    _, arn = queue(sqs)
    name = deploy(lam, ECHO)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    updated = lam.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": arn}
    )
    assert updated["DeadLetterConfig"] == {"TargetArn": arn}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    removed = lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert "DeadLetterConfig" not in removed


def test_a_long_running_event_keeps_its_claim(
    monkeypatch: pytest.MonkeyPatch, start_server: Any
) -> None:
    """Claims last a minute and are renewed while the function runs (here 1 s and every
    0.3 s, for a 2.5 s function): it runs once, not again when the first claim ends."""
    from gureum.events import async_invoke

    monkeypatch.setattr(async_invoke, "CLAIM_VISIBILITY", 1)
    monkeypatch.setattr(async_invoke, "HEARTBEAT", 0.3)
    running = start_server()
    lam, sqs = client("lambda", running.endpoint), client("sqs", running.endpoint)
    url, arn = queue(sqs)
    name = deploy(
        lam, "import time\ndef handler(event, context):\n    time.sleep(2.5)\n", Timeout=10
    )
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = lam.invoke(FunctionName=name, InvocationType="Event")["ResponseMetadata"][
        "RequestId"
    ]
    receive(sqs, url)
    time.sleep(1.5)  # a second run, had the claim lapsed, would have started by now
    assert starts(running, name, request_id) == 1


def test_a_destination_that_is_gone_is_said_in_the_functions_log(
    server: RunningServer, lam: Any, sqs: Any
) -> None:
    url, arn = queue(sqs)
    name = deploy(lam, ECHO)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    sqs.delete_queue(QueueUrl=url)
    request_id = lam.invoke(FunctionName=name, InvocationType="Event")["ResponseMetadata"][
        "RequestId"
    ]
    logs = client("logs", server.endpoint)
    deadline = time.monotonic() + 20
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        server.call(server.platform.logs.flush)
        try:
            found = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}",
                logStreamNames=["gureum/async-delivery"],
                filterPattern=f'"{request_id}"',
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.2)
    (event,) = found
    assert f"could not be delivered to its destination {arn}" in event["message"]
    assert "QueueDoesNotExist" in event["message"]


def test_no_more_events_run_at_once_than_the_async_concurrency(
    start_server: Callable[..., RunningServer],
) -> None:
    # An ended invocation frees its slot before its outcome is written; the count of
    # those still running never passes --async-concurrency (from the functions' clocks).
    running = start_server(async_concurrency=3)
    lam, sqs = client("lambda", running.endpoint), client("sqs", running.endpoint)
    url, arn = queue(sqs)
    name = deploy(lam, SLEEPER)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    for _ in range(9):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 0.3}')
    messages = receive(sqs, url, count=9, wait=30)
    ran = [json.loads(m["Body"])["responsePayload"] for m in messages]
    assert max_overlap(ran) == 3
