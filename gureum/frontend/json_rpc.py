"""AWS's JSON protocol (1.0/1.1): ``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>``.

Services on it (CloudWatch Logs today) register their operations here and share one
route on the edge. Client errors answer 400 with ``{"__type", "message"}``, as these
services do.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.errors import ServiceError
from gureum.frontend.responses import new_request_id

if TYPE_CHECKING:
    from gureum.platform import Platform

Operation = Callable[["Platform", dict[str, Any]], Awaitable[dict[str, Any]]]
#: target prefix (``Logs_20140328``) -> operation name -> handler
SERVICES: dict[str, dict[str, Operation]] = {}


def register(prefix: str, operations: dict[str, Operation]) -> None:
    SERVICES[prefix] = operations


def _answer(body: dict[str, Any], status: int = 200, error_type: str | None = None) -> Response:
    headers = {"x-amzn-RequestId": new_request_id()}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return Response(
        json.dumps(body).encode(), status, headers, media_type="application/x-amz-json-1.1"
    )


def _error(error_type: str, message: str, status: int = 400) -> Response:
    return _answer({"__type": error_type, "message": message}, status, error_type)


async def dispatch(request: Request) -> Response:
    target = request.headers.get("x-amz-target", "")
    prefix, _, name = target.partition(".")
    operation = SERVICES.get(prefix, {}).get(name)
    if operation is None:
        return _error("UnknownOperationException", f"Unknown operation {target!r}")
    raw = await request.body()
    try:
        params = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _error("SerializationException", "The request body is not valid JSON")
    if not isinstance(params, dict):
        return _error("SerializationException", "The request body must be a JSON object")
    try:
        result = await operation(request.app.state.platform, params)
    except ServiceError as exc:
        return _error(exc.error_type, exc.message, 400 if exc.status < 500 else exc.status)
    return _answer(result)


def routes() -> list[Route]:
    return [Route("/", dispatch, methods=["POST"])]
