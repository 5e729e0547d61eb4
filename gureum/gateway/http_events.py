"""The events an HTTP API hands its function, and what it makes of the answers: payload
formats 2.0 and 1.0, as API Gateway writes and reads them. Pure (no I/O).

2.0 (the developer guide's "Working with AWS Lambda proxy integrations for HTTP APIs"):
header names lower-cased, a header sent more than once joined with commas, cookies in
``cookies``, query parameters joined with commas as well, ``rawPath`` and
``rawQueryString`` as sent, a body that is not text base64-encoded. An answer with a
``statusCode`` is taken as a response (``headers``, ``cookies`` as Set-Cookie headers
of their own, ``body``, ``isBase64Encoded``); any other valid JSON becomes a 200 with
the answer as its JSON body.

1.0 (REST APIs' format): ``headers`` and ``multiValueHeaders``, the same for the query,
``null`` for what is absent; the answer must be a response object with an integer
``statusCode``, or the client gets 502. A REST API's event (:func:`event_rest`) is 1.0's
without ``version``, and a REST API takes no answer with members beyond the response's
five.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

#: Content types whose bodies reach the function as text (others are base64-encoded).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What the gateway received, as the events need it."""

    method: str
    #: The path as sent (stage prefix included for a named stage), not decoded.
    raw_path: str
    #: The path the route was matched on (without a named stage's prefix).
    route_path: str
    raw_query: str
    #: Headers in order, names as sent.
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class RequestContext:
    api_id: str
    account_id: str
    domain_name: str
    stage: str
    route_key: str
    request_id: str
    time_ms: int
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own answers: ``{"message": ...}`` with its status."""
    return HttpResponse(
        status,
        [("content-type", "application/json")],
        json.dumps({"message": message}).encode(),
    )


def _is_text(headers: Mapping[str, str]) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return not kind or kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES)


def _body(request: HttpRequest, joined: Mapping[str, str]) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if _is_text(joined):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def _joined(pairs: Sequence[tuple[str, str]], *, lower: bool) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _time(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def event_v2(request: HttpRequest, context: RequestContext) -> dict[str, Any]:
    """The payload format 2.0 event."""
    cookies = [
        cookie.strip()
        for name, value in request.headers
        if name.lower() == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]
    headers = _joined([(n, v) for n, v in request.headers if n.lower() != "cookie"], lower=True)
    query = _joined(parse_qsl(request.raw_query, keep_blank_values=True), lower=False)
    body, encoded = _body(request, headers)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": context.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": context.account_id,
        "apiId": context.api_id,
        "domainName": context.domain_name,
        "domainPrefix": context.domain_name.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": context.request_id,
        "routeKey": context.route_key,
        "stage": context.stage,
        "time": _time(context.time_ms),
        "timeEpoch": context.time_ms,
    }
    if body is not None:
        event["body"] = body
    if context.path_parameters:
        event["pathParameters"] = dict(context.path_parameters)
    event["isBase64Encoded"] = encoded
    if context.stage_variables:
        event["stageVariables"] = dict(context.stage_variables)
    return event


def event_v1(request: HttpRequest, context: RequestContext, resource: str) -> dict[str, Any]:
    """The payload format 1.0 event (``resource``: the route's path, ``$default`` as is)."""
    headers = _joined(request.headers, lower=False)
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    pairs = parse_qsl(request.raw_query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_query.setdefault(name, []).append(value)
    body, encoded = _body(request, {k.lower(): v for k, v in headers.items()})
    user_agent = next((v for n, v in request.headers if n.lower() == "user-agent"), None)
    return {
        "version": "1.0",
        "resource": resource,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": context.domain_name,
            "domainPrefix": context.domain_name.split(".")[0],
            "extendedRequestId": context.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": request.raw_path,
            "protocol": request.protocol,
            "requestId": context.request_id,
            "requestTime": _time(context.time_ms),
            "requestTimeEpoch": context.time_ms,
            "resourceId": context.route_key,
            "resourcePath": resource,
            "stage": context.stage,
        },
        "pathParameters": dict(context.path_parameters) or None,
        "stageVariables": dict(context.stage_variables) or None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def event_rest(
    request: HttpRequest, context: RequestContext, resource: str, resource_id: str
) -> dict[str, Any]:
    """A REST API's Lambda proxy event: 1.0's without ``version``, ``path`` the path
    within the stage (``requestContext.path`` keeps the stage), and the resource's id."""
    event = event_v1(request, context, resource)
    del event["version"]
    event["path"] = request.route_path
    event["requestContext"]["resourceId"] = resource_id
    return event


#: What a REST API's Lambda proxy answer may hold (any other member: malformed).
REST_ANSWER_MEMBERS = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)


def _response_body(answer: Mapping[str, Any]) -> bytes | None:
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        return None
    if answer.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    return body.encode()


def _header_pairs(answer: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    pairs: list[tuple[str, str]] = []
    headers = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(headers, Mapping) or not isinstance(multi, Mapping):
        return None
    for name, value in headers.items():
        if name in multi:
            continue
        pairs.append((str(name), _text(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            return None
        pairs += [(str(name), _text(value)) for value in values]
    return pairs


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def response_v2(payload: bytes, malformed: HttpResponse | None = None) -> HttpResponse:
    """A 2.0 answer read as API Gateway reads it (``malformed``: the answer to one that
    cannot be read; API Gateway's 500 unless given)."""
    unusable = malformed or error_response(500, "Internal Server Error")
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return unusable
    if isinstance(answer, dict) and "statusCode" in answer:
        status = answer["statusCode"]
        body = _response_body(answer)
        headers = _header_pairs(answer)
        cookies = answer.get("cookies") or []
        if (
            not isinstance(status, int)
            or isinstance(status, bool)
            or not 100 <= status <= 599
            or body is None
            or headers is None
            or not isinstance(cookies, list)
        ):
            return unusable
        headers += [("set-cookie", str(cookie)) for cookie in cookies]
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
        return HttpResponse(status, headers, body)
    # Valid JSON without a statusCode: the answer is the body of a 200.
    content = payload if answer is not None else b""
    return HttpResponse(200, [("content-type", "application/json")], content)


def response_v1(
    payload: bytes,
    malformed: HttpResponse | None = None,
    *,
    members: frozenset[str] | None = None,
) -> HttpResponse:
    """A 1.0 answer: a response object, or ``malformed`` (API Gateway's malformed proxy
    response: an HTTP API's 502 unless given), as is one with a member not in
    ``members`` (when given: a REST API's :data:`REST_ANSWER_MEMBERS`)."""
    unusable = malformed or error_response(502, "Internal Server Error")
    try:
        answer = json.loads(payload)
    except ValueError:
        return unusable
    if not isinstance(answer, dict) or (members is not None and not answer.keys() <= members):
        return unusable
    status = answer.get("statusCode")
    body = _response_body(answer)
    headers = _header_pairs(answer)
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not 100 <= status <= 599
        or body is None
        or headers is None
    ):
        return unusable
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, headers, body)
