"""The events a WebSocket API's functions receive, as API Gateway writes them (pure).

Three kinds, by ``requestContext.eventType``: ``CONNECT`` (the upgrade request's headers
and query string), ``MESSAGE`` (a client's message as ``body``, its ``messageId``) and
``DISCONNECT`` (the close's ``disconnectStatusCode`` and ``disconnectReason``). Every
request context names the connection (``connectionId``, ``connectedAt``), the API
(``apiId``, ``domainName``, ``stage``) and the client (``identity.sourceIp``,
``userAgent``). Also here: the route a message selects (``$request.body.action``).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

#: Headers whose usual spelling is not the title case of their words.
_SPELLINGS = {
    "sec-websocket-key": "Sec-WebSocket-Key",
    "sec-websocket-version": "Sec-WebSocket-Version",
    "sec-websocket-extensions": "Sec-WebSocket-Extensions",
    "sec-websocket-protocol": "Sec-WebSocket-Protocol",
    "x-amzn-trace-id": "X-Amzn-Trace-Id",
}
_EXPRESSION = re.compile(r"\$request\.body\.([A-Za-z0-9_$\-]+(?:\.[A-Za-z0-9_$\-]+)*)")
_BRACED = re.compile(r"\$\{request\.body\.([A-Za-z0-9_$\-]+(?:\.[A-Za-z0-9_$\-]+)*)\}")


def spelled(name: str) -> str:
    """A header name (lower case, as ASGI gives it) spelled as API Gateway hands it on."""
    return _SPELLINGS.get(name) or "-".join(word.capitalize() for word in name.split("-"))


def request_time(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def new_message_id() -> str:
    """An id in the shape of API Gateway's (``R1knPc2ntjMCFIA=``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def selection_path(expression: str) -> list[str] | None:
    """The body path a route selection expression reads (``$request.body.action`` or
    ``${request.body.action}``: ``["action"]``); None when it reads no body path."""
    match = _EXPRESSION.fullmatch(expression) or _BRACED.fullmatch(expression)
    return match.group(1).split(".") if match is not None else None


def selected_route(expression: str, message: str) -> str | None:
    """The route key a message selects: the value at the expression's path of the JSON
    message, as text (a missing path selects ``""``); None when the message is not a
    JSON object (which goes to ``$default``)."""
    path = selection_path(expression)
    try:
        value: Any = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    if path is None or not isinstance(value, dict):
        return None
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return ""
        value = value[name]
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What every event says of its connection and API."""

    connection_id: str
    connected_ms: int
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str | None
    account_id: str


def _context(
    info: ConnectionInfo, route_key: str, event_type: str, request_id: str, now_ms: int
) -> dict[str, Any]:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent},
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }


def connect_headers(
    headers: Sequence[tuple[str, str]], info: ConnectionInfo, port: int, scheme: str
) -> list[tuple[str, str]]:
    """The upgrade request's headers as ``$connect`` sees them: spelled as API Gateway
    spells them, with its ``X-Forwarded-*`` ones."""
    found = [(spelled(name), value) for name, value in headers]
    names = {name.lower() for name, _ in found}
    for name, value in (
        ("X-Forwarded-For", info.source_ip),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", scheme),
    ):
        if name.lower() not in names:
            found.append((name, value))
    return found


def _single_and_multi(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # (the last one, as API Gateway's single-value maps keep)
        multi.setdefault(name, []).append(value)
    return single, multi


def connect_event(
    info: ConnectionInfo,
    headers: Sequence[tuple[str, str]],
    raw_query: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    single, multi = _single_and_multi(headers)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    query = parse_qsl(raw_query, keep_blank_values=True)
    if query:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = (
            _single_and_multi(query)
        )
    event["requestContext"] = _context(info, "$connect", "CONNECT", request_id, now_ms)
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo, route_key: str, body: str, request_id: str, now_ms: int
) -> dict[str, Any]:
    context = _context(info, route_key, "MESSAGE", request_id, now_ms)
    context["messageId"] = new_message_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    info: ConnectionInfo,
    headers: Sequence[tuple[str, str]],
    code: int,
    reason: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    single, multi = _single_and_multi(headers)
    context = _context(info, "$disconnect", "DISCONNECT", request_id, now_ms)
    context["disconnectStatusCode"] = code
    context["disconnectReason"] = reason
    return {
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": context,
        "isBase64Encoded": False,
    }


def disconnect_headers(host: str) -> list[tuple[str, str]]:
    """The few headers API Gateway's ``$disconnect`` event carries."""
    return [
        ("Host", host),
        ("x-api-key", ""),
        ("X-Forwarded-For", ""),
        ("x-restapi", ""),
    ]


@dataclass(frozen=True, slots=True)
class Answer:
    """What an integration's function answered, as the gateway reads it."""

    status: int
    body: bytes | None
    headers: dict[str, str]


def answer_of(payload: bytes) -> Answer:
    """A Lambda proxy result: ``{"statusCode", "headers", "body"}``; anything else is
    a 200 whose body is the result itself (as API Gateway passes it on)."""
    try:
        result = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        return Answer(200, payload, {})
    if isinstance(result, dict) and ("statusCode" in result or "body" in result):
        status = result.get("statusCode", 200)
        headers = result.get("headers") or {}
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            body = orjson.dumps(body).decode()
        if result.get("isBase64Encoded") and isinstance(body, str):
            raw: bytes | None = base64.b64decode(body, validate=False)
        else:
            raw = body.encode() if isinstance(body, str) else None
        return Answer(
            int(status) if isinstance(status, int) else 500,
            raw,
            {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {},
        )
    if result is None:
        return Answer(200, None, {})
    return Answer(200, payload, {})
