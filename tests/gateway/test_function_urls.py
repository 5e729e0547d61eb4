"""Lambda function URLs: the Lambda API's URL operations through boto3 (on each store
engine), and requests to the URLs through plain HTTP (urllib), unsigned for AuthType
NONE and signed as botocore signs for AWS_IAM."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gureum.gateway import cors
from gureum.gateway.http_events import HttpResponse
from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    server_on,
    signed_request,
    unique_name,
    zip_files,
)

ECHO = """
import json

def handler(event, context):
    if event["rawPath"] == "/fail":
        raise RuntimeError("no")
    if event["rawPath"] == "/plain":
        return {"hello": "world"}
    return {"statusCode": 201, "headers": {"x-answer": "yes",
            "access-control-allow-origin": "https://evil.example"},
            "body": json.dumps(event)}
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def url_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with server_on(request.param, Path(tmp_path_factory.mktemp("urls"))) as server:
        yield server


@pytest.fixture
def lam(url_server: RunningServer) -> Any:
    return client("lambda", url_server.endpoint)


@pytest.fixture
def echo(lam: Any) -> str:
    name = unique_name()
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": ECHO})},
    )
    return name


def _error(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as caught:
        call(**params)
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    return str(error["Code"]), str(error["Message"])


def fetch(
    request: urllib.request.Request,
) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_operations_and_their_errors(lam: Any, echo: str, url_server: RunningServer) -> None:
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 60}
    created = lam.create_function_url_config(FunctionName=echo, AuthType="NONE", Cors=cors)
    url = created["FunctionUrl"]
    assert url.startswith(f"{url_server.endpoint}/_aws/lambda-url/") and url.endswith("/")
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    assert len(url_id) == 32 and url_id.isalnum() and url_id.lower() == url_id
    assert created["FunctionArn"].endswith(f":function:{echo}")
    assert created["AuthType"] == "NONE" and created["Cors"] == cors
    assert created["InvokeMode"] == "BUFFERED" and created["CreationTime"].endswith("Z")
    got = lam.get_function_url_config(FunctionName=echo)
    assert got["FunctionUrl"] == url and got["LastModifiedTime"] == got["CreationTime"]
    code, message = _error(lam.create_function_url_config, FunctionName=echo, AuthType="NONE")
    assert code == "ResourceConflictException" and "exists" in message
    updated = lam.update_function_url_config(FunctionName=echo, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"] == cors
    assert updated["FunctionUrl"] == url
    listed = lam.list_function_url_configs(FunctionName=echo)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]
    code, message = _error(
        lam.create_function_url_config, FunctionName=echo, AuthType="NONE", Qualifier="nope"
    )
    assert code == "ResourceNotFoundException"
    code, message = _error(
        lam.create_function_url_config, FunctionName=echo, AuthType="NONE", Qualifier="1"
    )
    assert code == "ValidationException"
    code, message = _error(lam.update_function_url_config, FunctionName=echo, AuthType="BASIC")
    assert code == "ValidationException" and "[NONE, AWS_IAM]" in message
    streaming = lam.update_function_url_config(FunctionName=echo, InvokeMode="RESPONSE_STREAM")
    assert streaming["InvokeMode"] == "RESPONSE_STREAM" and streaming["AuthType"] == "AWS_IAM"
    code, message = _error(lam.update_function_url_config, FunctionName=echo, InvokeMode="X")
    assert code == "ValidationException" and "[BUFFERED, RESPONSE_STREAM]" in message
    code, _ = _error(lam.get_function_url_config, FunctionName="no-such-function")
    assert code == "ResourceNotFoundException"
    lam.delete_function_url_config(FunctionName=echo)
    code, message = _error(lam.get_function_url_config, FunctionName=echo)
    assert code == "ResourceNotFoundException"
    code, _ = _error(lam.delete_function_url_config, FunctionName=echo)
    assert code == "ResourceNotFoundException"
    # deleting the function deletes its URLs
    url = lam.create_function_url_config(FunctionName=echo, AuthType="NONE")["FunctionUrl"]
    lam.delete_function(FunctionName=echo)
    status, _, _ = fetch(urllib.request.Request(url))
    assert status == 404
    store = url_server.platform.urls
    assert url_server.call(lambda: store.of_function(echo)) == []


def test_auth_none_invokes_with_the_2_0_event(lam: Any, echo: str) -> None:
    url = lam.create_function_url_config(FunctionName=echo, AuthType="NONE")["FunctionUrl"]
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    sent = urllib.request.Request(
        url + "items/a?x=1",
        data=b'{"a": 1}',
        method="POST",
        headers={"Cookie": "c=1", "Content-Type": "application/json"},
    )
    status, headers, body = fetch(sent)
    assert status == 201 and headers["x-answer"] == "yes"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/a" and event["rawQueryString"] == "x=1"
    assert event["body"] == '{"a": 1}' and event["cookies"] == ["c=1"]
    context = event["requestContext"]
    assert context["apiId"] == url_id and context["stage"] == "$default"
    assert context["domainName"] == f"{url_id}.lambda-url.localhost"
    assert "authorizer" not in context and "stageVariables" not in event
    status, _, body = fetch(urllib.request.Request(url + "plain"))
    assert status == 200 and json.loads(body) == {"hello": "world"}
    status, _, body = fetch(urllib.request.Request(url + "fail"))
    assert status == 502 and json.loads(body) == {"Message": "Internal Server Error"}
    # host-style: Host {url-id}.lambda-url.localhost on the edge's port
    base = url.split("/_aws/")[0]
    sent = urllib.request.Request(
        base + "/hosted", headers={"Host": f"{url_id}.lambda-url.localhost"}
    )
    status, _, body = fetch(sent)
    assert status == 201 and json.loads(body)["rawPath"] == "/hosted"
    status, _, body = fetch(urllib.request.Request(base + "/_aws/lambda-url/" + "x" * 32 + "/"))
    assert status == 404 and json.loads(body) == {"Message": "Not Found"}


