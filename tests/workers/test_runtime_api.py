"""The Runtime API's wire behaviour with a raw HTTP/1.1 client: pipelined requests are
answered in order, and a 202 for a response travels with the next event when the
runtime asked for that event in the same write."""

from __future__ import annotations

import asyncio

from gureum.workers.runtime_api import Invocation, RuntimeAPIServer, RuntimeReply

BASE = b"/2018-06-01/runtime"


class Sandbox:
    """The handler side: events handed out one at a time, replies recorded."""

    def __init__(self) -> None:
        self.waiting: asyncio.Future[Invocation] | None = None
        self.current: str | None = None
        self.replies: list[tuple[str, RuntimeReply]] = []

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
