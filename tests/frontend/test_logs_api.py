"""Function logs through boto3's ``logs`` client (the CloudWatch Logs JSON protocol)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from gureum.frontend import json_rpc, logs_api
from gureum.frontend.logs_api import GROUP_MISSING, STREAM_MISSING
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


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes


def post(server: RunningServer, body: bytes, target: str) -> Answer:
    """A signed raw JSON-protocol request, as botocore would send it."""
    request = signed_request(
        server.endpoint + "/",
        data=body,
        method="POST",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        service="logs",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


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
    arn = groups[0]["logGroupArn"]
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
    unknown = post(gureum_server, b"{}", "Logs_20140328.NoSuchThing")
    assert (unknown.status, json.loads(unknown.body)) == (
        400,
        {
            "__type": "UnknownOperationException",
            "message": "Unknown operation 'Logs_20140328.NoSuchThing'",
        },
    )
    missing = post(gureum_server, b"{}", "NoService_1.X")
    assert json.loads(missing.body)["__type"] == "UnknownOperationException"
    for body in (b"{nope", b"[1, 2]"):
        bad = post(gureum_server, body, "Logs_20140328.DescribeLogGroups")
        assert (bad.status, json.loads(bad.body)["__type"]) == (400, "SerializationException")


def test_filter_patterns(gureum_server: RunningServer, logs: Any) -> None:
    lines = [
        '{"level": "ERROR", "latency": 250, "user": "u-1"}',
        '{"level": "INFO", "latency": 12, "user": "u-2"}',
        "[ERROR] disk full",
        "[WARN] disk 91% used",
        "[ERROR] Exiting with code 1",
        '10.0.0.1 frank "GET /a HTTP/1.1" 404 2326',
        '10.0.0.2 alice "GET /b HTTP/1.1" 200 512',
    ]
    put(gureum_server, "/test/patterns", "s", lines)

    def matching(pattern: str) -> list[str]:
        page = logs.filter_log_events(logGroupName="/test/patterns", filterPattern=pattern)
        return [e["message"] for e in page["events"]]

    assert matching("") == lines
    assert matching("ERROR") == [lines[0], lines[2], lines[4]]
    assert matching('"disk full"') == [lines[2]]
    assert matching("ERROR -Exiting -latency") == [lines[2]]
    assert matching("?WARN ?Exiting") == [lines[3], lines[4]]
    assert matching("%disk.[0-9]+%") == [lines[3]]
    assert matching('{ $.level = "ERROR" && $.latency > 100 }') == [lines[0]]
    assert matching('{ $.user = "u-*" && $.latency < 100 }') == [lines[1]]
    assert matching("[ip, user, request, status = 4*, size]") == [lines[5]]
    assert matching("[..., status = 200, size < 1000]") == [lines[6]]


def test_filter_pattern_pages_resume_exactly(
    gureum_server: RunningServer, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patterns checked outside SQL page without losing or repeating an event, also when
    a page ends early because the scan budget ran out."""
    lines = [f"{'keep' if i % 13 == 0 else 'drop'} {i}" for i in range(60)]
    put(gureum_server, "/test/pattern-pages", "s", lines)
    expected = [line for line in lines if line.startswith("keep")]
    for budget, size in ((20_000, 2), (20_000, 3), (5, 2)):
        monkeypatch.setattr(logs_api, "FILTER_SCAN_BUDGET", budget)
        monkeypatch.setattr(logs_api, "FILTER_SCAN_CHUNK", 5)
        pages = list(
            logs.get_paginator("filter_log_events").paginate(
                logGroupName="/test/pattern-pages",
                filterPattern="?keep ?nothing",
                PaginationConfig={"PageSize": size},
            )
        )
        assert [e["message"] for page in pages for e in page["events"]] == expected
        assert all(len(page["events"]) <= size for page in pages)
        if budget == 5:
            assert any(not page["events"] for page in pages[:-1])  # searched, found none yet


