"""Function URLs in InvokeMode RESPONSE_STREAM, read with http.client chunk by chunk: the
``HttpResponseStream.from`` prelude gives the status, headers and cookies, the body comes
while the function still writes it, and a function that does not stream answers by the
2.0 rules."""

from __future__ import annotations

import http.client
import json
import shutil
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from gureum.gateway.function_urls import streamed_head
from tests.conftest import ROLE, unique_name, zip_files

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH")

EVENTS = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  if (event.rawPath === '/plain') {
    responseStream.setContentType('text/plain');
    responseStream.write('as it is');
    responseStream.end();
    return;
  }
  if (event.rawPath === '/fail') {
    throw new Error('before any byte');
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/event-stream', 'x-path': event.rawPath },
    cookies: ['a=1', 'b=2'],
  });
  for (let i = 0; i < 3; i++) {
    stream.write(`data: ${i} ${Date.now()}\\n\\n`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  stream.end();
});
"""


def test_the_prelude_gives_the_head_and_the_rest_is_the_body() -> None:
    prelude = b'{"statusCode":404,"headers":{"x-a":"1"},"cookies":["c=3"]}' + b"\0" * 8
    head = streamed_head("application/vnd.awslambda.http-integration-response", prelude + b"hi")
    assert head is not None and head.status == 404 and head.body == b"hi"
    assert head.headers == [
        ("x-a", "1"),
        ("set-cookie", "c=3"),
        ("content-type", "application/octet-stream"),
    ]
    plain = streamed_head("text/plain", b"hi")
    assert plain is not None and (plain.status, plain.headers) == (
        200,
        [("content-type", "text/plain")],
    )
    assert streamed_head("application/vnd.awslambda.http-integration-response", b"{}") is None
    for broken in (b'{"statusCode":"x"}', '{"headers":{"x":"\u2603"}}'.encode()):
        stream = broken + b"\0" * 8
        assert streamed_head("application/vnd.awslambda.http-integration-response", stream) is None


def streaming_url(lambda_client: Any, name: str) -> urllib.parse.SplitResult:
    url: str = lambda_client.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    return urllib.parse.urlsplit(url)


def get(url: urllib.parse.SplitResult, path: str) -> tuple[http.client.HTTPConnection, Any]:
    connection = http.client.HTTPConnection(url.netloc, timeout=30)
    connection.request("GET", url.path.rstrip("/") + path)
    return connection, connection.getresponse()


@needs_node
def test_a_streamed_answer_arrives_chunk_by_chunk_with_the_preludes_head(
    lambda_client: Any,
) -> None:
    name = unique_name("url-stream")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_files({"index.js": EVENTS})},
        Timeout=10,
    )
    url = streaming_url(lambda_client, name)

    connection, response = get(url, "/events")
    try:
        assert response.status == 201
        assert response.getheader("content-type") == "text/event-stream"
        assert response.getheader("x-path") == "/events"
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
        assert response.getheader("x-amzn-requestid")
        first = response.read1()
        first_at = time.time() * 1000
        assert first.startswith(b"data: 0 ")
        body = first + response.read()
    finally:
        connection.close()
    events = [line for line in body.decode().split("\n\n") if line]
    assert [event.split()[1] for event in events] == ["0", "1", "2"]
    # The first event was read before the last was written.
    assert first_at < int(events[2].split()[2])

    connection, response = get(url, "/plain")
    try:
        assert (response.status, response.getheader("content-type")) == (200, "text/plain")
        assert response.read() == b"as it is"
    finally:
        connection.close()

    connection, response = get(url, "/fail")
    try:
        assert response.status == 502
        assert json.loads(response.read()) == {"Message": "Internal Server Error"}
    finally:
        connection.close()


def test_a_function_that_does_not_stream_answers_by_the_2_0_rules(
    lambda_client: Any, deploy: Callable[..., str]
) -> None:
    name = deploy(
        "def handler(event, context):\n"
        "    return {'statusCode': 418, 'headers': {'x-teapot': 'yes'}, 'body': event['rawPath']}\n"
    )
    url = streaming_url(lambda_client, name)
    connection, response = get(url, "/brew")
    try:
        assert response.status == 418 and response.getheader("x-teapot") == "yes"
        assert response.read() == b"/brew"
    finally:
        connection.close()
