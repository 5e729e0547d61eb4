"""AWS's JSON protocol (1.0/1.1): ``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>``.

Services on it (CloudWatch Logs today) register their operations here and share one
route on the edge. Client errors answer 400 with ``{"__type", "message"}``, as these
services do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.errors import ServiceError
from gureum.frontend.responses import new_request_id

if TYPE_CHECKING:
    from gureum.platform import Platform

logger = logging.getLogger(__name__)

Operation = Callable[["Platform", dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class JsonRpcService:
    """One service's operations under its target prefix (``Logs_20140328``)."""

    prefix: str
    operations: dict[str, Operation]
    #: The error type the service answers for its own failures (status 500).
    internal_error: str = "ServiceUnavailableException"


#: target prefix -> service
SERVICES: dict[str, JsonRpcService] = {}


def register(
    prefix: str,
    operations: dict[str, Operation],
    *,
    internal_error: str = "ServiceUnavailableException",
) -> None:
    SERVICES[prefix] = JsonRpcService(prefix, operations, internal_error)


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
    service = SERVICES.get(prefix)
    operation = service.operations.get(name) if service else None
    if service is None or operation is None:
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
        # These services answer 400 for every client error, ResourceNotFound included.
        return _error(exc.error_type, exc.message, 400 if exc.status < 500 else exc.status)
    except Exception:
        logger.exception("unexpected error in %s", target)
        return _error(service.internal_error, "An internal error occurred in gureum.", 500)
    return _answer(result)


def routes() -> list[Route]:
    return [Route("/", dispatch, methods=["POST"])]
