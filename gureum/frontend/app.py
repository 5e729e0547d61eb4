"""The edge ASGI app: every AWS-compatible API on one port."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gureum.console.app import Console
from gureum.errors import RequestTooLargeException, SerializationException, ServiceError
from gureum.events.pacing import FrontEndActivity
from gureum.frontend import aws_query, lambda_api, operations, sigv4, stream_invoke
from gureum.frontend.json_rpc import Answer, JsonRpcEndpoint
from gureum.frontend.lambda_api import LambdaAPI
from gureum.frontend.responses import EXCEPTION_HANDLERS, aws_error, unexpected_error
from gureum.frontend.rpc_v2_cbor import RpcV2Endpoint
from gureum.gateway.connections_api import ConnectionsAPI, connection_path
from gureum.gateway.function_urls import FunctionUrls
from gureum.gateway.http_api import HttpApis
from gureum.gateway.websocket_api import WebSocketApis
from gureum.platform import Platform
from gureum.settings import Settings

logger = logging.getLogger(__name__)

_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"


#: Capability URLs (GetFunction's Code.Location) are not signed, as a presigned URL is not.
_UNSIGNED_PREFIX = "/_gureum/"
#: Prometheus' scrape path: a scraper does not sign its requests.
_PROMETHEUS_PATH = "/metrics"
#: The web console: a browser cannot sign, so the console checks its own session cookie.
_CONSOLE_PATH = "/_console"
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


def _decoded(scope: Scope, body: bytes) -> bytes:
    """A body as the operation reads it: botocore gzips large requests of operations with
    the ``requestcompression`` trait (CloudWatch's PutMetricData) after signing them."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() == b"gzip":
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                plain = inflater.decompress(body, MAX_REQUEST_BYTES + 1)
            except zlib.error as exc:
                raise SerializationException("The request body is not valid gzip") from exc
            if len(plain) > MAX_REQUEST_BYTES or inflater.unconsumed_tail:
                raise RequestTooLargeException(
                    f"Request must be smaller than {MAX_REQUEST_BYTES} bytes"
                )
            return plain
    return body


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


def _is_form(scope: Scope) -> bool:
    """Whether the request's body is a form (AWS's query protocol)."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == aws_query.FORM.encode()
    return False


def _target(scope: Scope) -> str | None:
    """The request's ``X-Amz-Target`` (which JSON-protocol operation it calls)."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"x-amz-target":
            return value.decode("latin-1")
    return None


class Edge:
    """The ASGI entry point: SigV4 for every request, then Invoke straight to its handler
    and everything else to Starlette.

    Invoke is the hot path; Starlette's router and middleware layers cost more per
    request than the rest of the Front End's work, so its one route is matched here.
    """

    def __init__(
        self,
        app: Starlette,
        *,
        lambda_api: LambdaAPI,
        json_rpc: JsonRpcEndpoint,
        stream_invoke: stream_invoke.StreamInvoke | None = None,
        http_apis: HttpApis | None = None,
        function_urls: FunctionUrls | None = None,
        websocket_apis: WebSocketApis | None = None,
        connections_api: ConnectionsAPI | None = None,
        rpc_v2: RpcV2Endpoint | None = None,
        query: aws_query.QueryEndpoint | None = None,
        console: ASGIApp | None = None,
        activity: FrontEndActivity,
        secrets: dict[str, str] | None,
        region: str,
    ) -> None:
        self.app = app
        self.state = app.state
        self.lambda_api = lambda_api
        self.json_rpc = json_rpc
        self.stream_invoke = stream_invoke
        self.http_apis = http_apis
        self.function_urls = function_urls
        self.websocket_apis = websocket_apis
        self.connections_api = connections_api
        self.rpc_v2 = rpc_v2
        self.query = query
        self.console = console
        self.activity = activity
        self.secrets = secrets  # None: requests are not authenticated
        self.region = region  # the one region credentials must be scoped to

    def _error_response(self, scope: Scope, error: ServiceError) -> Response:
        """An error answered before routing, in the shape of the service asked."""
        target = _target(scope)
        if target is None and self._queried(scope):
            assert self.query is not None
            status, headers, content = self.query.error(error)
            response = Response(content, status)
            response.raw_headers = headers
            return response
        if target is None and self.rpc_v2 is not None:
            answer = self.rpc_v2.error_for(scope["path"], error)
            if answer is not None:
                status, headers, content = answer
                response = Response(content, status)
                response.raw_headers = headers
                return response
        return (target and self.json_rpc.error_response(target, error)) or aws_error(error)

    def _queried(self, scope: Scope) -> bool:
        """A query-protocol call: ``POST /`` with a form body and no ``X-Amz-Target``."""
        return (
            self.query is not None
            and scope["method"] == "POST"
            and scope["path"] == "/"
            and _is_form(scope)
            and _target(scope) is None
        )

    def _signing_service(self, scope: Scope) -> str | None:
        """The service a request's credential must be scoped to (None: no served service
        has the operation, which is answered as unknown once the caller is known)."""
        target = _target(scope)
        if target is not None:
            service = self.json_rpc.service(target)
            return operations.signing_name(service.model) if service is not None else None
        if self._queried(scope):
            assert self.query is not None
            return self.query.signing_name
        if self.rpc_v2 is not None and scope["path"].startswith("/service/"):
            return self.rpc_v2.signing_name(scope["path"])
        # The raw path: an ARN in a path (apigatewayv2's /v2/tags/{resource-arn}) keeps
        # its slashes encoded there, as the operation's one path segment.
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        return operations.rest_signing_name(scope["method"], raw.decode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.activity.requests += 1
        if scope["type"] != "http":
            if scope["type"] == "websocket" and self.websocket_apis is not None:
                address = self.websocket_apis.addressed(scope)
                if address is not None:  # a client of a WebSocket API
                    await self.websocket_apis.serve(scope, receive, send, address)
                    return
            await self.app(scope, receive, send)
            return
        if self.http_apis is not None:
            address = self.http_apis.addressed(scope)
            if address is not None:
                connection = connection_path(address[1])
                if connection is not None and self.connections_api is not None:
                    # a WebSocket API's @connections: signed for execute-api
                    await self.connections_api.serve(scope, receive, send, address[0], *connection)
                    return
                # an API's invoke URL: not signed
                await self.http_apis.serve(scope, receive, send, address, None)
                return
        if self.function_urls is not None:
            address = self.function_urls.addressed(scope)
            if address is not None:  # a function URL: AWS_IAM ones check their signature
                await self.function_urls.serve(scope, receive, send, address, None)
                return
        body = None
        path: str = scope["path"]
        if self.console is not None and (
            path == _CONSOLE_PATH or path.startswith(_CONSOLE_PATH + "/")
        ):
            await self.console(scope, receive, send)
            return
        invoked = None
        if scope["method"] == "POST":
            if path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX):
                name = path[len(_INVOKE_PREFIX) : -len(_INVOKE_SUFFIX)]
                if name and "/" not in name:
                    invoked = name
        streamed = None
        if invoked is None and self.stream_invoke is not None:
            streamed = stream_invoke.function_named(scope["method"], path)
        declared = _declared_length(scope)
        if streamed:
            limit = lambda_api.MAX_SYNC_PAYLOAD
        else:
            limit = _invoke_limit(scope) if invoked else MAX_REQUEST_BYTES
        if declared is not None and declared > limit:
            # At once, before a byte of the body is read (or the signature checked).
            operation = " for the InvokeFunction operation" if invoked else ""
            if streamed:
                operation = " for the InvokeWithResponseStream operation"
            error = RequestTooLargeException(
                f"Request must be smaller than {limit} bytes{operation}"
            )
            await self._error_response(scope, error)(scope, receive, send)
            return
        unsigned = path.startswith(_UNSIGNED_PREFIX) or (
            path == _PROMETHEUS_PATH and scope["method"] == "GET"
        )
        if self.secrets is not None and not unsigned:
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
                    service="lambda" if invoked or streamed else self._signing_service(scope),
                )
            except ServiceError as exc:
                await self._error_response(scope, exc)(scope, receive, send)
                return
        if invoked is not None:
            await self._invoke(scope, receive, send, invoked, body)
            return
        if streamed is not None:
            await self._stream_invoke(scope, receive, send, streamed, body)
            return
        if scope["method"] == "POST" and path == "/":
            target = _target(scope)
            if target is not None and self.json_rpc.service(target) is not None:
                await self._json_rpc(scope, receive, send, target, body)
                return
        if self._queried(scope):
            await self._aws_query(scope, receive, send, body)
            return
        if self.rpc_v2 is not None and self.rpc_v2.addressed(scope["method"], path):
            await self._rpc_v2(scope, receive, send, path, body)
            return
        if body is not None:
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _aws_query(
        self, scope: Scope, receive: Receive, send: Send, body: bytes | None
    ) -> None:
        """A query-protocol call (CloudWatch, as the AWS CLI v1 calls it)."""
        assert self.query is not None
        await self._answer(scope, receive, send, body, self.query.call)

    async def _rpc_v2(
        self, scope: Scope, receive: Receive, send: Send, path: str, body: bytes | None
    ) -> None:
        """A Smithy RPC v2 CBOR call (CloudWatch's metrics)."""
        rpc_v2 = self.rpc_v2
        assert rpc_v2 is not None
        await self._answer(scope, receive, send, body, lambda whole: rpc_v2.call(path, whole))

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes | None,
        call: Callable[[bytes], Awaitable[Answer]],
    ) -> None:
        """The whole (decoded) body to ``call``, and its status, headers and content."""
        try:
            if body is None:
                body = await _read_body(receive)
            body = _decoded(scope, body)
        except ServiceError as exc:
            await self._error_response(scope, exc)(scope, receive, send)
            return
        status, headers, content = await call(body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _json_rpc(
        self, scope: Scope, receive: Receive, send: Send, target: str, body: bytes | None
    ) -> None:
        """A JSON-protocol call, answered without Starlette's router and responses."""
        try:
            if body is None:
                body = await _read_body(receive)
            body = _decoded(scope, body)
        except ServiceError as exc:
            await self._error_response(scope, exc)(scope, receive, send)
            return
        scope["app"] = self.app
        request = Request(scope, _replay(body, receive))
        status, headers, content = await self.json_rpc.call(target, body, request)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _invoke(
        self, scope: Scope, receive: Receive, send: Send, name: str, body: bytes | None
    ) -> None:
        try:
            if body is None:
                body = await _read_body(receive)
            status, headers, content = await self.lambda_api.invoke(
                name, scope.get("query_string", b""), dict(scope["headers"]), body
            )
        except ServiceError as exc:
            await aws_error(exc)(scope, receive, send)
            return
        except Exception as exc:
            scope["app"] = self.app
            response = await unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _stream_invoke(
        self, scope: Scope, receive: Receive, send: Send, name: str, body: bytes | None
    ) -> None:
        assert self.stream_invoke is not None
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            if body is None:
                body = await _read_body(receive)
            await self.stream_invoke.serve(
                tracked, name, scope.get("query_string", b""), dict(scope["headers"]), body
            )
        except ServiceError as exc:
            if started:
                raise
            await aws_error(exc)(scope, receive, send)
        except Exception as exc:
            if started:
                raise
            scope["app"] = self.app
            response = await unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, send)


def create_app(settings: Settings) -> Edge:
    """The edge app of a platform built from ``settings`` (started by the app's lifespan)."""
    platform = Platform(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        try:
            await platform.serve_tls(edge)  # the same edge, over HTTPS
            yield
        finally:
            await platform.stop()

    app = Starlette(
        routes=platform.routes(), lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS
    )
    # For whoever runs the app (the server, tests): the platform behind it.
    app.state.platform = platform
    secrets = {settings.access_key_id: settings.secret_access_key}
    checked = secrets if settings.auth == "sigv4" else None
    edge = Edge(
        app,
        lambda_api=platform.lambda_api,
        json_rpc=platform.json_rpc,
        stream_invoke=stream_invoke.StreamInvoke(platform.invoke),
        http_apis=platform.http_apis,
        function_urls=platform.function_urls,
        websocket_apis=platform.websocket_apis,
        connections_api=platform.connections_api,
        rpc_v2=platform.rpc_v2,
        query=platform.aws_query,
        console=Console(platform, secrets=checked),
        activity=platform.front_end_activity,
        secrets=checked,
        region=settings.region,
    )
    return edge
