"""The Runtime API's wire behaviour with a raw HTTP/1.1 client: pipelined requests are
answered in order, and a 202 for a response travels with the next event when the
runtime asked for that event in the same write."""

from __future__ import annotations

import asyncio
import base64

from gureum.workers.runtime_api import Invocation, ResponseStream, RuntimeAPIServer, RuntimeReply

BASE = b"/2018-06-01/runtime"


class Sandbox:
    """The handler side: events handed out one at a time, replies recorded."""

    def __init__(self) -> None:
        self.waiting: asyncio.Future[Invocation] | None = None
        self.current: str | None = None
        self.replies: list[tuple[str, RuntimeReply]] = []
        self.streams: list[tuple[str, ResponseStream]] = []

    def next_invocation(self) -> asyncio.Future[Invocation]:
        self.waiting = asyncio.get_running_loop().create_future()
        return self.waiting

    def give(self, request_id: str) -> None:
        assert self.waiting is not None and not self.waiting.done()
        self.current = request_id
        self.waiting.set_result(Invocation(request_id, b'{"n": 1}', 0, "arn:fn"))

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        if request_id != self.current:
            return False
        self.replies.append((request_id, reply))
        self.current = None
        return True

    def invocation_stream(self, request_id: str, stream: ResponseStream) -> bool:
        if request_id != self.current:
            return False
        self.streams.append((request_id, stream.take()))
        return True

    def init_error(self, reply: RuntimeReply) -> None:
        raise AssertionError("no init error expected")


def request(method: bytes, path: bytes, body: bytes = b"") -> bytes:
    return b"%s %s%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        method,
        BASE,
        path,
        len(body),
        body,
    )


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    return int(head[0].split()[1]), headers, body


def test_the_202_goes_out_with_the_next_event_when_it_was_asked_for_in_the_same_write() -> None:
    async def scenario() -> None:
        sandbox = Sandbox()
        server = RuntimeAPIServer(sandbox)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(request(b"GET", b"/invocation/next"))
            await asyncio.sleep(0.05)
            sandbox.give("a")
            status, headers, body = await read_answer(reader)
            assert (status, headers["lambda-runtime-aws-request-id"], body) == (
                200,
                "a",
                b'{"n": 1}',
            )

            # A response and the next request in one write: nothing comes back until
            # the next event, then the 202 and that event, in this order.
            writer.write(
                request(b"POST", b"/invocation/a/response", b'"done"')
                + request(b"GET", b"/invocation/next")
            )
            await asyncio.sleep(0.1)
            assert sandbox.replies == [("a", RuntimeReply(b'"done"'))]
            assert not reader._buffer  # type: ignore[attr-defined]
            sandbox.give("b")
            assert await read_answer(reader) == (
                202,
                {"content-type": "application/json", "content-length": "15"},
                b'{"status":"OK"}',
            )
            status, headers, _ = await read_answer(reader)
            assert (status, headers["lambda-runtime-aws-request-id"]) == (200, "b")

            # A runtime that waits for its 202 before asking again gets it at once.
            writer.write(request(b"POST", b"/invocation/b/response", b"1"))
            status, _, _ = await asyncio.wait_for(read_answer(reader), 5)
            assert status == 202

            # A rejected response is answered at once, pipelined or not.
            writer.write(
                request(b"POST", b"/invocation/zzz/response", b"1")
                + request(b"GET", b"/invocation/next")
            )
            status, _, body = await asyncio.wait_for(read_answer(reader), 5)
            assert status == 403 and b"InvalidStateTransition" in body
        finally:
            writer.close()
            server.close()

    asyncio.run(scenario())


