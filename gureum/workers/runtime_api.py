"""The Lambda Runtime API (2018-06-01), served to one sandbox on its own loopback port.

Every warm invoke crosses this server twice (``/invocation/next`` answered, then
``/response`` received), so it is a small asyncio protocol on httptools' parser rather
than a framework app: it costs tens of microseconds per request instead of hundreds.
A sandbox only ever learns its own port, so it can only talk to its own Runtime API.

A runtime may also stream a response (``Lambda-Runtime-Function-Response-Mode:
streaming``, a chunked body, an error reported in the trailers
``Lambda-Runtime-Function-Error-Type`` and ``-Body``): its chunks are handed to a
:class:`ResponseStream` as they arrive, and whoever invoked reads them from there before
the function has finished.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import httptools

from gureum import untrusted_json
from gureum.tracing.lambda_segments import InvocationTrace

#: Lambda's response and error payload limit (6 MB plus the 100 bytes Lambda allows).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
#: A generous bound on request heads and on the body of error reports.
MAX_HEADER_BYTES = 64 * 1024
#: Lambda's limit on a streamed response (200 MB; a soft 20 MB when streaming came out).
MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024
#: How much of a streamed response may wait for its reader before the Runtime API stops
#: reading from the runtime (which then waits in its writes, as a slow client makes it).
STREAM_HIGH_WATER = 1024 * 1024

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
    #: Set by a caller that reads a streamed response as it comes (InvokeWithResponseStream,
    #: a RESPONSE_STREAM function URL): the stream lands here when the runtime starts
    #: one. Without it a streamed response is kept whole, as a buffered one.
    streamed: asyncio.Future[ResponseStream] | None = None
    #: The response the runtime is streaming, once it started one.
    response_stream: ResponseStream | None = None
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


class ResponseStream:
    """A response the runtime streams, readable chunk by chunk while it comes.

    The Runtime API feeds it and finishes it; a reader ``take``s it and ``read``s until
    ``b""``. Untaken (the caller wanted the answer whole), it keeps the body for the
    reply, up to the buffered limit. While more than ``high_water`` bytes wait for a
    reader, the Runtime API's connection stops reading (``pause``/``resume``).
    """

    def __init__(
        self,
        content_type: str,
        *,
        pause: Callable[[], None] | None = None,
        resume: Callable[[], None] | None = None,
        buffered_limit: int = MAX_RESPONSE_BYTES,
        streamed_limit: int = MAX_STREAMED_RESPONSE_BYTES,
        high_water: int = STREAM_HIGH_WATER,
    ) -> None:
        self.content_type = content_type
        #: bytes the runtime may send in all (the streamed limit once taken)
        self.limit = buffered_limit
        self.streamed_limit = streamed_limit
        self.high_water = high_water
        self._pause = pause
        self._resume = resume
        self._paused = False
        self._chunks: collections.deque[bytes] = collections.deque()
        self._waiting = 0  # bytes in _chunks
        self._reader: asyncio.Future[None] | None = None
        self.taken = False
        self.abandoned = False
        #: bytes the runtime sent in all
        self.size = 0
        self.overflowed = False
        self.done = False
        #: how it ended: None, or the error the runtime (or the sandbox) reported
        self.error_type: str | None = None
        self.error_body = b""

    def take(self) -> ResponseStream:
        """A reader will read the stream: it may grow to the streamed limit."""
        self.taken = True
        self.limit = self.streamed_limit
        return self

    def feed(self, chunk: bytes) -> None:
        if self.done or self.overflowed:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.overflowed = True
            return
        if self.abandoned or not chunk:
            return
        self._chunks.append(chunk)
        self._waiting += len(chunk)
        if self.taken and self._waiting > self.high_water and self._pause and not self._paused:
            self._paused = True
            self._pause()
        self._wake()

    def finish(self, error_type: str | None = None, error_body: bytes = b"") -> None:
        """The end of the stream (an error, if the runtime or the sandbox reported one)."""
        if self.done:
            return
        self.done = True
        self.error_type = error_type
        self.error_body = error_body
        self._unpause()
        self._wake()

    def abandon(self) -> None:
        """The reader is gone: what else comes is dropped (the function runs on)."""
        self.abandoned = True
        self._chunks.clear()
        self._waiting = 0
        self._unpause()

    def body(self) -> bytes:
        """What came and was not read (all of it, when nobody took the stream)."""
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._waiting = 0
        return body

    async def read(self) -> bytes:
        """The next chunk (whatever has come since the last read), ``b""`` at the end."""
        while not self._chunks:
            if self.done:
                return b""
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        chunk = self.body() if len(self._chunks) > 1 else self._chunks.popleft()
        self._waiting = 0
        self._unpause()
        return chunk

    def _wake(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)
        self._reader = None

    def _unpause(self) -> None:
        if self._paused and self._resume is not None:
            self._paused = False
            self._resume()


class RuntimeAPIHandler(Protocol):
    """What the Runtime API needs from the sandbox it serves."""

    def next_invocation(self) -> asyncio.Future[Invocation]:
        """Wait for the next event; the first call marks the end of init."""

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        """Record the outcome of an invocation; False when the id is not the current one."""

    def invocation_stream(self, request_id: str, stream: ResponseStream) -> bool:
        """The runtime starts streaming the response of an invocation (its end comes with
        ``invocation_response``); False when the id is not the current one."""

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
        self._queue: list[
            tuple[bytes, bytes, dict[bytes, bytes], bytes, bool, ResponseStream | None]
        ] = []
        self._busy = False
        #: the streamed response being parsed (its chunks go to it, not to ``_body``)
        self._incoming: ResponseStream | None = None
        #: the streamed response handed to the sandbox, answered when its body has come
        self._open: tuple[str, ResponseStream, dict[bytes, bytes]] | None = None
        #: streamed responses whose body has all come (or whose id was refused)
        self._complete: set[ResponseStream] = set()
        self._refused: set[ResponseStream] = set()
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

    def on_headers_complete(self) -> None:
        mode = self._headers.get(b"lambda-runtime-function-response-mode")
        if mode is None or mode.lower() != b"streaming" or not self._url.endswith(b"/response"):
            return
        # Handed on at once (from the queue, in order): its chunks go to it as they come.
        content_type = self._headers.get(b"content-type", b"application/octet-stream")
        transport = self.transport
        stream = ResponseStream(
            content_type.decode("latin-1"),
            pause=transport.pause_reading if transport is not None else None,
            resume=self._resume_reading,
        )
        self._incoming = stream
        method = self.parser.get_method()
        self._queue.append((method, self._url, self._headers, b"", False, stream))

    def _resume_reading(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def on_body(self, body: bytes) -> None:
        if self._incoming is not None:
            self._incoming.feed(bytes(body))
            return
        if self._too_large:
            return
        if len(self._body) + len(body) > MAX_RESPONSE_BYTES:
            # Keep reading (the connection stays usable) but stop buffering.
            self._too_large = True
            self._body = bytearray()
            return
        self._body += body

    def on_message_complete(self) -> None:
        if self._incoming is not None:
            # (its trailers are in ``_headers`` now, the dict its queue entry holds)
            self._complete.add(self._incoming)
            self._incoming = None
            return
        method = self.parser.get_method()
        self._queue.append(
            (method, self._url, self._headers, bytes(self._body), self._too_large, None)
        )

    # request handling, one at a time per connection
    def _dispatch(self) -> None:
        if self._open is not None:
            if self._open[1] not in self._complete:
                return
            self._end_stream()
        while self._queue and not self._busy and self._open is None:
            method, url, headers, body, too_large, stream = self._queue.pop(0)
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
            if stream is not None:
                # Answered once its body has come; the requests behind it wait.
                self._open = (request_id, stream, headers)
                if not self.handler.invocation_stream(request_id, stream):
                    self._refused.add(stream)
                    stream.abandon()
                if stream in self._complete:
                    self._end_stream()
                continue
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
                self._invalid_id(request_id)

    def _invalid_id(self, request_id: str) -> None:
        self._reply(
            403,
            json.dumps(
                {
                    "errorMessage": f"Invalid request ID: {request_id}",
                    "errorType": "InvalidStateTransition",
                }
            ).encode(),
        )

    def _end_stream(self) -> None:
        """The body of the open streamed response has all come: end the stream with the
        error its trailers report, if any, and answer it."""
        assert self._open is not None
        request_id, stream, headers = self._open
        self._open = None
        self._complete.discard(stream)
        if stream in self._refused:
            self._refused.discard(stream)
            self._invalid_id(request_id)
            return
        trailer = headers.get(b"lambda-runtime-function-error-type")
        error_type = trailer.decode("latin-1") if trailer else None
        error_body = b""
        if error_type is not None:
            raw = headers.get(b"lambda-runtime-function-error-body", b"")
            try:
                error_body = base64.b64decode(raw, validate=True)
            except binascii.Error:
                error_body = raw
            if not error_body:
                error_body = json.dumps(
                    {"errorType": error_type, "errorMessage": "The function's stream failed."}
                ).encode()
        if stream.overflowed:
            limit = stream.limit
            error_type = "Function.ResponseSizeTooLarge"
            error_body = json.dumps(
                {
                    "errorMessage": "Response payload size exceeded maximum allowed "
                    f"payload size ({limit} bytes).",
                    "errorType": error_type,
                }
            ).encode()
        if error_type is not None:
            body = error_body
        else:  # (what a reader has not read yet is still its own)
            body = b"" if stream.taken else stream.body()
        stream.finish(error_type, error_body)
        accepted = self.handler.invocation_response(request_id, RuntimeReply(body, error_type))
        if stream.overflowed:
            self._reply(
                413,
                json.dumps(
                    {
                        "errorMessage": f"Exceeded maximum allowed payload size ({limit} bytes).",
                        "errorType": "RequestEntityTooLarge",
                    }
                ).encode(),
            )
        elif accepted:
            self._accepted()
        else:
            self._invalid_id(request_id)

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