def test_auth_aws_iam_needs_a_signature(lam: Any, echo: str) -> None:
    url = lam.create_function_url_config(FunctionName=echo, AuthType="AWS_IAM")["FunctionUrl"]
    status, _, body = fetch(urllib.request.Request(url + "x"))
    assert status == 403 and json.loads(body) == {"Message": "Forbidden"}
    status, _, _ = fetch(signed_request(url + "x", secret="wrong"))
    assert status == 403
    status, _, body = fetch(signed_request(url + "x", service="sqs"))
    assert status == 403
    status, _, body = fetch(signed_request(url + "x", method="POST", data=b"{}"))
    assert status == 201, body
    iam = json.loads(body)["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "test" and iam["accountId"] == "000000000000"
    assert iam["userArn"] and iam["callerId"]


def test_cors(lam: Any, echo: str) -> None:
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-answer"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    url = lam.create_function_url_config(FunctionName=echo, AuthType="NONE", Cors=cors)[
        "FunctionUrl"
    ]
    sent = urllib.request.Request(
        url + "x",
        method="OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    status, headers, body = fetch(sent)
    assert status == 200 and body == b""  # answered without the function
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "x-custom"
    assert headers["access-control-max-age"] == "300"
    assert headers["access-control-allow-credentials"] == "true"
    sent = urllib.request.Request(url + "x", headers={"Origin": "https://app.example"})
    status, headers, _ = fetch(sent)
    assert status == 201 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-answer"
    sent = urllib.request.Request(url + "x", headers={"Origin": "https://other.example"})
    status, headers, _ = fetch(sent)
    assert headers["access-control-allow-origin"] == "https://evil.example"  # the function's


def test_an_alias_url(lam: Any, echo: str) -> None:
    version = lam.publish_version(FunctionName=echo)["Version"]
    lam.create_alias(FunctionName=echo, Name="live", FunctionVersion=version)
    created = lam.create_function_url_config(FunctionName=echo, Qualifier="live", AuthType="NONE")
    assert created["FunctionArn"].endswith(f":function:{echo}:live")
    latest = lam.create_function_url_config(FunctionName=echo, AuthType="NONE")
    assert latest["FunctionUrl"] != created["FunctionUrl"]
    got = lam.get_function_url_config(FunctionName=echo, Qualifier="live")
    assert got["FunctionUrl"] == created["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=echo, MaxItems=1)
    assert len(listed["FunctionUrlConfigs"]) == 1 and listed["NextMarker"]
    status, _, body = fetch(urllib.request.Request(created["FunctionUrl"] + "v"))
    assert status == 201 and json.loads(body)["rawPath"] == "/v"
    # deleting the alias deletes its URL
    lam.delete_alias(FunctionName=echo, Name="live")
    code, _ = _error(lam.get_function_url_config, FunctionName=echo, Qualifier="live")
    assert code == "ResourceNotFoundException"
    lam.get_function_url_config(FunctionName=echo)


def test_cors_rules_are_pure() -> None:
    wildcard = {"AllowOrigins": ["*"], "AllowMethods": ["*"]}
    asked = [("Origin", "https://a.example"), ("Access-Control-Request-Method", "DELETE")]
    answer = cors.preflight(wildcard, "OPTIONS", asked, status=200)
    assert answer is not None and answer.status == 200
    assert ("access-control-allow-origin", "*") in answer.headers
    refused = cors.preflight(
        {"AllowOrigins": ["https://b.example"], "AllowMethods": ["*"]}, "OPTIONS", asked
    )
    assert refused is not None
    assert not any(n.startswith("access-control-") for n, _ in refused.headers)
    only_get = cors.preflight({"AllowOrigins": ["*"], "AllowMethods": ["GET"]}, "OPTIONS", asked)
    assert only_get is not None and not any(n.startswith("access-") for n, _ in only_get.headers)
    assert cors.preflight(wildcard, "GET", asked) is None  # not a preflight
    plain = HttpResponse(200, [("content-type", "text/plain")], b"")
    elsewhere = {"AllowOrigins": ["https://b.example"]}
    assert cors.decorate(elsewhere, [("Origin", "https://a.example")], plain) == plain


def test_a_throttled_function_is_429(lam: Any, echo: str) -> None:
    url = lam.create_function_url_config(FunctionName=echo, AuthType="NONE")["FunctionUrl"]
    lam.put_function_concurrency(FunctionName=echo, ReservedConcurrentExecutions=0)
    status, _, body = fetch(urllib.request.Request(url))
    assert status == 429 and json.loads(body) == {"Message": "Too Many Requests"}
