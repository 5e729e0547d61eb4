"""InvokeWithResponseStream through boto3 on a real server: a Node.js function that
streams is read while it writes, its failure comes in ``InvokeComplete``, and a function
that does not stream (Python's) answers in one ``PayloadChunk``."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from gureum.frontend import event_stream
from gureum.frontend.stream_invoke import complete_event
from tests.conftest import ROLE, unique_name, zip_files

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH")

TICKS = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  for (let i = 0; i < event.count; i++) {
    responseStream.write(`tick ${i} ${Date.now()}\\n`);
    await new Promise((resolve) => setTimeout(resolve, event.delay));
  }
  if (event.fail) {
    throw new Error('broke after the ticks');
  }
  console.log('all ticks written');
  responseStream.end();
});
"""


def test_events_decode_as_botocore_decodes_them() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event_stream.event("PayloadChunk", b"\x00abc", "application/octet-stream"))
    buffer.add_data(complete_event("Error", b'{"errorMessage":"boom"}', b"log"))
    messages: list[Any] = list(buffer)  # (botocore's stubs type their fields wrongly)
    chunk, complete = messages
    assert chunk.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert chunk.payload == b"\x00abc"
    assert json.loads(complete.payload) == {
        "ErrorCode": "Error",
        "ErrorDetails": "boom",
        "LogResult": base64.b64encode(b"log").decode(),
    }


@pytest.fixture
def node_function(lambda_client: Any) -> Callable[[str], str]:
    def create(code: str) -> str:
        name = unique_name("stream")
        lambda_client.create_function(
            FunctionName=name,
            Runtime="nodejs20.x",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_files({"index.js": code})},
            Timeout=10,
        )
        return name

    return create


@needs_node
def test_chunks_arrive_while_the_function_still_writes(
    lambda_client: Any, node_function: Callable[[str], str]
) -> None:
    name = node_function(TICKS)
    response = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"count": 4, "delay": 200}), LogType="Tail"
    )
    assert response["StatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = iter(response["EventStream"])
    first = next(events)
    first_at = time.time() * 1000
    assert first["PayloadChunk"]["Payload"].startswith(b"tick 0 ")
    rest = list(events)
    body = first["PayloadChunk"]["Payload"] + b"".join(
        event["PayloadChunk"]["Payload"] for event in rest if "PayloadChunk" in event
    )
    ticks = body.decode().splitlines()
    assert [tick.split()[1] for tick in ticks] == ["0", "1", "2", "3"]
    # The first chunk was in hand before the last was written.
    assert first_at < int(ticks[3].split()[2])
    complete = rest[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "all ticks written" in base64.b64decode(complete["LogResult"]).decode()

    # A plain Invoke of the same function gets the body whole.
    plain = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"count": 2, "delay": 1}))
    assert "FunctionError" not in plain
    assert plain["Payload"].read().decode().count("tick") == 2


@needs_node
def test_an_error_mid_stream_ends_in_invoke_complete(
    lambda_client: Any, node_function: Callable[[str], str]
) -> None:
    name = node_function(TICKS)
    response = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"count": 2, "delay": 10, "fail": True})
    )
    events = list(response["EventStream"])
    body = b"".join(event["PayloadChunk"]["Payload"] for event in events[:-1])
    assert body.decode().count("tick") == 2
    assert events[-1]["InvokeComplete"] == {
        "ErrorCode": "Error",
        "ErrorDetails": "broke after the ticks",
    }


