"""Function logs through boto3's ``logs`` client (the CloudWatch Logs JSON protocol)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from tests.conftest import RunningServer, client, signed_request


@pytest.fixture
def logs(gureum_server: RunningServer) -> Any:
    return client("logs", gureum_server.endpoint)


def put(
    server: RunningServer,
    group: str,
    stream: str,
    messages: list[str],
    start: int = 1_700_000_000_000,
) -> None:
    """Write log events through the platform's own sink, then flush them."""

    async def write() -> None:
        for i, message in enumerate(messages):
            server.platform.logs.emit(group, stream, message, start + i)
        await server.platform.logs.flush()

    server.call(write)


def wait_for(fetch: Any, condition: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if condition(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_an_invoke_log_is_readable(lambda_client: Any, deploy: Any, logs: Any) -> None:
    name = deploy("def handler(e, c):\n    print('working on', e['job'])\n    return 1\n")
    request_id = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"job": "j1"}))[
        "ResponseMetadata"
    ]["RequestId"]
    group = f"/aws/lambda/{name}"
    events = wait_for(
        lambda: (
            logs.filter_log_events(logGroupName=group)["events"]
            if logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            else []
        ),
        lambda found: any(e["message"].startswith("REPORT") for e in found),
    )
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START")
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[start + 1] == "working on j1"
    assert messages[start + 2] == f"END RequestId: {request_id}"
    assert messages[start + 3].startswith(f"REPORT RequestId: {request_id}\tDuration:")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]
    stream_events = logs.get_log_events(
        logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True
    )["events"]
    assert [e["message"] for e in stream_events] == messages
    assert (
        streams[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:log-stream:"
        f"{streams[0]['logStreamName']}"
    )


def test_describe_and_paginate(gureum_server: RunningServer, logs: Any) -> None:
    for i in range(3):
        put(
            gureum_server,
            "/test/paging",
            f"stream-{i}",
            [f"m{i}-{j}" for j in range(5)],
            start=1_700_000_000_000 + i * 10,
        )
    groups = logs.describe_log_groups(logGroupNamePrefix="/test/paging")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/test/paging"]
    assert groups[0]["arn"].endswith("log-group:/test/paging:*")
    streams = [
        s["logStreamName"]
        for page in logs.get_paginator("describe_log_streams").paginate(
            logGroupName="/test/paging", PaginationConfig={"PageSize": 2}
        )
        for s in page["logStreams"]
    ]
    assert streams == ["stream-0", "stream-1", "stream-2"]
    latest = logs.describe_log_streams(
        logGroupName="/test/paging", orderBy="LastEventTime", descending=True, limit=1
    )["logStreams"]
    assert latest[0]["logStreamName"] == "stream-2"
    found = [
        e["message"]
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName="/test/paging", filterPattern="m1", PaginationConfig={"PageSize": 2}
        )
        for e in page["events"]
    ]
    assert found == [f"m1-{j}" for j in range(5)]
    window = logs.filter_log_events(
        logGroupName="/test/paging",
        logStreamNames=["stream-0"],
        startTime=1_700_000_000_001,
        endTime=1_700_000_000_002,
    )
    assert [e["message"] for e in window["events"]] == ["m0-1", "m0-2"]
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/test/paging:*"
    by_arn = logs.filter_log_events(logGroupIdentifier=arn, logStreamNamePrefix="stream-2")
    assert len(by_arn["events"]) == 5


def test_get_log_events_tokens(gureum_server: RunningServer, logs: Any) -> None:
    put(gureum_server, "/test/tokens", "s", [f"line {i}" for i in range(7)])
    first = logs.get_log_events(
        logGroupName="/test/tokens", logStreamName="s", startFromHead=True, limit=4
    )
    assert [e["message"] for e in first["events"]] == [f"line {i}" for i in range(4)]
    second = logs.get_log_events(
        logGroupName="/test/tokens", logStreamName="s", limit=4, nextToken=first["nextForwardToken"]
    )
    assert [e["message"] for e in second["events"]] == [f"line {i}" for i in range(4, 7)]
    end = logs.get_log_events(
        logGroupName="/test/tokens",
        logStreamName="s",
        limit=4,
        nextToken=second["nextForwardToken"],
    )
    assert end["events"] == [] and end["nextForwardToken"] == second["nextForwardToken"]
    tail = logs.get_log_events(logGroupName="/test/tokens", logStreamName="s", limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 5", "line 6"]


def test_delete_log_group(gureum_server: RunningServer, logs: Any) -> None:
    put(gureum_server, "/test/delete", "s", ["x"])
    logs.delete_log_group(logGroupName="/test/delete")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName="/test/delete")
    assert logs.describe_log_groups(logGroupNamePrefix="/test/delete")["logGroups"] == []


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        ("filter_log_events", {"logGroupName": "/no/such"}, "ResourceNotFoundException"),
        (
            "get_log_events",
            {"logGroupName": "/no/such", "logStreamName": "s"},
            "ResourceNotFoundException",
        ),
        ("describe_log_streams", {"logGroupName": "/no/such"}, "ResourceNotFoundException"),
        ("filter_log_events", {}, "InvalidParameterException"),
        (
            "filter_log_events",
            {"logGroupName": "/test/errors", "logStreamNames": ["a"], "logStreamNamePrefix": "a"},
            "InvalidParameterException",
        ),
        (
            "filter_log_events",
            {"logGroupName": "/test/errors", "limit": 0},
            "InvalidParameterException",
        ),
        (
            "filter_log_events",
            {"logGroupName": "/test/errors", "nextToken": "bogus"},
            "InvalidParameterException",
        ),
        (
            "get_log_events",
            {"logGroupName": "/test/errors", "logStreamName": "s", "nextToken": "f/bogus"},
            "InvalidParameterException",
        ),
        ("describe_log_groups", {"limit": 51}, "InvalidParameterException"),
        (
            "describe_log_streams",
            {
                "logGroupName": "/test/errors",
                "orderBy": "LastEventTime",
                "logStreamNamePrefix": "s",
            },
            "InvalidParameterException",
        ),
        (
            "filter_log_events",
            {"logGroupName": "/test/errors", "logGroupIdentifier": "/test/errors"},
            "InvalidParameterException",
        ),
    ],
)
def test_errors(
    gureum_server: RunningServer, operation: str, params: dict[str, Any], code: str
) -> None:
    put(gureum_server, "/test/errors", "s", ["x"])
    raw = client("logs", gureum_server.endpoint, parameter_validation=False)
    with pytest.raises(raw.exceptions.ClientError) as error:
        getattr(raw, operation)(**params)
    assert error.value.response["Error"]["Code"] == code
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_target_and_bad_json(gureum_server: RunningServer) -> None:
    def post(body: bytes, target: str) -> tuple[int, dict[str, Any]]:
        request = signed_request(
            gureum_server.endpoint + "/",
            data=body,
            method="POST",
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post(b"{}", "Logs_20140328.NoSuchThing") == (
        400,
        {
            "__type": "UnknownOperationException",
            "message": "Unknown operation 'Logs_20140328.NoSuchThing'",
        },
    )
    status, body = post(b"{nope", "Logs_20140328.DescribeLogGroups")
    assert (status, body["__type"]) == (400, "SerializationException")
