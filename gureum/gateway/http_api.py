"""HTTP APIs served on the edge: a request to an API's invoke URL, routed to its function.

An API is addressed two ways, both on the edge's port and neither needing DNS set-up:

- path-style, ``http://127.0.0.1:9070/_aws/execute-api/{api-id}/{path}`` (what
  ``ApiEndpoint`` gives, and what works from any client on any machine);
- host-style, a ``Host`` of ``{api-id}.execute-api.localhost`` (browsers and curl
  resolve ``*.localhost`` to loopback; elsewhere ``curl --resolve`` or a hosts entry).

The path's first segment names a stage when the API has a stage of that name; otherwise
the ``$default`` stage takes the whole path. The route is chosen as API Gateway chooses
it (:mod:`~gureum.gateway.routing`), its integration's function invoked through Front
End Invoke with the event of the integration's payload format
(:mod:`~gureum.gateway.http_events`), under the integration's timeout. Invoke URLs are
not signed (an HTTP API's routes authorize nothing yet), so the edge serves them before
it checks SigV4.

API Gateway's own answers: no API, stage or route, ``404 {"message":"Not Found"}``; a
function error or an unusable answer, ``500 {"message":"Internal Server Error"}`` (1.0's
malformed answer, 502); a throttled function, ``429 {"message":"Too Many Requests"}``;
the integration's timeout passed, ``503 {"message":"Service Unavailable"}``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Protocol

import orjson
from starlette.types import Receive, Scope, Send

from gureum.errors import BadRequestException, ServiceError, TooManyRequestsException
from gureum.front_end_invoke import Caller, FrontEndInvoke, Invoked
from gureum.gateway import cors, http_events
from gureum.gateway.gateway_store import HTTP_SERVICE, REST_SERVICE, GatewayStore, Routing
from gureum.gateway.http_events import HttpRequest, HttpResponse, RequestContext, error_response
from gureum.gateway.routing import RouteKey, match, route_key
from gureum.ids import new_uuid


class RestServing(Protocol):
    """What serves REST APIs' requests (``rest_api.RestApis``, which builds on this
    module's helpers: named here by its shape, not imported)."""

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        routing: Routing,
        address: tuple[str, str, str],
        body: bytes | None,
    ) -> None: ...


logger = logging.getLogger(__name__)

PATH_PREFIX = "/_aws/execute-api/"
HOST_SUFFIX = ".execute-api.localhost"
DEFAULT_STAGE = "$default"
#: An integration's TimeoutInMillis when it names none (HTTP APIs' default and limit).
DEFAULT_TIMEOUT_MS = 30_000
#: The largest request body an HTTP API takes (API Gateway: 10 MB).
MAX_BODY = 10 * 1024 * 1024
_LAMBDA_PATH = ":lambda:path/2015-03-31/functions/"


@functools.lru_cache(maxsize=4096)
def parsed_route_key(text: str) -> RouteKey | None:
    """``text`` parsed as a route key (None: it is not one), parsed once per node."""
    try:
        return route_key(text)
    except BadRequestException:
        return None


def function_of(uri: str) -> str:
    """The function (name or ARN, perhaps qualified) an integration's URI names: a
    function ARN as it is, or API Gateway's ``arn:aws:apigateway:...:lambda:path/
    2015-03-31/functions/ARN/invocations`` form."""
    if _LAMBDA_PATH in uri:
        return uri.split(_LAMBDA_PATH, 1)[1].removesuffix("/invocations")
    return uri


async def call_integration(
    invoke: FrontEndInvoke,
    config: dict[str, Any],
    event: dict[str, Any],
    caller: Caller,
    default_timeout_ms: int,
) -> Invoked:
    """An AWS_PROXY integration's function invoked with ``event``, under the
    integration's ``TimeoutInMillis`` (TimeoutError past it; the invoke's own errors as
    they are)."""
    timeout = int(config.get("TimeoutInMillis") or default_timeout_ms) / 1000
    function = function_of(str(config.get("IntegrationUri", "")))
    return await asyncio.wait_for(
        invoke.invoke(function, None, orjson.dumps(event), "RequestResponse", caller), timeout
    )


def address_of(scope: Scope, path_prefix: str, host_suffix: str) -> tuple[str, str, str] | None:
    """(id, raw path after the address, domain name) of a request to an address of the
    gateway's kind: path-style (``path_prefix`` then the id) or host-style (a ``Host`` of
    the id then ``host_suffix``); None when ``scope`` is neither."""
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    raw = raw.partition("?")[0]
    if raw.startswith(path_prefix):
        found, _, rest = raw[len(path_prefix) :].partition("/")
        if found:
            return found, "/" + rest, found + host_suffix
        return None
    host = header(scope, b"host")
    if host is not None:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.endswith(host_suffix) and len(name) > len(host_suffix):
            return name[: -len(host_suffix)], raw or "/", name
    return None


def request_headers(scope: Scope) -> list[tuple[str, str]]:
    """The request's headers in order, as text."""
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]]


def header(scope: Scope, wanted: bytes) -> str | None:
    """A request header's value (``wanted``: its name in lower case), or None."""
    value: bytes
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


