"""AWS-shaped responses: a request id on every answer, errors as botocore parses them."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gureum import untrusted_json
from gureum.errors import InvalidRequestContentException, ServiceError
from gureum.ids import new_uuid


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
