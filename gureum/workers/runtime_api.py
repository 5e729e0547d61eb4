"""The Lambda Runtime API (2018-06-01), served to one sandbox on its own loopback port.

Every warm invoke crosses this server twice (``/invocation/next`` answered, then
``/response`` received), so it is a small asyncio protocol on httptools' parser rather
than a framework app: it costs tens of microseconds per request instead of hundreds.
A sandbox only ever learns its own port, so it can only talk to its own Runtime API.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
from dataclasses import dataclass, field
from typing import Protocol, cast

import httptools

from gureum import untrusted_json
from gureum.tracing.lambda_segments import InvocationTrace

#: Lambda's response and error payload limit (6 MB plus the 100 bytes Lambda allows).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
#: A generous bound on request heads and on the body of error reports.
MAX_HEADER_BYTES = 64 * 1024

_PATH = re.compile(
    rb"^/2018-06-01/runtime/(?:invocation/(?P<id>[^/]+)/(?P<kind>response|error)"
    rb"|(?P<simple>invocation/next|init/error))$"
)

_REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Request Entity Too Large",
    500: b"Internal Server Error",
}


def _http_response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    # Content-Type must be exactly application/json: awslambdaric only decodes the
    # event on an exact match.
    head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        status,
        _REASONS.get(status, b"Unknown"),
        len(body),
    )
    return head + extra + b"\r\n" + body


_ACCEPTED = _http_response(202, b'{"status":"OK"}')


@dataclass(slots=True)
class Invocation:
    """One event on its way to a runtime, and the future its outcome lands in."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str | None = None
    client_context: str | None = None
    cognito_identity: str | None = None
    #: The invocation's trace context (segments are recorded when it is sampled).
    trace: InvocationTrace | None = None
    result: asyncio.Future[RuntimeReply] = field(default_factory=lambda: _new_future())


def _new_future() -> asyncio.Future[RuntimeReply]:
    return asyncio.get_running_loop().create_future()


@dataclass(frozen=True, slots=True)
class RuntimeReply:
    """What the runtime said about an invocation: a response or an error report."""

    body: bytes
    error_type: str | None = None  # None: a successful response

    @property
    def is_error(self) -> bool:
        return self.error_type is not None


class RuntimeAPIHandler(Protocol):
    """What the Runtime API needs from the sandbox it serves."""

    def next_invocation(self) -> asyncio.Future[Invocation]:
        """Wait for the next event; the first call marks the end of init."""

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        """Record the outcome of an invocation; False when the id is not the current one."""

    def init_error(self, reply: RuntimeReply) -> None:
        """The runtime failed its init and is about to exit."""


def error_type_of(body: bytes, header: str | None) -> str:
    """The error type of an ``/error`` report: the header, else the body's ``errorType``."""
    if header:
        return header
    try:
        parsed = untrusted_json.loads(body)
    except ValueError:
        return "Runtime.Unknown"
    if isinstance(parsed, dict) and isinstance(parsed.get("errorType"), str):
        return str(parsed["errorType"])
    return "Runtime.Unknown"


NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
TCP_TIME_WAIT = 6
_NOCOOKIE = 0xFFFFFFFF
_DIAG_REQUEST = struct.Struct("=IHHII BBBx I HH 16s16s I II")
_DIAG_REPLY = struct.Struct("=IHHII BBBB HH16s16sIII IIIII")