def test_filter_orders_by_time_across_streams(gureum_server: RunningServer, logs: Any) -> None:
    put(gureum_server, "/test/interleave", "a", ["a0", "a1", "a2"], start=1_000)
    put(gureum_server, "/test/interleave", "b", ["b0", "b1"], start=1_000)
    events = logs.filter_log_events(logGroupName="/test/interleave")["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [
        (1_000, "a0"),
        (1_000, "b0"),
        (1_001, "a1"),
        (1_001, "b1"),
        (1_002, "a2"),
    ]
    assert {e["logStreamName"] for e in events} == {"a", "b"}
    assert len({e["eventId"] for e in events}) == 5
    descending = logs.describe_log_streams(logGroupName="/test/interleave", descending=True)
    assert [s["logStreamName"] for s in descending["logStreams"]] == ["b", "a"]
    assert logs.filter_log_events(logGroupName="/test/interleave", startTime=1_001, endTime=1_001)[
        "events"
    ] == [e for e in events if e["timestamp"] == 1_001]


def test_get_log_events_reads_backward(gureum_server: RunningServer, logs: Any) -> None:
    put(gureum_server, "/test/backward", "s", [f"line {i}" for i in range(5)], start=5_000)
    tail = logs.get_log_events(logGroupName="/test/backward", logStreamName="s", limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 3", "line 4"]
    before = logs.get_log_events(
        logGroupName="/test/backward",
        logStreamName="s",
        limit=2,
        nextToken=tail["nextBackwardToken"],
    )
    assert [e["message"] for e in before["events"]] == ["line 1", "line 2"]
    window = logs.get_log_events(
        logGroupName="/test/backward",
        logStreamName="s",
        startTime=5_001,
        endTime=5_003,
        startFromHead=True,
    )
    assert [e["message"] for e in window["events"]] == ["line 1", "line 2"]  # end exclusive
    assert set(window["events"][0]) == {"timestamp", "message", "ingestionTime"}


def test_describe_log_groups_by_pattern_and_identifiers(
    gureum_server: RunningServer, logs: Any
) -> None:
    for name in ("/test/find/Alpha-one", "/test/find/beta", "/test/find/alpha-two"):
        put(gureum_server, name, "s", ["x"])
    found = [
        group["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePattern="ALPHA", PaginationConfig={"PageSize": 1}
        )
        for group in page["logGroups"]
    ]
    assert found == ["/test/find/Alpha-one", "/test/find/alpha-two"]
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/test/find/beta"
    by_id = logs.describe_log_groups(logGroupIdentifiers=[arn, "/test/find/alpha-two", "/nope"])
    assert [g["logGroupName"] for g in by_id["logGroups"]] == [
        "/test/find/alpha-two",
        "/test/find/beta",
    ]
    assert by_id["logGroups"][1]["logGroupArn"] == arn
    assert logs.describe_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"] == []
    standard = logs.describe_log_groups(logGroupNamePrefix="/test/find/", logGroupClass="STANDARD")
    assert len(standard["logGroups"]) == 3


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("get_log_events", {"logGroupName": "/test/v", "logStreamName": "s", "limit": 0}, "1"),
        (
            "get_log_events",
            {"logGroupName": "/test/v", "logStreamName": "s", "limit": 10001},
            "10000",
        ),
        ("filter_log_events", {"logGroupName": "/test/v", "limit": 10001}, "10000"),
        ("describe_log_streams", {"logGroupName": "/test/v", "limit": 0}, "1"),
        ("describe_log_streams", {"logGroupName": "/test/v", "limit": 51}, "50"),
        ("describe_log_groups", {"limit": 0}, "greater than or equal to 1"),
        ("get_log_events", {"logGroupName": "/test/v"}, "at 'logStreamName'"),
        ("get_log_events", {"logStreamName": "s"}, "logGroupIdentifier is required"),
        ("describe_log_streams", {}, "logGroupIdentifier is required"),
        ("filter_log_events", {"logGroupName": "bad name"}, "regular expression pattern"),
        ("filter_log_events", {"logGroupName": "/test/v", "logStreamNames": []}, "between 1"),
        ("filter_log_events", {"logGroupName": "/test/v", "startTime": -1}, "startTime"),
        ("filter_log_events", {"logGroupName": "/test/v", "filterPattern": '"open'}, "quoted"),
        (
            "filter_log_events",
            {"logGroupName": "/test/v", "filterPattern": "{ $.a > b }"},
            "numbers",
        ),
        ("filter_log_events", {"logGroupName": "/test/v", "filterPattern": "x" * 1025}, "1024"),
        ("filter_log_events", {"logGroupIdentifier": "arn:aws:logs:x"}, "Invalid log group ARN"),
        ("describe_log_streams", {"logGroupName": "/test/v", "orderBy": "Size"}, "enum"),
        ("describe_log_streams", {"logGroupName": "/test/v", "descending": "yes"}, "boolean"),
        ("describe_log_streams", {"logGroupName": "/test/v", "nextToken": "x"}, "nextToken"),
        ("describe_log_groups", {"logGroupClass": "COLD"}, "enum"),
        (
            "describe_log_groups",
            {"logGroupNamePrefix": "/a", "logGroupNamePattern": "b"},
            "mutually exclusive",
        ),
        ("delete_log_group", {}, "at 'logGroupName'"),
        ("delete_log_group", {"logGroupName": "has space"}, "regular expression pattern"),
    ],
)
def test_validation_errors(
    gureum_server: RunningServer, operation: str, params: dict[str, Any], message: str
) -> None:
    put(gureum_server, "/test/v", "s", ["x"])
    raw = client("logs", gureum_server.endpoint, parameter_validation=False)
    with pytest.raises(raw.exceptions.ClientError) as error:
        getattr(raw, operation)(**params)
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("filter_log_events", {"logGroupName": "/no/such"}, GROUP_MISSING),
        ("get_log_events", {"logGroupName": "/no/such", "logStreamName": "s"}, GROUP_MISSING),
        ("get_log_events", {"logGroupName": "/test/nf", "logStreamName": "s2"}, STREAM_MISSING),
        ("get_log_events", {"logGroupName": "/test/nf", "logStreamName": "s-"}, STREAM_MISSING),
        ("describe_log_streams", {"logGroupName": "/no/such"}, GROUP_MISSING),
        ("delete_log_group", {"logGroupName": "/no/such"}, GROUP_MISSING),
    ],
)
def test_resource_not_found(
    gureum_server: RunningServer, logs: Any, operation: str, params: dict[str, Any], message: str
) -> None:
    put(gureum_server, "/test/nf", "s-1", ["x"])
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as error:
        getattr(logs, operation)(**params)
    assert error.value.response["Error"]["Message"] == message
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_empty_window_of_an_existing_stream_is_not_an_error(
    gureum_server: RunningServer, logs: Any
) -> None:
    put(gureum_server, "/test/empty-window", "s", ["x"], start=10_000)
    page = logs.get_log_events(logGroupName="/test/empty-window", logStreamName="s", endTime=10)
    assert page["events"] == []


def test_response_headers_and_internal_errors(
    gureum_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("bug")

    service = json_rpc.JsonRpcService("Gureum_Test", {"Boom": boom}, model="logs", title="Test")
    monkeypatch.setitem(gureum_server.platform.json_rpc.services, "Gureum_Test", service)
    ok = post(gureum_server, b"{}", "Logs_20140328.DescribeLogGroups")
    assert ok.status == 200
    assert ok.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert ok.headers["x-amzn-RequestId"]
    failed = post(gureum_server, b"{}", "Gureum_Test.Boom")
    assert failed.status == 500
    assert json.loads(failed.body)["__type"] == "ServiceUnavailableException"
    assert b"bug" not in failed.body