class HttpApis:
    """The edge's part for invoke URLs: HTTP APIs', and REST APIs' handed to ``rest``
    (the two share one id space, so an id names one API of either kind)."""

    def __init__(
        self,
        gateway: GatewayStore,
        invoke: FrontEndInvoke,
        *,
        region: str,
        account_id: str,
        rest: RestServing | None = None,
    ) -> None:
        self.gateway = gateway
        self.invoke = invoke
        self.region = region
        self.account_id = account_id
        self.rest = rest

    def addressed(self, scope: Scope) -> tuple[str, str, str] | None:
        """(API id, raw path after the API's address, domain name) when ``scope`` is a
        request to an API's invoke URL; None otherwise."""
        return address_of(scope, PATH_PREFIX, HOST_SUFFIX)

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        address: tuple[str, str, str],
        body: bytes | None,
    ) -> None:
        try:
            routing = await self.gateway.routing(address[0])
            if routing is not None and routing.api.service == REST_SERVICE and self.rest:
                await self.rest.serve(scope, receive, send, routing, address, body)
                return
            if body is None:
                body = await read_body(receive, MAX_BODY)
            response = await self.respond(scope, routing, address, body)
        except BodyTooLarge:
            response = error_response(413, "Request Entity Too Large")
        except Exception:
            logger.exception("the gateway failed a request")
            response = error_response(500, "Internal Server Error")
        await send_response(send, response, [(b"apigw-requestid", new_uuid().encode())])

    async def respond(
        self, scope: Scope, routing: Routing | None, address: tuple[str, str, str], body: bytes
    ) -> HttpResponse:
        """The answer of ``routing``'s API (None: there is no API of the address's id)."""
        _, raw_path, domain = address
        if (
            routing is None
            or routing.api.service != HTTP_SERVICE
            or routing.api.config.get("ProtocolType", "HTTP") != "HTTP"
        ):
            return error_response(404, "Not Found")
        headers = request_headers(scope)
        method = scope["method"]
        cors_config = routing.api.config.get("CorsConfiguration")
        answered = cors.preflight(cors_config, method, headers)
        if answered is not None:
            return answered
        response = await self._route(scope, routing, raw_path, domain, headers, body)
        return cors.decorate(cors_config, headers, response)

    async def _route(
        self,
        scope: Scope,
        routing: Routing,
        raw_path: str,
        domain: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> HttpResponse:
        api_id = routing.api.api_id
        method = scope["method"]
        stage, route_path = _stage(routing, raw_path)
        if stage is None:
            return error_response(404, "Not Found")
        routes = [
            (route_id, key)
            for route_id, part in routing.routes.items()
            if (key := parsed_route_key(str(part.config.get("RouteKey", "")))) is not None
        ]
        chosen = match(routes, method, route_path)
        if chosen is None:
            return error_response(404, "Not Found")
        target = str(routing.routes[chosen.route_id].config.get("Target") or "")
        integration = routing.integrations.get(target.removeprefix("integrations/"))
        if integration is None:
            return error_response(500, "Internal Server Error")
        config = integration.config
        request = http_request(scope, headers, raw_path, route_path, body)
        request_id = new_uuid()
        stage_config = routing.stages[stage].config
        context = RequestContext(
            api_id=api_id,
            account_id=self.account_id,
            domain_name=domain,
            stage=stage,
            route_key=chosen.key.text,
            request_id=request_id,
            time_ms=int(time.time() * 1000),
            path_parameters=chosen.path_parameters,
            stage_variables=stage_config.get("StageVariables") or {},
        )
        version = str(config.get("PayloadFormatVersion", "2.0"))
        if version == "1.0":
            resource = "/" + "/".join(chosen.key.segments) if chosen.key.method else chosen.key.text
            event = http_events.event_v1(request, context, resource)
        else:
            event = http_events.event_v2(request, context)
        caller = Caller(request_id, trace_header=header(scope, b"x-amzn-trace-id"))
        try:
            invoked = await call_integration(self.invoke, config, event, caller, DEFAULT_TIMEOUT_MS)
        except TimeoutError:
            return error_response(503, "Service Unavailable")
        except TooManyRequestsException:
            return error_response(429, "Too Many Requests")
        except ServiceError:
            return error_response(500, "Internal Server Error")
        outcome = invoked.outcome
        if outcome is None or outcome.function_error:
            return error_response(500, "Internal Server Error")
        if version == "1.0":
            return http_events.response_v1(outcome.body)
        return http_events.response_v2(outcome.body)


def _stage(routing: Routing, raw_path: str) -> tuple[str | None, str]:
    """The stage a path names and the path within it: a first segment naming a stage of
    the API, or else the ``$default`` stage with the whole path."""
    first, _, rest = raw_path.lstrip("/").partition("/")
    if first and first != DEFAULT_STAGE and first in routing.stages:
        return first, "/" + rest
    if DEFAULT_STAGE in routing.stages:
        return DEFAULT_STAGE, raw_path
    return None, raw_path


def http_request(
    scope: Scope, headers: list[tuple[str, str]], raw_path: str, route_path: str, body: bytes
) -> HttpRequest:
    """What the events need of an ASGI request (``headers``: its :func:`request_headers`)."""
    client = scope.get("client") or ("127.0.0.1", 0)
    return HttpRequest(
        method=scope["method"],
        raw_path=raw_path,
        route_path=route_path,
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        source_ip=str(client[0]),
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
    )


async def send_response(
    send: Send, response: HttpResponse, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Write ``response`` (with its length and ``extra`` headers) to the client."""
    headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers += extra or []
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class BodyTooLarge(Exception):
    """The request's body passed the limit it was read with."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request's body, refused (:class:`BodyTooLarge`) once it passes ``limit``."""
    message: Any = await receive()
    if message["type"] != "http.request":
        return b""
    chunk: bytes = message.get("body", b"")
    if len(chunk) > limit:
        raise BodyTooLarge
    if not message.get("more_body", False):
        return chunk  # (the whole body in one message: a small request's)
    chunks = [chunk]
    size = len(chunk)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
