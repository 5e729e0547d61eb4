"""The X-Ray daemon: segment documents over UDP, sampling calls over TCP.

Each UDP datagram is a header line, ``{"format": "json", "version": 1}`` (parsed as
JSON: the Python SDK sends it without spaces), a newline, then one segment or
subsegment document. Good documents go to the trace store; bad ones are counted by
reason and dropped, never raised. The SDKs' centralized sampler calls
``POST /GetSamplingRules`` and ``POST /SamplingTargets`` on the daemon's address over TCP,
unsigned: gureum serves its edge app there too (without authentication), so those calls
reach the same X-Ray API.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from typing import Any

import uvicorn

from gureum import sockets, untrusted_json
from gureum.tracing.segments import InvalidSegment, parse_document
from gureum.tracing.trace_store import TraceStore

logger = logging.getLogger(__name__)

#: Kernel receive buffer asked for: bursts of small datagrams queue here while the
#: event loop is busy, instead of being dropped.
RECEIVE_BUFFER = 16 * 1024 * 1024
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (ValueError otherwise)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not HOST:PORT: {value!r}")
    return host.strip("[]"), int(port)


async def serve_tcp(app: Any, host: str, port: int, *, reuse_port: bool = False) -> uvicorn.Server:
    """Serve ``app`` on the daemon's TCP address (the same port as its UDP one)."""
    # Bound here: uvicorn would exit the process if it could not bind.
    sock = sockets.bind(host, port, reuse_port=reuse_port)
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="off", access_log=False, log_level="warning"
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    return server


class XRayDaemon(asyncio.DatagramProtocol):
    """The UDP side: datagrams in, segments to the trace store."""

    def __init__(self, traces: TraceStore) -> None:
        self.traces = traces
        self.received = 0
        self.dropped: Counter[str] = Counter()
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> tuple[str, int]:
        """Listen on ``host:port``; the address bound (port 0: a free one; ``reuse_port``:
        shared with other processes, which the kernel spreads the datagrams over)."""
        sock = sockets.bind(host, port, udp=True, reuse_port=reuse_port)
        try:  # as root, past net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.transport = transport
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's UDP transport is not an asyncio.DatagramTransport subclass)
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int] | None) -> None:
        self.received += 1
        header, newline, body = data.partition(b"\n")
        if not newline:
            self.dropped["no header"] += 1
            return
        try:
            parsed = untrusted_json.loads(header)
            if parsed.get("format") != "json" or parsed.get("version") != 1:
                raise ValueError
        except (ValueError, AttributeError, UnicodeDecodeError):
            self.dropped["bad header"] += 1
            return
        try:
            segment = parse_document(body)
        except InvalidSegment as exc:
            self.dropped[exc.reason] += 1
            logger.debug("dropped a segment from %s: %s", addr, exc)
            return
        self.traces.add(segment)

    def error_received(self, exc: Exception) -> None:
        logger.debug("X-Ray daemon socket error: %s", exc)