def socket_owner(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid owning the client end of the TCP connection ``peer`` -> ``local``.

    Asked of the kernel by the connection's exact four-tuple (``sock_diag`` over
    netlink, a hash lookup): reading ``/proc/net/tcp`` walks the whole socket table,
    which costs milliseconds on a host with much memory. A connection that has already
    closed (TIME_WAIT) is nobody's.
    """
    try:
        client, server = socket.inet_aton(peer[0]), socket.inet_aton(local[0])
        request = _DIAG_REQUEST.pack(
            _DIAG_REQUEST.size,
            SOCK_DIAG_BY_FAMILY,
            NLM_F_REQUEST,
            1,
            0,
            socket.AF_INET,
            socket.IPPROTO_TCP,
            0,
            0xFFFFFFFF,
            socket.htons(peer[1]),
            socket.htons(local[1]),
            client,
            server,
            0,
            _NOCOOKIE,
            _NOCOOKIE,
        )
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as diag:
            diag.send(request)
            reply = diag.recv(4096)
    except OSError:
        return None
    if len(reply) < _DIAG_REPLY.size:
        return None
    fields = _DIAG_REPLY.unpack_from(reply)
    if fields[1] == NLMSG_ERROR or fields[6] == TCP_TIME_WAIT:
        return None
    return int(fields[19])


class RuntimeAPIProtocol(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection from a runtime."""

    def __init__(self, handler: RuntimeAPIHandler, expected_uid: int | None = None) -> None:
        self.handler = handler
        self.expected_uid = expected_uid
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body = bytearray()
        self._too_large = False
        self._head_bytes = 0
        self._queue: list[tuple[bytes, bytes, dict[bytes, bytes], bytes, bool]] = []
        self._busy = False
        self._next: asyncio.Future[Invocation] | None = None
        #: a 202 not yet written: it goes out with the next reply (see ``_accepted``)
        self._held = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, hence the cast.
        self.transport = cast(asyncio.Transport, transport)
        if self.expected_uid is not None:
            # Only the sandbox's own user may talk to its Runtime API: another sandbox
            # on the same loopback must not read its events or answer for it.
            peer = transport.get_extra_info("peername")
            local = transport.get_extra_info("sockname")
            owner = socket_owner(peer[:2], local[:2]) if peer and local else None
            if owner != self.expected_uid:
                self._reply(
                    403,
                    b'{"errorType":"AccessDenied","errorMessage":'
                    b'"This Runtime API belongs to another sandbox."}',
                    close=True,
                )

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._next is not None:
            self._next.cancel()

    def data_received(self, data: bytes) -> None:
        # Requests are handled once the whole chunk is parsed, so that a response's
        # handling sees a pipelined request for the next event behind it.
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self._busy:
                self._dispatch()  # what came whole before the bad bytes
            self._reply(400, b'{"errorType":"InvalidRequest"}', close=True)
            return
        if not self._busy:
            self._dispatch()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = bytearray()
        self._too_large = False
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEADER_BYTES and self.transport is not None:
            self.transport.close()
            return
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        if len(self._body) + len(body) > MAX_RESPONSE_BYTES:
            # Keep reading (the connection stays usable) but stop buffering.
            self._too_large = True
            self._body = bytearray()
            return
        self._body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        self._queue.append((method, self._url, self._headers, bytes(self._body), self._too_large))

    # request handling, one at a time per connection
    def _dispatch(self) -> None:
        while self._queue and not self._busy:
            method, url, headers, body, too_large = self._queue.pop(0)
            path = url.split(b"?", 1)[0]
            match = _PATH.match(path)
            if match is None:
                self._reply(404, b'{"errorType":"InvalidRequest","errorMessage":"Not found"}')
                continue
            if match.group("simple") == b"invocation/next":
                if method != b"GET":
                    self._reply(405, b'{"errorType":"InvalidRequest"}')
                    continue
                self._busy = True
                # A callback on the sandbox's future, not a task per request: this
                # is the hot path.
                self._next = self.handler.next_invocation()
                self._next.add_done_callback(self._serve_next)
                return
            if method != b"POST":
                self._reply(405, b'{"errorType":"InvalidRequest"}')
                continue
            error_header = headers.get(b"lambda-runtime-function-error-type")
            error_header_str = error_header.decode("latin-1") if error_header else None
            if match.group("simple") == b"init/error":
                reply = RuntimeReply(body, error_type_of(body, error_header_str))
                self.handler.init_error(reply)
                self._reply(202, b'{"status":"OK"}')
                continue
            request_id = match.group("id").decode("latin-1")
            if too_large:
                reply = RuntimeReply(
                    json.dumps(
                        {
                            "errorMessage": "Response payload size exceeded maximum allowed "
                            f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                            "errorType": "Function.ResponseSizeTooLarge",
                        }
                    ).encode(),
                    "Function.ResponseSizeTooLarge",
                )
                self.handler.invocation_response(request_id, reply)
                self._reply(
                    413,
                    json.dumps(
                        {
                            "errorMessage": "Exceeded maximum allowed payload size "
                            f"({MAX_RESPONSE_BYTES} bytes).",
                            "errorType": "RequestEntityTooLarge",
                        }
                    ).encode(),
                )
                continue
            if match.group("kind") == b"response":
                reply = RuntimeReply(body)
            else:
                reply = RuntimeReply(body, error_type_of(body, error_header_str))
            if self.handler.invocation_response(request_id, reply):
                self._accepted()
            else:
                self._reply(
                    403,
                    json.dumps(
                        {
                            "errorMessage": f"Invalid request ID: {request_id}",
                            "errorType": "InvalidStateTransition",
                        }
                    ).encode(),
                )

    def _accepted(self) -> None:
        """Answer a response or error with 202. When the runtime has already asked for
        its next event in the same write (pipelining, as gureum's runtime does), the 202
        waits and goes out in one write with that event: a runtime reads a connection's
        answers in order, so it sees the same bytes, with one wake-up fewer per invoke on
        both sides. A runtime that waits for the 202 before asking gets it at once."""
        following = self._queue[0] if self._queue else None
        if (
            following is not None
            and following[0] == b"GET"
            and following[1].endswith(b"/invocation/next")
        ):
            self._held += _ACCEPTED
        else:
            self._write(_ACCEPTED)

    def _serve_next(self, future: asyncio.Future[Invocation]) -> None:
        self._next = None
        if future.cancelled() or self.transport is None:
            return
        invocation = future.result()
        headers = [
            b"Lambda-Runtime-Aws-Request-Id: ",
            invocation.request_id.encode(),
            b"\r\n",
            b"Lambda-Runtime-Deadline-Ms: ",
            str(invocation.deadline_ms).encode(),
            b"\r\n",
            b"Lambda-Runtime-Invoked-Function-Arn: ",
            invocation.invoked_function_arn.encode(),
            b"\r\n",
        ]
        if invocation.trace_id:
            headers += [b"Lambda-Runtime-Trace-Id: ", invocation.trace_id.encode(), b"\r\n"]
        if invocation.client_context:
            headers += [
                b"Lambda-Runtime-Client-Context: ",
                invocation.client_context.encode(),
                b"\r\n",
            ]
        if invocation.cognito_identity:
            headers += [
                b"Lambda-Runtime-Cognito-Identity: ",
                invocation.cognito_identity.encode(),
                b"\r\n",
            ]
        self._reply(200, invocation.payload, extra=b"".join(headers))
        self._busy = False
        if self._queue:
            self._dispatch()

    def _reply(self, status: int, body: bytes, *, extra: bytes = b"", close: bool = False) -> None:
        if self.transport is None:
            return
        self._write(_http_response(status, body, extra))
        if close:
            self.transport.close()

    def _write(self, answer: bytes) -> None:
        """Write an answer, after any 202 held for it."""
        if self.transport is not None:
            self.transport.write(self._held + answer)
            self._held = b""


class RuntimeAPIServer:
    """A Runtime API listening on a free loopback port for one sandbox."""

    def __init__(
        self, handler: RuntimeAPIHandler, host: str = "127.0.0.1", expected_uid: int | None = None
    ) -> None:
        self.handler = handler
        self.host = host
        self.expected_uid = expected_uid
        self._server: asyncio.Server | None = None
        self._unix_server: asyncio.Server | None = None
        self.port = 0

    async def start(self, unix_path: str | None = None) -> None:
        """Listen on a free loopback port, and on ``unix_path`` if given.

        The unix socket serves sandboxes without a network (their init relays the
        runtime's loopback connections to it); only that sandbox's root-owned init can
        reach it, so it needs no peer check.
        """
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.Protocol:
            return RuntimeAPIProtocol(self.handler, self.expected_uid)

        self._server = await loop.create_server(factory, self.host, 0, backlog=16)
        if unix_path is not None:
            self._unix_server = await loop.create_unix_server(
                lambda: RuntimeAPIProtocol(self.handler), unix_path, backlog=16
            )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        for server in (self._server, self._unix_server):
            if server is not None:
                server.close()
        self._server = self._unix_server = None