@needs_node
def test_a_timeout_mid_stream_ends_in_invoke_complete(lambda_client: Any) -> None:
    name = unique_name("stream")
    code = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('started');
  await new Promise((resolve) => setTimeout(resolve, 5000));
});
"""
    lambda_client.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_files({"index.js": code})},
        Timeout=1,
    )
    events = list(lambda_client.invoke_with_response_stream(FunctionName=name)["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b"started"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


def test_a_function_that_does_not_stream_answers_in_one_chunk(
    lambda_client: Any, deploy: Callable[..., str]
) -> None:
    name = deploy(
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('no good')\n"
        "    return {'got': event}\n"
    )
    events = list(
        lambda_client.invoke_with_response_stream(
            FunctionName=name, Payload=b'{"n": 1}', LogType="Tail"
        )["EventStream"]
    )
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {"got": {"n": 1}}
    assert len(events) == 2 and "ErrorCode" not in events[1]["InvokeComplete"]
    assert "START RequestId" in base64.b64decode(events[1]["InvokeComplete"]["LogResult"]).decode()

    failed = list(
        lambda_client.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')[
            "EventStream"
        ]
    )
    assert failed == [{"InvokeComplete": {"ErrorCode": "ValueError", "ErrorDetails": "no good"}}]

    dry = lambda_client.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204


def test_errors_before_the_function_runs_are_the_calls_answer(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke_with_response_stream(FunctionName=unique_name("missing"))
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke_with_response_stream(FunctionName="any", Payload=b"{not json")


CUSTOM_RUNTIME = """
import base64, http.client, json, os, time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = http.client.HTTPConnection(host, int(port))
base = "/2018-06-01/runtime/invocation"
while True:
    api.request("GET", base + "/next")
    answer = api.getresponse()
    event = json.loads(answer.read())
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    api.putrequest("POST", f"{base}/{request_id}/response")
    api.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    api.putheader("Transfer-Encoding", "chunked")
    api.putheader("Content-Type", "text/plain")
    api.endheaders()
    for i in range(3):
        data = f"part {i} {time.time() * 1000:.0f}\\n".encode()
        api.send(b"%x\\r\\n%s\\r\\n" % (len(data), data))
        time.sleep(0.2)
    if event.get("fail"):
        error = base64.b64encode(b'{"errorType":"Custom.Broken","errorMessage":"it broke"}')
        api.send(b"0\\r\\nLambda-Runtime-Function-Error-Type: Custom.Broken\\r\\n"
                 b"Lambda-Runtime-Function-Error-Body: " + error + b"\\r\\n\\r\\n")
    else:
        api.send(b"0\\r\\n\\r\\n")
    api.getresponse().read()
"""


def test_a_custom_runtime_streams_through_the_runtime_api(lambda_client: Any) -> None:
    """A ``provided`` runtime of its own (Python's http.client) streams with the Runtime
    API's chunked response, as a custom runtime on Lambda may."""
    name = unique_name("custom-stream")
    bootstrap = '#!/bin/sh\nexec /usr/bin/python3 "$LAMBDA_TASK_ROOT/runtime.py"\n'
    lambda_client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="unused",
        Code={
            "ZipFile": zip_files(
                {"bootstrap": bootstrap, "runtime.py": CUSTOM_RUNTIME}, {"bootstrap": 0o755}
            )
        },
        Timeout=10,
    )
    events = iter(lambda_client.invoke_with_response_stream(FunctionName=name)["EventStream"])
    first = next(events)["PayloadChunk"]["Payload"]
    first_at = time.time() * 1000
    rest = list(events)
    body = first + b"".join(e["PayloadChunk"]["Payload"] for e in rest if "PayloadChunk" in e)
    parts = body.decode().splitlines()
    assert [part.split()[1] for part in parts] == ["0", "1", "2"]
    assert first_at < int(parts[2].split()[2])
    assert rest[-1] == {"InvokeComplete": {}}

    failed = list(
        lambda_client.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')[
            "EventStream"
        ]
    )
    assert failed[-1] == {
        "InvokeComplete": {"ErrorCode": "Custom.Broken", "ErrorDetails": "it broke"}
    }


@needs_node
def test_a_stream_may_pass_the_6_mb_of_a_buffered_answer(
    lambda_client: Any, node_function: Callable[[str], str]
) -> None:
    name = node_function("""
const piece = Buffer.alloc(64 * 1024, 'x');
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let i = 0; i < event.pieces; i++) {
    if (!responseStream.write(piece)) {
      await new Promise((resolve) => responseStream.once('drain', resolve));
    }
  }
  responseStream.end();
});
""")
    pieces = 8 * 16  # 8 MB
    events = list(
        lambda_client.invoke_with_response_stream(
            FunctionName=name, Payload=json.dumps({"pieces": pieces})
        )["EventStream"]
    )
    size = sum(len(e["PayloadChunk"]["Payload"]) for e in events if "PayloadChunk" in e)
    assert size == pieces * 64 * 1024 and events[-1] == {"InvokeComplete": {}}

    # Whole, the same answer is over a buffered answer's limit.
    plain = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"pieces": pieces}))
    assert plain["FunctionError"] == "Unhandled"
    assert json.loads(plain["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"
