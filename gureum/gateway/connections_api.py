"""The ``@connections`` API of WebSocket APIs (``apigatewaymanagementapi``): a backend
sends to a client, asks after it, or closes it.

Requests come to the API's own address with the stage and the connection:
``POST|GET|DELETE /{stage}/@connections/{connectionId}`` (``@`` also as ``%40``, the id
percent-encoded), signed with SigV4 for the service ``execute-api`` when the server
checks signatures. The node that holds the connection's socket answers; any other node
forwards the request to it unchanged (its signature still holds), as the store says
where each connection is; a node of the same machine and data directory (the processes
of ``--processes``) is handed it on a Unix socket instead (``siblings.py``). Errors
are API Gateway's: ``GoneException`` (410) for a connection that is not there,
``PayloadTooLargeException`` (413) past 128 KB, ``ForbiddenException`` (403) for a bad
signature.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote

import orjson
from starlette.types import Receive, Scope, Send

from gureum.errors import (
    ForbiddenException,
    GoneException,
    PayloadTooLargeException,
    ServiceError,
)
from gureum.frontend import sigv4
from gureum.gateway.connection_store import HEARTBEAT_SECONDS, Connection
from gureum.gateway.http_api import BodyTooLarge, read_body
from gureum.gateway.node_client import NodeClient
from gureum.gateway.siblings import Siblings
from gureum.gateway.websocket_api import Live, WebSocketApis
from gureum.gateway.websocket_protocol import MESSAGE_LIMIT
from gureum.ids import new_uuid

logger = logging.getLogger(__name__)

_PATH = re.compile(r"/([^/]+)/(?:@|%40)connections/([^/]+)/?")
#: Marks a request one node forwarded to another (which answers it, or says Gone).
FORWARDED = b"x-gureum-forwarded"
#: How long a node trusts its view of which other nodes are alive before it asks the
#: store again (where each connection is does not change: it is kept until its node
#: says Gone, cannot be reached, or is no longer alive).
NODES_SECONDS = HEARTBEAT_SECONDS
#: How many other nodes' connections a node remembers the place of.
LOCATIONS = 20_000
#: A request's headers that are its connection's, not its own (not forwarded as they came).
_HOP_BY_HOP = frozenset((b"content-length", b"connection", b"transfer-encoding"))


def connection_path(raw_path: str) -> tuple[str, str] | None:
    """(stage, connection id) of an ``@connections`` path within an API's address."""
    match = _PATH.fullmatch(raw_path)
    if match is None:
        return None
    return unquote(match.group(1)), unquote(match.group(2))


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ConnectionsAPI:
    def __init__(
        self,
        websockets: WebSocketApis,
        *,
        secrets: dict[str, str] | None,
        region: str,
        nodes: NodeClient | None = None,
        siblings: Siblings | None = None,
        nodes_seconds: float = NODES_SECONDS,
        locations: int = LOCATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.websockets = websockets
        self.secrets = secrets
        self.region = region
        #: how requests reach the node that holds their connection
        self.nodes = nodes if nodes is not None else NodeClient()
        #: and, first, how they reach nodes of this machine and data directory
        self.siblings = siblings
        self.nodes_seconds = nodes_seconds
        self.locations = locations
        self.clock = clock
        #: other nodes' connections as the store gave them (a connection never moves):
        #: id -> (row, node's address), oldest first
        self._located: dict[str, tuple[Connection, str]] = {}
        #: the nodes alive when the store was last asked (``_nodes_at``), and those the
        #: store has said are since (when it gave one of their connections)
        self._nodes: set[str] = set()
        self._nodes_at = -math.inf
        self._nodes_asked = asyncio.Lock()

    async def close(self) -> None:
        await self.nodes.close()
        if self.siblings is not None:
            await self.siblings.close()

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        api_id: str,
        stage: str,
        connection_id: str,
    ) -> None:
        request_id = new_uuid()
        try:
            try:
                body = await read_body(receive, MESSAGE_LIMIT)
            except BodyTooLarge:
                raise PayloadTooLargeException(
                    f"Message size exceeds the limit of {MESSAGE_LIMIT} bytes"
                ) from None
            self._check_signature(scope, body)
            status, content = await self._answer(scope, api_id, stage, connection_id, body)
        except ServiceError as error:
            status = error.status
            content = orjson.dumps({"message": error.message})
            headers = [
                (b"content-type", b"application/json"),
                (b"x-amzn-errortype", error.error_type.encode()),
                (b"content-length", str(len(content)).encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ]
        else:
            if content:
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ]
            else:  # (POST's and DELETE's answer)
                headers = [(b"content-length", b"0"), (b"x-amzn-requestid", request_id.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _check_signature(self, scope: Scope, body: bytes) -> None:
        if self.secrets is None:
            return
        try:
            sigv4.verify_request(
                scope, body, secrets=self.secrets, region=self.region, service="execute-api"
            )
        except ServiceError as error:
            raise ForbiddenException(error.message) from None

    async def _answer(
        self, scope: Scope, api_id: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, bytes]:
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            raise ForbiddenException(f"Method {method} is not allowed on @connections")
        live = self.websockets.live.get(connection_id)
        if live is None or not live.open:
            return await self._elsewhere(scope, api_id, stage, connection_id, body)
        return await self._here(live, method, api_id, stage, body)

    async def answer_here(
        self, method: str, api_id: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, bytes]:
        """A request a sibling node handed over (``siblings.py``; it checked the
        signature): answered if this node holds the connection, else Gone."""
        live = self.websockets.live.get(connection_id)
        if live is None or not live.open:
            raise GoneException("")
        return await self._here(live, method, api_id, stage, body)

    async def _here(
        self, live: Live, method: str, api_id: str, stage: str, body: bytes
    ) -> tuple[int, bytes]:
        if live.info.api_id != api_id or live.info.stage != stage:
            raise GoneException("")
        if method == "POST":
            if not await live.post(body):
                raise GoneException("")
            return 200, b""
        if method == "GET":
            return 200, orjson.dumps(_description(live))
        await live.close(1000, "")
        return 204, b""

    async def _elsewhere(
        self, scope: Scope, api_id: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, bytes]:
        """A connection this node does not hold: forwarded to the node that does."""
        if any(name == FORWARDED for name, _ in scope["headers"]):
            raise GoneException("")
        connection, address = await self._locate(connection_id)
        if connection.api_id != api_id or connection.stage != stage:
            raise GoneException("")
        try:
            if self.siblings is not None:
                method = scope["method"]
                handed = await self.siblings.request(
                    connection.node_id, method, api_id, stage, connection_id, body
                )
                if handed is not None:
                    status, error_type, content = handed
                    if error_type == GoneException.error_type:
                        raise GoneException("")
                    if error_type:
                        raise ForbiddenException(content.decode(errors="replace"))
                    return status, content
            return await self._forward(scope, address, body)
        except GoneException:
            self._located.pop(connection_id, None)
            raise

    async def _locate(self, connection_id: str) -> tuple[Connection, str]:
        """Another node's connection and that node's address (Gone: there is none, or
        its node is no longer alive)."""
        located = self._located.get(connection_id)
        if located is not None and await self._alive(located[0].node_id):
            return located
        self._located.pop(connection_id, None)  # (and the store asked, which knows best)
        found = await self.websockets.connections.find(connection_id)
        if found is None:
            raise GoneException("")
        connection, _ = found
        if connection.node_id == self.websockets.connections.node_id:
            raise GoneException("")  # (closing here right now)
        self._nodes.add(connection.node_id)  # (the store has just said it beats)
        if len(self._located) >= self.locations:  # (the oldest goes)
            del self._located[next(iter(self._located))]
        self._located[connection_id] = found
        return found

    async def _alive(self, node_id: str) -> bool:
        """Whether a node is alive, as the store said at most ``nodes_seconds`` ago."""
        if self.clock() - self._nodes_at >= self.nodes_seconds:
            async with self._nodes_asked:  # (one question for every request waiting)
                asked = self.clock()
                if asked - self._nodes_at >= self.nodes_seconds:
                    self._nodes = await self.websockets.connections.live_nodes()
                    self._nodes_at = asked
        return node_id in self._nodes

    async def _forward(self, scope: Scope, address: str, body: bytes) -> tuple[int, bytes]:
        """The request sent on to ``address`` as it came (Host and signature kept), with
        the FORWARDED marker; an answer other than 2xx is GoneException when the node
        says so, else ForbiddenException with its message; no answer at all is Gone."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        headers = [(name, value) for name, value in scope["headers"] if name not in _HOP_BY_HOP]
        headers.append((FORWARDED, b"1"))
        method = scope["method"]
        try:
            reply = await self.nodes.request(
                address,
                method,
                raw + b"?" + query if query else raw,
                headers,
                body if method == "POST" else b"",
            )
        except OSError as error:
            logger.warning("could not reach the node at %s: %s", address, error)
            raise GoneException("") from None
        if 200 <= reply.status < 300:
            return reply.status, reply.body
        if reply.headers.get(b"x-amzn-errortype") == b"GoneException":
            raise GoneException("")
        raise ForbiddenException(_message(reply.body))


def _description(live: Live) -> dict[str, object]:
    return {
        "connectedAt": _iso(live.info.connected_ms),
        "identity": {"sourceIp": live.info.source_ip, "userAgent": live.info.user_agent},
        "lastActiveAt": _iso(live.last_active_ms),
    }


def _message(content: bytes) -> str:
    """The ``message`` of another node's error answer ("" when it has none)."""
    try:
        answer = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return ""
    return str(answer.get("message", "")) if isinstance(answer, dict) else ""
