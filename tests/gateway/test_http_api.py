"""HTTP APIs' invoke URLs on a real server: routes chosen as API Gateway chooses them,
the 2.0 and 1.0 events a Python function receives, the answers' rules, and API
Gateway's own errors, through plain HTTP (no SDK: a browser's or curl's requests).

The APIs are configured through the gateway's store on the server (the management API
has tests of its own)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from gureum.gateway.gateway_store import Part
from tests.conftest import RunningServer, client

ECHO = """
import json

def handler(event, context):
    if event.get("rawPath", event.get("path", "")).endswith("/answer"):
        return json.loads(event["body"])
    return {"statusCode": 200, "headers": {"x-version": event["version"]},
            "body": json.dumps(event)}
"""


def make_api(
    server: RunningServer,
    function: str,
    routes: list[str],
    *,
    version: str = "2.0",
    stages: tuple[str, ...] = ("$default",),
    timeout_ms: int | None = None,
) -> str:
    integration: dict[str, Any] = {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
        "PayloadFormatVersion": version,
    }
    if timeout_ms is not None:
        integration["TimeoutInMillis"] = timeout_ms
    parts = [Part("", "integration", "int1", integration, 0)]
    parts += [
        Part("", "route", f"r{n}", {"RouteKey": key, "Target": "integrations/int1"}, 0)
        for n, key in enumerate(routes)
    ]
    parts += [
        Part("", "stage", stage, {"StageName": stage, "StageVariables": {"color": "blue"}}, 0)
        for stage in stages
    ]
    gateway = server.platform.gateway
    api = server.call(lambda: gateway.create_api({"Name": "t", "ProtocolType": "HTTP"}, parts))
    return str(api.api_id)


def request(
    server: RunningServer,
    api: str,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes, list[tuple[str, str]]]:
    url = f"{server.endpoint}/_aws/execute-api/{api}{path}"
    sent = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(sent, timeout=60) as answer:
            found = answer.headers.items()
            return answer.status, {k.lower(): v for k, v in found}, answer.read(), found
    except urllib.error.HTTPError as error:
        found = error.headers.items()
        return error.code, {k.lower(): v for k, v in found}, error.read(), found


@pytest.fixture
def echo(deploy: Callable[..., str]) -> str:
    return deploy(ECHO)


def test_the_2_0_event(gureum_server: RunningServer, echo: str) -> None:
    api = make_api(gureum_server, echo, ["GET /items/{id}", "ANY /{proxy+}"])
    status, headers, body, _ = request(
        gureum_server,
        api,
        "/items/a%20b?x=1&x=2&y=",
        headers={"Cookie": "a=1; b=2", "X-Twice": "one", "User-Agent": "test-agent"},
    )
    assert status == 200 and headers["x-version"] == "2.0"
    event = json.loads(body)
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/a%20b" and event["rawQueryString"] == "x=1&x=2&y="
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-twice"] == "one" and "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["apiId"] == api and context["stage"] == "$default"
    assert context["http"]["method"] == "GET" and context["http"]["userAgent"] == "test-agent"
    assert event["stageVariables"] == {"color": "blue"}
    assert event["isBase64Encoded"] is False and "body" not in event
    # a binary body reaches the function base64-encoded; the greedy route takes the rest
    status, _, body, _ = request(
        gureum_server,
        api,
        "/files/a/b.png",
        method="PUT",
        body=b"\x89PNG\x00",
        headers={"Content-Type": "image/png"},
    )
    event = json.loads(body)
    assert event["routeKey"] == "ANY /{proxy+}" and event["pathParameters"] == {
        "proxy": "files/a/b.png"
    }
    assert event["isBase64Encoded"] is True and event["body"] == "iVBORwA="


def test_route_priority(gureum_server: RunningServer, echo: str) -> None:
    api = make_api(
        gureum_server,
        echo,
        ["ANY /pets/{id}", "GET /pets/{id}", "GET /pets/dog", "GET /{proxy+}", "$default"],
    )

    def route(path: str, method: str = "GET") -> str:
        status, _, body, _ = request(gureum_server, api, path, method=method)
        assert status == 200, body
        return str(json.loads(body)["routeKey"])

    assert route("/pets/dog") == "GET /pets/dog"
    assert route("/pets/cat") == "GET /pets/{id}"
    assert route("/pets/cat", "POST") == "ANY /pets/{id}"
    assert route("/pets/cat/toys") == "GET /{proxy+}"
    assert route("/anything", "DELETE") == "$default"


def test_the_2_0_answer_rules(gureum_server: RunningServer, echo: str) -> None:
    api = make_api(gureum_server, echo, ["POST /answer"])

    def answer(result: Any) -> tuple[int, dict[str, str], bytes, list[tuple[str, str]]]:
        return request(
            gureum_server,
            api,
            "/answer",
            method="POST",
            body=json.dumps(result).encode(),
            headers={"Content-Type": "application/json"},
        )

    status, headers, body, _ = answer({"hello": "world"})  # no statusCode: a 200 JSON body
    assert status == 200 and json.loads(body) == {"hello": "world"}
    assert headers["content-type"] == "application/json"
    status, _, body, pairs = answer(
        {
            "statusCode": 201,
            "body": "made",
            "cookies": ["a=1; Path=/", "b=2"],
            "headers": {"content-type": "text/plain"},
        }
    )
    assert (status, body) == (201, b"made")
    assert [v for k, v in pairs if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    status, _, body, _ = answer({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True})
    assert body == b"hi"
    status, _, body, _ = answer({"statusCode": "two hundred"})
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_the_1_0_event_and_its_malformed_answers(gureum_server: RunningServer, echo: str) -> None:
    api = make_api(gureum_server, echo, ["GET /v1/{thing}", "POST /answer"], version="1.0")
    status, headers, body, _ = request(gureum_server, api, "/v1/x?a=1&a=2")
    assert status == 200 and headers["x-version"] == "1.0"
    event = json.loads(body)
    assert event["resource"] == "/v1/{thing}" and event["httpMethod"] == "GET"
    assert event["path"] == "/v1/x" and event["pathParameters"] == {"thing": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["queryStringParameters"] == {"a": "2"} and event["body"] is None
    status, _, body, _ = request(
        gureum_server,
        api,
        "/answer",
        method="POST",
        body=json.dumps({"not": "a response"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 502 and json.loads(body) == {"message": "Internal Server Error"}


def test_gateway_errors(
    gureum_server: RunningServer, echo: str, deploy: Callable[..., str]
) -> None:
    api = make_api(gureum_server, echo, ["GET /only"], stages=("prod",))
    assert request(gureum_server, api, "/prod/only")[0] == 200
    status, _, body, _ = request(gureum_server, api, "/prod/other")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert request(gureum_server, api, "/only")[0] == 404  # no $default stage
    assert request(gureum_server, "nosuchapi0", "/only")[0] == 404
    failing = deploy("def handler(event, context):\n    raise ValueError('no')\n")
    api = make_api(gureum_server, failing, ["$default"])
    status, _, body, _ = request(gureum_server, api, "/x")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    slow = deploy("import time\n\ndef handler(event, context):\n    time.sleep(2)\n", Timeout=10)
    api = make_api(gureum_server, slow, ["$default"], timeout_ms=200)
    status, _, body, _ = request(gureum_server, api, "/x")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    api = make_api(gureum_server, "no-such-function", ["$default"])
    assert request(gureum_server, api, "/x")[0] == 500


def test_host_style_address(gureum_server: RunningServer, echo: str) -> None:
    api = make_api(gureum_server, echo, ["GET /hello"])
    sent = urllib.request.Request(
        f"{gureum_server.endpoint}/hello", headers={"Host": f"{api}.execute-api.localhost"}
    )
    with urllib.request.urlopen(sent, timeout=60) as answer:
        event = json.loads(answer.read())
    assert event["requestContext"]["domainName"] == f"{api}.execute-api.localhost"
    assert event["rawPath"] == "/hello"


def test_cors_as_api_gateway_answers_it(gureum_server: RunningServer, echo: str) -> None:
    from tests.conftest import client

    gateway = client("apigatewayv2", gureum_server.endpoint)
    api = gateway.create_api(
        Name="cors",
        ProtocolType="HTTP",
        Target=f"arn:aws:lambda:us-east-1:000000000000:function:{echo}",
        CorsConfiguration={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type", "x-token"],
            "ExposeHeaders": ["x-version"],
            "MaxAge": 300,
        },
    )["ApiId"]
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    status, headers, body, _ = request(
        gureum_server, api, "/x", method="OPTIONS", headers=preflight
    )
    assert (status, body) == (204, b"")  # answered by the gateway: the function never ran
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "content-type,x-token"
    assert headers["access-control-max-age"] == "300"
    status, headers, _, _ = request(
        gureum_server,
        api,
        "/x",
        method="OPTIONS",
        headers={**preflight, "Origin": "https://evil.example"},
    )
    assert status == 204 and "access-control-allow-origin" not in headers
    status, headers, body, _ = request(
        gureum_server, api, "/x", headers={"Origin": "https://app.example"}
    )
    assert status == 200 and json.loads(body)["requestContext"]["http"]["method"] == "GET"
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-version"
    status, headers, _, _ = request(gureum_server, api, "/x")  # no Origin: no CORS headers
    assert status == 200 and "access-control-allow-origin" not in headers


def test_an_http_api_hands_the_trace_on_and_records_no_segment(
    gureum_server: RunningServer, echo: str
) -> None:
    # HTTP APIs have no tracing setting and no X-Ray segment on AWS (REST APIs' stages
    # have them: gureum/gateway/gateway_segments.py); the caller's trace goes on to the
    # function as it came.
    api = make_api(gureum_server, echo, ["POST /traced"])
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    header = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"
    status, _, body, _ = request(
        gureum_server,
        api,
        "/traced",
        method="POST",
        body=b"{}",
        headers={"X-Amzn-Trace-Id": header},
    )
    assert status == 200
    assert json.loads(body)["headers"]["x-amzn-trace-id"] == header
    xray = client("xray", gureum_server.endpoint)
    deadline = time.monotonic() + 10
    while True:
        traces = xray.batch_get_traces(TraceIds=[root])["Traces"]
        if traces and len(traces[0]["Segments"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    origins = {
        document["origin"]: document
        for document in (json.loads(s["Document"]) for s in traces[0]["Segments"])
    }
    assert set(origins) == {"AWS::Lambda", "AWS::Lambda::Function"}
    assert origins["AWS::Lambda"]["parent_id"] == "53995c3f42cd8ad8"
