"""WebSocket APIs served on the edge: a client's socket, its routes and its functions.

A client connects to a stage of an API, path-style
(``ws://127.0.0.1:9070/_aws/execute-api/{api-id}/{stage}``) or host-style (a ``Host`` of
``{api-id}.execute-api.localhost``, path ``/{stage}``). As API Gateway does:

- ``$connect``'s function runs before the upgrade completes; an error or a status other
  than 2xx refuses the handshake with that status (an error: 500), and a
  ``Sec-WebSocket-Protocol`` header in its answer picks the subprotocol;
- each text message goes to the route its ``RouteSelectionExpression`` selects
  (``$request.body.action``), else ``$default``; with neither the client is told
  ``Forbidden``, and a failed function ``Internal server error``; a route with a route
  response (two-way) sends the function's body back;
- a binary frame closes the connection with 1003, a message over 128 KB or a frame over
  32 KB with 1009; ten idle minutes or two hours connected close it with 1001;
- ``$disconnect`` runs whoever closes (the client, ``DELETE @connections``, a limit, a
  stop of the server), with ``disconnectStatusCode``.

The socket lives in this process (:class:`Live`); the connection's row in the store
(:mod:`~gureum.gateway.connection_store`) tells every node where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from gureum.clock import now_ms
from gureum.errors import ServiceError
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.gateway import websocket_events as events
from gureum.gateway.connection_store import (
    HEARTBEAT_SECONDS,
    Connection,
    ConnectionStore,
    new_connection_id,
)
from gureum.gateway.gateway_store import GatewayStore, Part, Routing
from gureum.gateway.http_api import (
    HOST_SUFFIX,
    PATH_PREFIX,
    address_of,
    call_integration,
    header,
    request_headers,
)
from gureum.gateway.websocket_events import Answer, ConnectionInfo
from gureum.ids import new_uuid

logger = logging.getLogger(__name__)

#: API Gateway's limits of a WebSocket API (frames and messages: websocket_protocol.py).
IDLE_SECONDS = 10 * 60
LIFETIME_SECONDS = 2 * 60 * 60
#: An integration's timeout when it names none (WebSocket APIs': 29 s).
DEFAULT_TIMEOUT_MS = 29_000


@dataclass(eq=False)
class Live:
    """A connection whose socket this process holds."""

    info: ConnectionInfo
    send: Send
    #: the upgrade request's Host (``$disconnect``'s event carries it)
    host: str
    last_active_ms: int
    #: the close this side began: (code, reason); None while open or when the client
    #: closed first
    closed_by_us: tuple[int, str] | None = None
    reader: asyncio.Task[tuple[int, str]] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def open(self) -> bool:
        return self.closed_by_us is None and not self.done.is_set()

    async def post(self, data: bytes) -> bool:
        """Send a message (text when it is UTF-8, else binary); False once closed."""
        if not self.open:
            return False
        try:
            text = data.decode()
        except UnicodeDecodeError:
            message: Message = {"type": "websocket.send", "bytes": data}
        else:
            message = {"type": "websocket.send", "text": text}
        try:
            await self.send(message)
        except Exception:  # the client went in the meantime (its reader will see it)
            return False
        self.last_active_ms = now_ms()
        return True

    async def close(self, code: int, reason: str = "") -> None:
        """Close from this side (the client gets ``code``); ``$disconnect`` follows."""
        if not self.open:
            return
        self.closed_by_us = (code, reason)
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": code, "reason": reason})
        if self.reader is not None:
            self.reader.cancel()


def _routes_by_key(routing: Routing) -> dict[str, Part]:
    return {str(part.config.get("RouteKey")): part for part in routing.routes.values()}


class WebSocketApis:
    """The edge's part for WebSocket APIs: their clients' sockets, on this node."""

    def __init__(
        self,
        gateway: GatewayStore,
        connections: ConnectionStore,
        invoke: FrontEndInvoke,
        *,
        account_id: str,
        domain_of: Callable[[str], str],
        idle_seconds: float = IDLE_SECONDS,
        lifetime_seconds: float = LIFETIME_SECONDS,
    ) -> None:
        self.gateway = gateway
        self.connections = connections
        self.invoke = invoke
        self.account_id = account_id
        #: the domain name an API's events give (what a function's callback URL uses)
        self.domain_of = domain_of
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds
        #: the sockets this process holds, by connection id (a socket is a process's own)
        self.live: dict[str, Live] = {}
        #: sockets closed whose ``$disconnect`` has yet to finish (a stop waits for them)
        self._closing: set[Live] = set()
        self._keeper: asyncio.Task[None] | None = None
        self._orphans: set[asyncio.Task[None]] = set()

    # the node's life

    async def start(self) -> None:
        await self.connections.heartbeat()
        await self._sweep()
        self._keeper = asyncio.create_task(self._keep(), name="gureum-websocket-heartbeat")

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.connections.heartbeat()
                await self._sweep()
            except Exception:
                logger.exception("the WebSocket connections' heartbeat failed")

    async def _sweep(self) -> None:
        """``$disconnect`` for the connections of nodes that are gone (crashed)."""
        for connection in await self.connections.sweep():
            logger.warning(
                "WebSocket connection %s of API %s went with its node: $disconnect now",
                connection.connection_id,
                connection.api_id,
            )
            info = ConnectionInfo(
                connection.connection_id,
                connection.connected_ms,
                connection.api_id,
                connection.stage,
                self.domain_of(connection.api_id),
                connection.source_ip,
                connection.user_agent,
                self.account_id,
            )
            host = info.domain_name
            task = asyncio.create_task(self._disconnected(info, host, 1006, "Going away"))
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    async def stop(self, grace: float) -> None:
        """Close every socket (1001, going away), each ``$disconnect`` run (for up to
        ``grace`` seconds), then leave the store."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        lives = list(self.live.values())
        for live in lives:
            await live.close(1001, "Going away")
        lives += self._closing
        waiting = [asyncio.create_task(live.done.wait()) for live in lives] + list(self._orphans)
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=grace)
            for task in pending:
                task.cancel()
        await self.connections.leave()

    # serving a client

    def addressed(self, scope: Scope) -> tuple[str, str, str] | None:
        return address_of(scope, PATH_PREFIX, HOST_SUFFIX)

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, address: tuple[str, str, str]
    ) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        api_id, raw_path, _ = address
        stage = raw_path.strip("/")
        routing = await self.gateway.routing(api_id)
        if (
            routing is None
            or routing.api.config.get("ProtocolType") != "WEBSOCKET"
            or not stage
            or stage not in routing.stages
        ):
            await _refuse(scope, send, 403, b'{"message":"Forbidden"}')
            return
        now = now_ms()
        client = scope.get("client") or ("127.0.0.1", 0)
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            connected_ms=now,
            api_id=api_id,
            stage=stage,
            domain_name=self.domain_of(api_id),
            source_ip=str(client[0]),
            user_agent=header(scope, b"user-agent"),
            account_id=self.account_id,
        )
        host = header(scope, b"host") or info.domain_name
        subprotocol: str | None = None
        route = _routes_by_key(routing).get("$connect")
        if route is not None:
            server = scope.get("server") or ("127.0.0.1", 0)
            headers = events.connect_headers(
                request_headers(scope),
                info,
                int(server[1] or 0),
                "https" if scope.get("scheme") == "wss" else "http",
            )
            request_id = new_uuid()
            event = events.connect_event(
                info, headers, scope.get("query_string", b"").decode("latin-1"), request_id, now
            )
            answer = await self._integrate(routing, route, event, request_id, scope)
            if answer is None:
                await _refuse(scope, send, 500, b'{"message": "Internal server error"}')
                return
            if not 200 <= answer.status < 300:
                await _refuse(scope, send, answer.status, answer.body or b"")
                return
            for name, value in answer.headers.items():
                if name.lower() == "sec-websocket-protocol":
                    subprotocol = value
        await self.connections.add(
            Connection(
                info.connection_id,
                api_id,
                stage,
                self.connections.node_id,
                now,
                info.source_ip,
                info.user_agent,
            )
        )
        live = Live(info, send, host, now)
        self.live[info.connection_id] = live
        try:
            accept: Message = {"type": "websocket.accept"}
            if subprotocol is not None:
                accept["subprotocol"] = subprotocol
            await send(accept)
            live.reader = asyncio.create_task(self._read(live, receive))
            watch = asyncio.create_task(self._watch(live))
            await asyncio.wait([live.reader])
            watch.cancel()
            if live.reader.cancelled():
                code, reason = live.closed_by_us or (1001, "Going away")
            else:
                code, reason = live.reader.result()
        finally:
            del self.live[info.connection_id]
            self._closing.add(live)
        try:
            for task in list(live.tasks):  # messages the client sent before it closed
                with contextlib.suppress(Exception):
                    await task
            await self.connections.remove(info.connection_id)
            await self._disconnected(info, host, code, reason)
        finally:
            self._closing.discard(live)
            live.done.set()

    async def _read(self, live: Live, receive: Receive) -> tuple[int, str]:
        """The client's messages, each to its route, until it closes: (code, reason)."""
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return int(message.get("code") or 1005), str(message.get("reason") or "")
            if kind != "websocket.receive":
                continue
            text = message.get("text")
            if text is None:  # API Gateway takes no binary frames
                live.closed_by_us = (1003, "Binary frames are not supported")
                with contextlib.suppress(Exception):
                    await live.send(
                        {"type": "websocket.close", "code": 1003, "reason": live.closed_by_us[1]}
                    )
                return live.closed_by_us
            live.last_active_ms = now_ms()
            task = asyncio.create_task(self._handled(live, text))
            live.tasks.add(task)
            task.add_done_callback(live.tasks.discard)

    async def _watch(self, live: Live) -> None:
        """Close the connection when it has been idle, or connected, too long."""
        ends = live.info.connected_ms / 1000 + self.lifetime_seconds
        while live.open:
            now = time.time()
            idle_ends = live.last_active_ms / 1000 + self.idle_seconds
            if now >= ends or now >= idle_ends:
                await live.close(1001, "Going away")
                return
            await asyncio.sleep(max(0.05, min(ends, idle_ends) - now))

    async def _handled(self, live: Live, text: str) -> None:
        try:
            await self._message(live, text)
        except Exception:
            logger.exception("the gateway failed a WebSocket message")
            await self._tell(live, "Internal server error", new_uuid())

    async def _message(self, live: Live, text: str) -> None:
        info = live.info
        request_id = new_uuid()
        routing = await self.gateway.routing(info.api_id)
        if routing is None:
            await live.close(1001, "Going away")
            return
        routes = _routes_by_key(routing)
        expression = str(routing.api.config.get("RouteSelectionExpression", ""))
        key = events.selected_route(expression, text)
        route = routes.get(key) if key is not None else None
        if route is None or key in ("$connect", "$disconnect"):
            route = routes.get("$default")
        if route is None:
            await self._tell(live, "Forbidden", request_id)
            return
        route_key = str(route.config["RouteKey"])
        event = events.message_event(info, route_key, text, request_id, now_ms())
        answer = await self._integrate(routing, route, event, request_id, None)
        if answer is None:
            await self._tell(live, "Internal server error", request_id)
            return
        if _two_way(routing, route) and answer.body is not None:
            await live.post(answer.body)

    async def _tell(self, live: Live, message: str, request_id: str) -> None:
        """API Gateway's own message to the client about its message."""
        body = {"message": message, "connectionId": live.info.connection_id}
        await live.post(orjson.dumps({**body, "requestId": request_id}))

    async def _disconnected(self, info: ConnectionInfo, host: str, code: int, reason: str) -> None:
        routing = await self.gateway.routing(info.api_id)
        route = _routes_by_key(routing).get("$disconnect") if routing is not None else None
        if routing is None or route is None:
            return
        request_id = new_uuid()
        headers = events.disconnect_headers(host)
        event = events.disconnect_event(info, headers, code, reason, request_id, now_ms())
        if await self._integrate(routing, route, event, request_id, None) is None:
            logger.warning(
                "$disconnect of WebSocket connection %s (API %s) failed",
                info.connection_id,
                info.api_id,
            )

    async def _integrate(
        self,
        routing: Routing,
        route: Part,
        event: dict[str, Any],
        request_id: str,
        scope: Scope | None,
    ) -> Answer | None:
        """The route's function's answer to ``event`` (None: no integration, a function
        error, a timeout or a throttle: the gateway's failure)."""
        target = str(route.config.get("Target") or "")
        integration = routing.integrations.get(target.removeprefix("integrations/"))
        if integration is None:
            return None
        trace = header(scope, b"x-amzn-trace-id") if scope is not None else None
        caller = Caller(request_id, trace_header=trace)
        try:
            invoked = await call_integration(
                self.invoke, integration.config, event, caller, DEFAULT_TIMEOUT_MS
            )
        except (TimeoutError, ServiceError):
            return None
        except Exception:
            logger.exception("the gateway failed to invoke a WebSocket API's function")
            return None
        outcome = invoked.outcome
        if outcome is None or outcome.function_error:
            return None
        return events.answer_of(outcome.body)


def _two_way(routing: Routing, route: Part) -> bool:
    """Whether the route has a route response (its function's answer goes back)."""
    return any(
        part.config.get("RouteId") == route.part_id for part in routing.route_responses.values()
    )


async def _refuse(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """Refuse the upgrade with an HTTP answer (where the server can send one)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
