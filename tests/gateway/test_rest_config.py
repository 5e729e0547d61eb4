"""REST APIs' configuration rules and proxy event, as pure functions (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.errors import (
    BadRequestException,
    ConflictException,
    NotImplementedException,
    ServiceError,
)
from gureum.gateway import http_events, rest_config
from gureum.gateway.http_events import HttpRequest, RequestContext

URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:000000000000:function:f/invocations"
)


@pytest.mark.parametrize("part", ["items", "a.b-c_d", "{id}", "{proxy+}"])
def test_path_parts(part: str) -> None:
    assert rest_config.check_path_part(part) == part


@pytest.mark.parametrize("part", ["", "a/b", "{id", "id}", "{a+b}", "{}", "x y", 3])
def test_bad_path_parts(part: Any) -> None:
    with pytest.raises(BadRequestException):
        rest_config.check_path_part(part)


@pytest.mark.parametrize(
    ("parent", "siblings", "part", "error"),
    [
        ({"path": "/"}, [{"pathPart": "items"}], "items", ConflictException),
        ({"path": "/"}, [{"pathPart": "{id}"}], "{other}", BadRequestException),
        ({"path": "/{proxy+}", "pathPart": "{proxy+}"}, [], "x", BadRequestException),
        ({"path": "/{id}/x", "pathPart": "x"}, [], "{id}", BadRequestException),
    ],
)
def test_children_refused(
    parent: dict[str, Any], siblings: list[dict[str, Any]], part: str, error: type[ServiceError]
) -> None:
    with pytest.raises(error):
        rest_config.check_child(parent, siblings, part)


def test_children_allowed() -> None:
    rest_config.check_child({"path": "/"}, [{"pathPart": "{id}"}], "items")
    rest_config.check_child({"path": "/items", "pathPart": "items"}, [], "{items}")
    assert rest_config.child_path("/", "a") == "/a"
    assert rest_config.child_path("/a", "{b}") == "/a/{b}"


def test_integrations() -> None:
    given = {"type": "AWS_PROXY", "httpMethod": "POST", "uri": URI}
    checked = rest_config.check_integration(dict(given))
    assert checked["timeoutInMillis"] == 29000 and checked["connectionType"] == "INTERNET"
    assert checked["passthroughBehavior"] == "WHEN_NO_MATCH"
    for kind in ("HTTP", "HTTP_PROXY", "AWS", "MOCK"):
        with pytest.raises(NotImplementedException, match=kind):
            rest_config.check_integration({**given, "type": kind})
    for bad in (
        {"type": None},
        {"type": "SOAP"},
        {"uri": "arn:aws:lambda:us-east-1:000000000000:function:f"},
        {"uri": None},
        {"httpMethod": "GET"},
        {"httpMethod": None},
        {"timeoutInMillis": 29001},
        {"timeoutInMillis": 49},
    ):
        with pytest.raises(BadRequestException):
            rest_config.check_integration({k: v for k, v in {**given, **bad}.items() if v})
    with pytest.raises(NotImplementedException):
        rest_config.check_integration({**given, "connectionType": "VPC_LINK"})


def test_authorization() -> None:
    rest_config.check_authorization({"authorizationType": "NONE"})
    rest_config.check_authorization({"authorizationType": "AWS_IAM"})
    with pytest.raises(NotImplementedException):
        rest_config.check_authorization({"authorizationType": "CUSTOM"})
    with pytest.raises(BadRequestException):
        rest_config.check_authorization({})


def test_patch_operations() -> None:
    paths = {"/name": "name", "/variables/": "variables"}
    config = {"name": "a", "variables": {"x": "1"}}
    patched = rest_config.patched(
        config,
        [
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "add", "path": "/variables/y", "value": "2"},
            {"op": "remove", "path": "/variables/x"},
        ],
        paths,
    )
    assert patched == {"name": "b", "variables": {"y": "2"}}
    assert config == {"name": "a", "variables": {"x": "1"}}  # (a copy)
    with pytest.raises(NotImplementedException, match="/policy"):
        rest_config.patched(config, [{"op": "replace", "path": "/policy"}], paths)
    with pytest.raises(NotImplementedException):
        rest_config.patched(config, [{"op": "replace", "path": "/variables/"}], paths)
    with pytest.raises(BadRequestException):
        rest_config.patched(config, [{"op": "copy", "path": "/name"}], paths)


def test_the_rest_event_and_strict_answers() -> None:
    request = HttpRequest(
        method="GET",
        raw_path="/prod/items/1",
        route_path="/items/1",
        raw_query="",
        headers=[("host", "x")],
        body=b"",
        source_ip="10.0.0.1",
    )
    context = RequestContext(
        api_id="a",
        account_id="000000000000",
        domain_name="a.execute-api.localhost",
        stage="prod",
        route_key="/items/{id}",
        request_id="r",
        time_ms=0,
        path_parameters={"id": "1"},
    )
    event = http_events.event_rest(request, context, "/items/{id}", "res1")
    assert "version" not in event and event["path"] == "/items/1"
    assert event["requestContext"]["path"] == "/prod/items/1"
    assert event["requestContext"]["resourceId"] == "res1"
    assert event["requestContext"]["resourcePath"] == "/items/{id}"
    assert event["stageVariables"] is None
    malformed = http_events.error_response(502, "Internal server error")
    members = http_events.REST_ANSWER_MEMBERS

    def read(answer: Any) -> int:
        payload = json.dumps(answer).encode()
        return http_events.response_v1(payload, malformed, members=members).status

    assert read({"statusCode": 204}) == 204
    assert read({"statusCode": 200, "body": "", "multiValueHeaders": {"a": ["1"]}}) == 200
    assert read({"statusCode": 200, "cookies": []}) == 502
    assert read({"statusCode": 200, "extra": 1}) == 502
    # an HTTP API's 1.0 answers are not held to the five members
    assert http_events.response_v1(json.dumps({"statusCode": 200, "x": 1}).encode()).status == 200


def test_stage_variables_in_the_uri() -> None:
    uri = URI.replace("function:f/", "function:${stageVariables.fn}/")
    given = {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri}
    assert rest_config.check_integration(dict(given))["uri"] == uri  # kept as given
    assert rest_config.with_stage_variables(uri, {"fn": "g"}) == URI.replace(":f/", ":g/")
    assert rest_config.with_stage_variables(uri, {}) is None
    assert rest_config.with_stage_variables(URI, {}) == URI
    with pytest.raises(BadRequestException):  # the rest of it is still checked
        rest_config.check_integration({**given, "uri": uri.replace("lambda:path", "x")})


def test_unsupported_members_are_refused_unless_they_ask_nothing() -> None:
    rest_config.refuse_unsupported({"a": 1}, {"a"}, "Op")
    nothing: list[Any] = [None, False, [], {}]
    for value in nothing:
        rest_config.refuse_unsupported({"b": value}, {"a"}, "Op")
    something: list[Any] = [0, True, ["x"], {"k": "v"}, ""]
    for value in something:
        with pytest.raises(NotImplementedException, match="b"):
            rest_config.refuse_unsupported({"b": value}, {"a"}, "Op")
