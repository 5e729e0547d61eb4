"""AWS's JSON protocol (1.0/1.1): ``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>``.

Services on it (CloudWatch Logs, SQS) each describe themselves as a
:class:`JsonRpcService`; one :class:`JsonRpcEndpoint` serves all of them on one route of
the edge. Client errors answer 400 with ``{"__type", "message"}``, as these
services do. A service that moved from AWS's query protocol (SQS) also names each
error's query code in ``x-amzn-query-error``, which botocore reports as the code.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum import untrusted_json
from gureum.errors import ServiceError
from gureum.frontend import operations
from gureum.frontend.responses import new_request_id

logger = logging.getLogger(__name__)

#: One operation: the request's parameters in, the response's members out.
Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

#: The request being served, for operations whose answers name the endpoint (SQS's
#: queue URLs are the URL the client called).
current_request: contextvars.ContextVar[Request] = contextvars.ContextVar("current_request")


@dataclass(frozen=True, slots=True)
class JsonRpcService:
    """One service's operations under its target prefix (``Logs_20140328``)."""

    prefix: str
    operations: dict[str, Operation]
    #: The service's name among botocore's models (``logs``, ``sqs``) and to its users.
    model: str
    title: str
    #: The error type the service answers for its own failures (status 500).
    internal_error: str = "ServiceUnavailableException"
    #: The protocol version of the service's model (its responses' content type).
    json_version: str = "1.1"
    #: Prepended to error types in ``__type`` (``com.amazonaws.sqs#``).
    error_namespace: str = ""
    #: Query-compatible (SQS): errors carry ``x-amzn-query-error`` and keep their status.
    query_compatible: bool = False


#: An answer as the edge sends it: status, headers, body.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _dumps(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # what orjson refuses (an integer beyond 64 bits): the slow way
        return json.dumps(body).encode()


def _raw_answer(
    body: dict[str, Any],
    status: int = 200,
    error_type: str | None = None,
    *,
    json_version: str = "1.1",
    headers: dict[str, str] | None = None,
) -> Answer:
    content = _dumps(body)
    all_headers = [
        (b"x-amzn-requestid", new_request_id().encode()),
        (b"content-type", f"application/x-amz-json-{json_version}".encode()),
        (b"content-length", str(len(content)).encode()),
    ]
    if error_type:
        all_headers.append((b"x-amzn-errortype", error_type.encode()))
    for name, value in (headers or {}).items():
        all_headers.append((name.lower().encode(), value.encode("latin-1")))
    return status, all_headers, content


def _response(answer: Answer) -> Response:
    status, headers, content = answer
    response = Response(content, status)
    response.raw_headers = headers
    return response


def _raw_service_error(
    service: JsonRpcService,
    error_type: str,
    message: str,
    status: int,
    query_code: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Answer:
    """An error as ``service`` answers it (namespace, query code, content type)."""
    headers = {}
    if service.query_compatible:
        fault = "Receiver" if status >= 500 else "Sender"
        headers["x-amzn-query-error"] = f"{query_code or error_type};{fault}"
    else:
        # These services answer 400 for every client error, ResourceNotFound included.
        status = 400 if status < 500 else status
    return _raw_answer(
        {"__type": service.error_namespace + error_type, "message": message, **(extra or {})},
        status,
        error_type,
        json_version=service.json_version,
        headers=headers,
    )


class JsonRpcEndpoint:
    """``POST /`` for every JSON-protocol service, told apart by ``X-Amz-Target``."""

    def __init__(self, services: list[JsonRpcService]) -> None:
        #: target prefix -> service
        self.services = {service.prefix: service for service in services}

    def service(self, target: str) -> JsonRpcService | None:
        """The service ``target`` (``X-Amz-Target``) names, if any."""
        return self.services.get(target.partition(".")[0])

    def error_response(self, target: str, error: ServiceError) -> Response | None:
        """``error`` as the service that ``target`` names answers it, or None when it
        names none of them."""
        service = self.service(target)
        if service is None:
            return None
        code = getattr(error, "query_code", None)
        return _response(
            _raw_service_error(service, error.error_type, error.message, error.status, code)
        )

    async def dispatch(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        return _response(await self.call(target, await request.body(), request))

    async def call(self, target: str, raw: bytes, request: Request) -> Answer:
        """The answer to one call of ``target`` with body ``raw`` (the edge calls this
        straight from ASGI for every known service: Starlette's router and response
        classes would cost more than most operations)."""
        prefix, _, name = target.partition(".")
        service = self.services.get(prefix)
        operation = service.operations.get(name) if service else None
        if service is None:
            return _raw_answer(
                {"__type": "UnknownOperationException", "message": f"Unknown operation {target!r}"},
                400,
                "UnknownOperationException",
            )
        if operation is None:
            if not name or not operations.json_operation_exists(service.model, name):
                return _raw_service_error(
                    service, "UnknownOperationException", f"Unknown operation {target!r}", 400
                )
            error = operations.not_implemented(service.title, name)
            return _raw_service_error(service, error.error_type, error.message, error.status)
        try:
            params = untrusted_json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _raw_service_error(
                service, "SerializationException", "The request body is not valid JSON", 400
            )
        if not isinstance(params, dict):
            return _raw_service_error(
                service, "SerializationException", "The request body must be a JSON object", 400
            )
        token = current_request.set(request)
        try:
            result = await operation(params)
        except ServiceError as exc:
            code = getattr(exc, "query_code", None)
            return _raw_service_error(
                service, exc.error_type, exc.message, exc.status, code, exc.extra
            )
        except Exception:
            logger.exception("unexpected error in %s", target)
            return _raw_service_error(
                service, service.internal_error, "An internal error occurred in gureum.", 500
            )
        finally:
            current_request.reset(token)
        return _raw_answer(result, json_version=service.json_version)

    def routes(self) -> list[Route]:
        return [Route("/", self.dispatch, methods=["POST"])]
