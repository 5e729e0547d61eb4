"""gureum's Node.js runtime streaming responses (``awslambda.streamifyResponse``) to the
real Runtime API server: chunks are read while the function still runs, failures come
in the trailers, and ``HttpResponseStream.from`` puts its prelude first."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from gureum.workers.runtime_api import Invocation, ResponseStream, RuntimeReply
from tests.runtimes.test_nodejs_runtime import ARN, NODE, NodeRuntime, node_runtime, run, write

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH")

TICKS = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  for (let i = 0; i < event.count; i++) {
    responseStream.write(`tick ${i} ${Date.now()}\\n`);
    await new Promise((resolve) => setTimeout(resolve, event.delay));
  }
  if (event.fail) {
    throw new Error('broke after the ticks');
  }
  responseStream.end(`done ${context.awsRequestId}`);
});
"""

PRELUDE = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'x-kind': 'streamed' },
    cookies: ['a=1'],
  });
  stream.write('héllo ');
  await new Promise((resolve) => setTimeout(resolve, 10));
  stream.end('world');
});
"""


async def streamed_invoke(
    runtime: NodeRuntime, payload: Any, *, take: bool = True
) -> tuple[Invocation, ResponseStream | None]:
    """Hand the runtime an event whose response is read as a stream (``take``)."""
    loop = asyncio.get_running_loop()
    invocation = Invocation(str(uuid.uuid4()), json.dumps(payload).encode(), 0, ARN)
    if take:
        invocation.streamed = loop.create_future()
    runtime.sandbox.submit(invocation)
    if not take:
        return invocation, None
    assert invocation.streamed is not None
    return invocation, await asyncio.wait_for(invocation.streamed, 10)


async def read_all(stream: ResponseStream) -> list[tuple[float, bytes]]:
    chunks = []
    while chunk := await asyncio.wait_for(stream.read(), 10):
        chunks.append((time.time(), chunk))
    return chunks


def test_chunks_are_read_while_the_function_still_writes(tmp_path: Path) -> None:
    root = write(tmp_path / "task", {"app.js": TICKS})

    async def scenario() -> None:
        async with node_runtime(root) as runtime:
            invocation, stream = await streamed_invoke(runtime, {"count": 3, "delay": 150})
            assert stream is not None and stream.content_type == "text/plain"
            first = await asyncio.wait_for(stream.read(), 10)
            read_at = time.time()
            assert first.startswith(b"tick 0 ") and not invocation.result.done()
            rest = await read_all(stream)
            body = first + b"".join(chunk for _, chunk in rest)
            lines = body.decode().split("\n")
            assert [line.split()[:2] for line in lines[:3]] == [
                ["tick", "0"],
                ["tick", "1"],
                ["tick", "2"],
            ]
            assert lines[3] == f"done {invocation.request_id}"
            # The first tick was read before the last was written.
            assert read_at * 1000 < int(lines[2].split()[2])
            reply = await asyncio.wait_for(invocation.result, 10)
            assert reply == RuntimeReply(b"") and stream.error_type is None

            # The connection goes on: a buffered caller gets the same function's body whole.
            invocation, _ = await streamed_invoke(runtime, {"count": 2, "delay": 1}, take=False)
            reply = await asyncio.wait_for(invocation.result, 10)
            assert reply.error_type is None
            assert reply.body.startswith(b"tick 0 ") and reply.body.endswith(
                f"done {invocation.request_id}".encode()
            )

    run(scenario())


def test_an_error_mid_stream_comes_in_the_trailers(tmp_path: Path) -> None:
    root = write(tmp_path / "task", {"app.js": TICKS})

    async def scenario() -> None:
        async with node_runtime(root) as runtime:
            invocation, stream = await streamed_invoke(
                runtime, {"count": 2, "delay": 10, "fail": True}
            )
            assert stream is not None
            chunks = await read_all(stream)
            assert b"".join(chunk for _, chunk in chunks).count(b"tick") == 2
            assert stream.error_type == "Error"
            error = json.loads(stream.error_body)
            assert error["errorMessage"] == "broke after the ticks"
            reply = await asyncio.wait_for(invocation.result, 10)
            assert reply.error_type == "Error" and json.loads(reply.body) == error
            await runtime.wait_for_output("Invoke Error")

            # ... and the runtime serves the next event.
            invocation, stream = await streamed_invoke(runtime, {"count": 1, "delay": 1})
            assert stream is not None
            assert b"done" in b"".join(chunk for _, chunk in await read_all(stream))

    run(scenario())


def test_the_http_prelude_goes_first_with_its_content_type(tmp_path: Path) -> None:
    root = write(tmp_path / "task", {"app.js": PRELUDE})

    async def scenario() -> None:
        async with node_runtime(root) as runtime:
            invocation, stream = await streamed_invoke(runtime, {})
            assert stream is not None
            assert stream.content_type == "application/vnd.awslambda.http-integration-response"
            body = b"".join(chunk for _, chunk in await read_all(stream))
            prelude, _, rest = body.partition(b"\0" * 8)
            assert json.loads(prelude) == {
                "statusCode": 201,
                "headers": {"x-kind": "streamed"},
                "cookies": ["a=1"],
            }
            assert rest == "héllo world".encode()

    run(scenario())


def test_a_crash_mid_stream_fails_the_stream_and_ends_the_process(tmp_path: Path) -> None:
    code = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before');
  setTimeout(() => { throw new TypeError('crashed in a timer'); }, 20);
  await new Promise(() => {});
});
"""
    root = write(tmp_path / "task", {"app.js": code})

    async def scenario() -> None:
        async with node_runtime(root) as runtime:
            invocation, stream = await streamed_invoke(runtime, {})
            assert stream is not None
            assert b"".join(chunk for _, chunk in await read_all(stream)) == b"before"
            assert stream.error_type == "TypeError"
            assert json.loads(stream.error_body)["errorMessage"] == "crashed in a timer"
            assert await runtime.exit_code() == 129

    run(scenario())


def test_a_stream_left_open_fails_as_an_unsettled_promise_does(tmp_path: Path) -> None:
    code = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('half');
});
"""
    root = write(tmp_path / "task", {"app.js": code})

    async def scenario() -> None:
        async with node_runtime(root) as runtime:
            invocation, stream = await streamed_invoke(runtime, {})
            assert stream is not None
            assert b"".join(chunk for _, chunk in await read_all(stream)) == b"half"
            assert stream.error_type == "Runtime.NodeJsExit"

    run(scenario())


def test_node_24_takes_a_streaming_handler_whose_third_parameter_is_the_context(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "task", {"app.js": TICKS})

    async def scenario() -> None:
        env = {"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"}
        async with node_runtime(root, env=env) as runtime:
            invocation, stream = await streamed_invoke(runtime, {"count": 1, "delay": 1})
            assert stream is not None
            body = b"".join(chunk for _, chunk in await read_all(stream))
            assert body.endswith(f"done {invocation.request_id}".encode())

    run(scenario())
