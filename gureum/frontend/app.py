"""The edge ASGI app: every AWS-compatible API on one port."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gureum.errors import RequestTooLargeException, ServiceError, ServiceException
from gureum.frontend import (  # noqa: F401  (logs_api and sqs_api register)
    json_rpc,
    lambda_api,
    logs_api,
    operations,
    sigv4,
    sqs_api,
    xray_api,
)
from gureum.frontend.responses import aws_error, aws_json
from gureum.platform import Platform
from gureum.settings import Settings

logger = logging.getLogger(__name__)


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


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception(
        "unexpected error serving %s %s", request.method, request.url.path, exc_info=exc
    )
    return aws_error(ServiceException("An internal error occurred in gureum."))


_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"


#: Capability URLs (GetFunction's Code.Location) are not signed, as a presigned URL is not.
_UNSIGNED_PREFIX = "/_gureum/"
#: The largest request any operation accepts (CreateFunction with a 50 MB zip, base64).
MAX_REQUEST_BYTES = lambda_api.MAX_CODE_REQUEST


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise RequestTooLargeException(
                f"Request must be smaller than {MAX_REQUEST_BYTES} bytes"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over an already read body, then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _declared_length(scope: Scope) -> int | None:
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _invoke_limit(scope: Scope) -> int:
    """Invoke's payload limit, by its invocation type (Event: 1 MB; else 6 MB)."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"x-amz-invocation-type" and value == b"Event":
            return lambda_api.MAX_ASYNC_PAYLOAD
    return lambda_api.MAX_SYNC_PAYLOAD


def _target(scope: Scope) -> str | None:
    """The request's ``X-Amz-Target`` (which JSON-protocol operation it calls)."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"x-amz-target":
            return value.decode("latin-1")
    return None


def _error_response(scope: Scope, error: ServiceError) -> Response:
    """An error answered before routing, in the shape of the service asked."""
    target = _target(scope)
    return (target and json_rpc.error_response(target, error)) or aws_error(error)


def _signing_service(scope: Scope) -> str | None:
    """The service a request's credential must be scoped to (None: no served service
    has the operation, which is answered as unknown once the caller is known)."""
    target = _target(scope)
    if target is not None:
        service = json_rpc.SERVICES.get(target.partition(".")[0])
        return operations.signing_name(service.model) if service is not None else None
    path: str = scope["path"]
    return operations.rest_signing_name(scope["method"], path)


class Edge:
    """The ASGI entry point: SigV4 for every request, then Invoke straight to its handler
    and everything else to Starlette.

    Invoke is the hot path; Starlette's router and middleware layers cost more per
    request than the rest of the Front End's work, so its one route is matched here.
    """

    def __init__(self, app: Starlette, secrets: dict[str, str] | None, region: str) -> None:
        self.app = app
        self.state = app.state
        self.platform: Platform = app.state.platform
        self.secrets = secrets  # None: requests are not authenticated
        self.region = region  # the one region credentials must be scoped to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.platform.front_end_requests += 1
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = None
        path: str = scope["path"]
        invoked = None
        if scope["method"] == "POST":
            if path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX):
                name = path[len(_INVOKE_PREFIX) : -len(_INVOKE_SUFFIX)]
                if name and "/" not in name:
                    invoked = name
        declared = _declared_length(scope)
        limit = _invoke_limit(scope) if invoked else MAX_REQUEST_BYTES
        if declared is not None and declared > limit:
            # At once, before a byte of the body is read (or the signature checked).
            operation = " for the InvokeFunction operation" if invoked else ""
            error = RequestTooLargeException(
                f"Request must be smaller than {limit} bytes{operation}"
            )
            await _error_response(scope, error)(scope, receive, send)
            return
        if self.secrets is not None and not path.startswith(_UNSIGNED_PREFIX):
            try:
                body = await _read_body(receive)
                sigv4.verify(
                    method=scope["method"],
                    raw_path=scope.get("raw_path") or path.encode(),
                    query=scope.get("query_string", b""),
                    headers=scope["headers"],
                    body=body,
                    secrets=self.secrets,
                    region=self.region,
                    service="lambda" if invoked else _signing_service(scope),
                )
            except ServiceError as exc:
                await _error_response(scope, exc)(scope, receive, send)
                return
        if invoked is not None:
            await self._invoke(scope, receive, send, invoked, body)
            return
        if body is not None:
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _invoke(
        self, scope: Scope, receive: Receive, send: Send, name: str, body: bytes | None
    ) -> None:
        try:
            if body is None:
                body = await _read_body(receive)
            status, headers, content = await lambda_api.invoke(
                self.platform, name, scope.get("query_string", b""), dict(scope["headers"]), body
            )
        except ServiceError as exc:
            await aws_error(exc)(scope, receive, send)
            return
        except Exception as exc:
            scope["app"] = self.app
            response = await _unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


class DaemonEdge:
    """What the X-Ray daemon's TCP port serves: the SDKs' sampling calls and segment
    uploads, unsigned (as the AWS daemon takes them and signs them itself), and nothing
    else of the API."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in xray_api.DAEMON_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            response = aws_json(
                {"Type": "User", "message": "The X-Ray daemon serves sampling calls only"},
                404,
                headers={"x-amzn-ErrorType": "UnknownOperationException"},
            )
            await response(scope, receive, send)


def create_app(settings: Settings) -> Edge:
    """The edge app of a platform built from ``settings`` (started by the app's lifespan)."""
    platform = Platform(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    app = Starlette(
        routes=[*lambda_api.routes(), *xray_api.routes(), *json_rpc.routes()],
        lifespan=lifespan,
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.platform = platform
    platform.daemon_app = DaemonEdge(app)
    secrets = {settings.access_key_id: settings.secret_access_key}
    return Edge(app, secrets if settings.auth == "sigv4" else None, settings.region)