def stream_head(request_id: bytes, content_type: bytes = b"text/plain") -> bytes:
    return (
        b"POST %s/invocation/%s/response HTTP/1.1\r\nHost: x\r\n"
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: %s\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        b"\r\n" % (BASE, request_id, content_type)
    )


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_streamed_response_is_handed_on_chunk_by_chunk_and_answered_at_its_end() -> None:
    async def scenario() -> None:
        sandbox = Sandbox()
        server = RuntimeAPIServer(sandbox)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(request(b"GET", b"/invocation/next"))
            await asyncio.sleep(0.05)
            sandbox.give("a")
            await read_answer(reader)

            writer.write(stream_head(b"a") + chunk(b"one "))
            await asyncio.sleep(0.05)
            [(request_id, stream)] = sandbox.streams
            assert (request_id, stream.content_type) == ("a", "text/plain")
            assert await asyncio.wait_for(stream.read(), 5) == b"one "
            assert not sandbox.replies and not reader._buffer  # type: ignore[attr-defined]

            writer.write(chunk(b"two"))
            assert await asyncio.wait_for(stream.read(), 5) == b"two"
            # The end, and the next request in the same write: the 202 waits for its event.
            writer.write(b"0\r\n\r\n" + request(b"GET", b"/invocation/next"))
            assert await asyncio.wait_for(stream.read(), 5) == b""
            assert stream.error_type is None
            assert sandbox.replies == [("a", RuntimeReply(b""))]
            sandbox.give("b")
            assert (await asyncio.wait_for(read_answer(reader), 5))[0] == 202
            status, headers, _ = await asyncio.wait_for(read_answer(reader), 5)
            assert (status, headers["lambda-runtime-aws-request-id"]) == (200, "b")

            # An error mid-stream comes in the trailers, its body base64.
            error = b'{"errorType":"Error","errorMessage":"boom"}'
            writer.write(
                stream_head(b"b")
                + chunk(b"partial")
                + b"0\r\nLambda-Runtime-Function-Error-Type: Error\r\n"
                + b"Lambda-Runtime-Function-Error-Body: "
                + base64.b64encode(error)
                + b"\r\n\r\n"
            )
            assert (await asyncio.wait_for(read_answer(reader), 5))[0] == 202
            stream = sandbox.streams[1][1]
            assert await stream.read() == b"partial"
            assert await stream.read() == b""
            assert (stream.error_type, stream.error_body) == ("Error", error)
            assert sandbox.replies[1] == ("b", RuntimeReply(error, "Error"))

            # A stream for no current invocation: 403 once its body has come.
            writer.write(stream_head(b"zzz") + chunk(b"x") + b"0\r\n\r\n")
            status, _, body = await asyncio.wait_for(read_answer(reader), 5)
            assert status == 403 and b"InvalidStateTransition" in body
        finally:
            writer.close()
            server.close()

    asyncio.run(scenario())


def test_an_untaken_stream_is_kept_whole_and_a_taken_one_is_limited() -> None:
    kept = ResponseStream("text/plain", buffered_limit=10, streamed_limit=20)
    kept.feed(b"abc")
    kept.feed(b"def")
    assert kept.body() == b"abcdef"
    kept.feed(b"0123456789")
    assert kept.overflowed

    paused: list[str] = []
    taken = ResponseStream(
        "text/plain",
        pause=lambda: paused.append("pause"),
        resume=lambda: paused.append("resume"),
        buffered_limit=10,
        streamed_limit=20,
        high_water=4,
    ).take()
    taken.feed(b"0123456789")
    assert not taken.overflowed and paused == ["pause"]
    assert asyncio.run(taken.read()) == b"0123456789" and paused == ["pause", "resume"]
    taken.feed(b"0123456789x")
    assert taken.overflowed


def test_a_stream_past_its_limit_fails_the_invocation_and_is_answered_413() -> None:
    async def scenario() -> None:
        class Untaken(Sandbox):
            def invocation_stream(self, request_id: str, stream: ResponseStream) -> bool:
                return request_id == self.current  # (nobody reads it: kept whole)

        sandbox = Untaken()
        server = RuntimeAPIServer(sandbox)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(request(b"GET", b"/invocation/next"))
            await asyncio.sleep(0.05)
            sandbox.give("a")
            await read_answer(reader)
            writer.write(stream_head(b"a"))
            piece = chunk(b"x" * (1024 * 1024))
            for _ in range(7):
                writer.write(piece)
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            status, _, body = await asyncio.wait_for(read_answer(reader), 10)
            assert status == 413 and b"RequestEntityTooLarge" in body
            [(request_id, reply)] = sandbox.replies
            assert reply.error_type == "Function.ResponseSizeTooLarge"
        finally:
            writer.close()
            server.close()

    asyncio.run(scenario())
