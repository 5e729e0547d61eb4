"""Requests from one node's edge to another's: the ``@connections`` requests a node
forwards to the node that holds the connection's socket.

With several nodes behind one address, most of those requests land on a node that does
not hold the socket, so each is forwarded: a small asyncio client on httptools' response
parser (as the Runtime API is a small server on its request parser), keeping HTTP/1.1
connections to each node open between requests, rather than a new connection and a
thread for every one. Every failure to get an answer (no such node, a refused or lost
connection, a reply that does not parse, no reply within ``timeout``) is an
:class:`OSError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

#: A generous bound on a reply's head and body (``@connections`` replies are small).
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    #: the reply's headers by lower-case name (the last of a repeated one)
    headers: dict[bytes, bytes]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a node: one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        #: when it was last handed back to the pool (loop time)
        self.idle_since = 0.0
        #: whether any byte of the current reply has come
        self.answering = False
        self._reply: asyncio.Future[Reply] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._body = bytearray()
        self._size = 0

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, request: bytes) -> asyncio.Future[Reply]:
        assert self.transport is not None
        self.answering = False
        self._headers = {}
        self._body = bytearray()
        self._size = 0
        self._reply = self.loop.create_future()
        self.transport.write(request)
        return self._reply

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, problem: OSError) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(problem)
        self.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, hence the cast.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(ConnectionResetError("the node closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.answering = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"the node's reply does not parse: {error}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._count(len(body))
        self._body += body

    def _count(self, size: int) -> None:
        self._size += size
        if self._size > MAX_REPLY_BYTES:
            self._fail(ConnectionError("the node's reply is too large"))

    def on_message_complete(self) -> None:
        reply = Reply(self.parser.get_status_code(), self._headers, bytes(self._body))
        if not self.parser.should_keep_alive():
            self.close()
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(reply)


class NodeClient:
    """HTTP/1.1 requests to other nodes' edges over connections kept open between them:
    up to ``idle_connections`` per node, each for up to ``idle_seconds`` unused (less
    than the 5 s uvicorn keeps an idle connection: the node is not to close one just
    as a request goes out on it)."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        idle_connections: int = 64,
        idle_seconds: float = 2.0,
    ) -> None:
        self.timeout = timeout
        self.idle_connections = idle_connections
        self.idle_seconds = idle_seconds
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def request(
        self,
        address: str,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Reply:
        """``method target`` (path and query) with ``headers`` (a ``Host`` added when
        they have none) and ``body`` to the node at ``address`` (``http://host:port``)."""
        host, port = _host_and_port(address)
        head = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\n"]
        if not any(name.lower() == b"host" for name, _ in headers):
            head.append(b"host: %s:%d\r\n" % (host.encode("idna"), port))
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        if body or method == "POST":
            head.append(b"content-length: %d\r\n" % len(body))
        head.append(b"\r\n")
        request = b"".join(head) + body
        async with asyncio.timeout(self.timeout):
            connection = self._reused(host, port)
            if connection is not None:
                try:
                    return await self._exchange(connection, host, port, request)
                except ConnectionError:
                    # The node closed the connection, having read nothing of the
                    # request (it answers every request it reads): again on a new one.
                    if connection.answering:
                        raise
            connection = await self._connect(host, port)
            return await self._exchange(connection, host, port, request)

    async def close(self) -> None:
        """Close the idle connections (a request in flight closes its own when done)."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

    def _reused(self, host: str, port: int) -> _Connection | None:
        idle = self._idle.get((host, port))
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            if connection.usable and now - connection.idle_since < self.idle_seconds:
                return connection
            connection.close()
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(lambda: _Connection(loop), host, port)
        return connection

    async def _exchange(
        self, connection: _Connection, host: str, port: int, request: bytes
    ) -> Reply:
        try:
            reply = await connection.send(request)
        except BaseException:  # (a timeout or a cancellation too: the reply may yet come)
            connection.close()
            raise
        idle = self._idle.setdefault((host, port), [])
        if connection.usable and len(idle) < self.idle_connections:
            connection.idle_since = asyncio.get_running_loop().time()
            idle.append(connection)
        else:
            connection.close()
        return reply


def _host_and_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address)
    try:
        port = parts.port or 80
    except ValueError as error:
        raise ConnectionError(f"not a node's address: {address!r}") from error
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectionError(f"not a node's address: {address!r}")
    return parts.hostname, port
