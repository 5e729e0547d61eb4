"""Request bodies that no parser should choke on: nested past any limit, in every JSON
API, answered 400 in the service's own shape, never 500."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from gureum import untrusted_json
from gureum.observe import filter_pattern
from gureum.workers.runtime_api import error_type_of
from tests.conftest import ROLE, RunningServer, zip_files
from tests.frontend.conftest import InProcessEdge

DEEP = [b"[" * 100_000, b'{"a":' * 3_000, b"[" * 5_000 + b"]" * 5_000]


def _refused(request: urllib.request.Request) -> tuple[int, Any, Any]:
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    return raised.value.code, raised.value.headers, json.loads(raised.value.read())


def test_untrusted_json_never_recurses() -> None:
    for body in DEEP:
        with pytest.raises(untrusted_json.TooDeep):
            untrusted_json.loads(body)
    assert untrusted_json.loads(b"[" * 1024 + b"]" * 1024)
    assert untrusted_json.loads('"\\ud800"') == "\ud800"  # (orjson refuses it)
    with pytest.raises(ValueError, match="Non-standard token 'NaN'"):
        untrusted_json.loads("[NaN]")
    with pytest.raises(ValueError, match="Expecting property name"):
        untrusted_json.loads(b"{nope")


def test_deep_bodies_to_each_api(edge: InProcessEdge) -> None:
    created = edge.request(
        "POST",
        "/2015-03-31/functions",
        json.dumps(
            {
                "FunctionName": "deep",
                "Runtime": "python3.11",
                "Role": ROLE,
                "Handler": "app.handler",
                "Code": {"ZipFile": base64.b64encode(zip_files({"app.py": "x = 1\n"})).decode()},
            }
        ).encode(),
    )
    assert created.status_code == 201, created.text
    for body in DEEP:
        answer = edge.request("POST", "/2015-03-31/functions", body)
        assert answer.status_code == 400
        assert answer.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
        answer = edge.request("POST", "/2015-03-31/functions/deep/invocations", body)
        assert answer.status_code == 400
        assert answer.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
        assert "nested deeper than 1024 levels" in answer.json()["message"]
        answer = edge.target("AmazonSQS.ListQueues", body, "sqs")
        assert answer.status_code == 400
        assert answer.json()["__type"] == "com.amazonaws.sqs#SerializationException"
        assert answer.headers["x-amzn-query-error"] == "SerializationException;Sender"
        answer = edge.target("Logs_20140328.DescribeLogGroups", body, "logs")
        assert (answer.status_code, answer.json()["__type"]) == (400, "SerializationException")
        answer = edge.request("POST", "/TraceSummaries", body, service="xray")
        assert answer.status_code == 400


def test_deep_documents_from_functions_and_logs() -> None:
    for body in DEEP:
        assert error_type_of(body, None) == "Runtime.Unknown"
        assert not filter_pattern.parse('{ $.a = "b" }').matches(body.decode())


def _declared(server: RunningServer, path: str, length: int, extra: str = "") -> bytes:
    """What the edge answers a request that declares ``length`` bytes and sends none."""
    with socket.create_connection(("127.0.0.1", server.settings.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}\r\n".encode()
        )
        return sock.recv(65536)


def test_a_declared_length_over_the_limit_is_answered_at_once(gureum_server: RunningServer) -> None:
    # Unsigned, and no body follows: an edge that read first would wait for it forever.
    answer = _declared(gureum_server, "/2015-03-31/functions", 10**12)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"RequestTooLargeException" in answer
    answer = _declared(gureum_server, "/2015-03-31/functions/f/invocations", 6 * 2**20 + 1)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"smaller than 6291456 bytes for the InvokeFunction operation" in answer
    event = "X-Amz-Invocation-Type: Event\r\n"
    answer = _declared(gureum_server, "/2015-03-31/functions/f/invocations", 2**20 + 1, event)
    assert b"smaller than 1048576 bytes" in answer
    answer = _declared(gureum_server, "/", 10**12, "X-Amz-Target: AmazonSQS.SendMessage\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"com.amazonaws.sqs#RequestTooLargeException" in answer
