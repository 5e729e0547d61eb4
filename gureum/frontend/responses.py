"""AWS-shaped responses: a request id on every answer, errors as botocore parses them."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gureum import untrusted_json
from gureum.errors import (
    InvalidRequestContentException,
    RequestTooLargeException,
    ServiceError,
    ServiceException,
)
from gureum.frontend import operations
from gureum.ids import new_uuid

logger = logging.getLogger(__name__)


def new_request_id() -> str:
    return new_uuid()


def aws_json(
    body: Any,
    status: int = 200,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response with ``x-amzn-RequestId``."""
    all_headers = {"x-amzn-RequestId": request_id or new_request_id(), **(headers or {})}
    content = b"" if body is None else json.dumps(body).encode()
    return Response(content, status, all_headers, media_type="application/json")


def aws_error(error: ServiceError, request_id: str | None = None) -> Response:
    """An error as AWS answers it: status, ``x-amzn-ErrorType`` and the JSON body."""
    headers = {"x-amzn-ErrorType": error.error_type}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return aws_json(error.body(), error.status, request_id, headers)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body (empty body: ``{}``)."""
    return parse_json_object(await request.body())


async def limited_body(request: Request, limit: int, operation: str) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    too_large = RequestTooLargeException(
        f"Request must be smaller than {limit} bytes for the {operation} operation"
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (empty: ``{}``)."""
    if not raw.strip():
        return {}
    try:
        parsed = untrusted_json.loads(raw)
    except ValueError:
        raise InvalidRequestContentException("Could not parse request body into json") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestContentException("The request body must be a JSON object")
    return parsed


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return aws_error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        operation = operations.rest_operation(request.method, request.url.path, request.url.query)
        if operation is not None:
            return aws_error(operations.not_implemented(operation.service, operation.name))
    return aws_json(
        {"Type": "User", "message": f"No operation at {request.method} {request.url.path}"},
        exc.status_code,
        headers={"x-amzn-ErrorType": "UnknownOperationException"},
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback, answered as AWS's 500 without details."""
    logger.exception(
        "unexpected error serving %s %s", request.method, request.url.path, exc_info=exc
    )
    return aws_error(ServiceException("An internal error occurred in gureum."))


#: Starlette's exception handlers of every AWS-shaped app (the edge, the X-Ray daemon).
EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    ServiceError: _service_error,
    HTTPException: _http_error,
    Exception: unexpected_error,
}
