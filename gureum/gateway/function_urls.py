"""Lambda function URLs served on the edge: a request to a URL invokes its function.

A URL is addressed as an HTTP API's invoke URL is (:mod:`~gureum.gateway.http_api`):
path-style, ``{edge}/_aws/lambda-url/{url-id}/{path}`` (its ``FunctionUrl``), or by a
``Host`` of ``{url-id}.lambda-url.localhost``. The function (its ``$LATEST`` or the
URL's alias) gets the payload format 2.0 event as Lambda's function URLs write it
(``routeKey`` and ``stage`` ``$default``, ``apiId`` the url id, ``rawPath`` the path
after the URL's address) and its answer is read by 2.0's rules.

AuthType ``AWS_IAM``: the request must be SigV4-signed for ``lambda`` with the server's
key (else ``403 {"Message":"Forbidden"}``), and the event's
``requestContext.authorizer.iam`` names the caller. ``NONE``: nothing is checked.
A URL with ``Cors`` answers a browser's preflight itself and adds the
``Access-Control-*`` headers to its answers when the ``Origin`` is allowed.

InvokeMode ``RESPONSE_STREAM``: what a function streams goes to the client as it comes,
chunked. A stream of ``application/vnd.awslambda.http-integration-response``
(``awslambda.HttpResponseStream.from``) starts with a JSON prelude
(``statusCode``, ``headers``, ``cookies``) and 8 NUL bytes, then the body; any other is
a 200 with the stream's content type and the bytes as they are. A function that does
not stream is answered by 2.0's rules, as under ``BUFFERED``. A failure once the status
is out can only end the body early.

Lambda's own answers: no such URL, ``404 {"Message":"Not Found"}``; a function error or
an unusable answer, ``502 {"Message":"Internal Server Error"}``; a throttled function,
``429 {"Message":"Too Many Requests"}``; a body over 6 MB, 413.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from gureum.errors import ResourceNotFoundException, ServiceError, TooManyRequestsException
from gureum.front_end_invoke import Caller, FrontEndInvoke, Invoked
from gureum.frontend import sigv4
from gureum.functions.config import LATEST
from gureum.gateway import cors, http_events
from gureum.gateway.http_api import (
    BodyTooLarge,
    address_of,
    header,
    http_request,
    read_body,
    request_headers,
    send_response,
)
from gureum.gateway.http_events import HttpResponse, RequestContext
from gureum.gateway.url_api import PATH_PREFIX
from gureum.gateway.url_store import FunctionUrl, UrlStore
from gureum.ids import new_uuid
from gureum.workers.runtime_api import ResponseStream

logger = logging.getLogger(__name__)

HOST_SUFFIX = ".lambda-url.localhost"
#: Lambda's synchronous payload limit, a function URL's request body limit too.
MAX_BODY = 6 * 1024 * 1024
DEFAULT = "$default"
#: The content type of a stream that starts with an HTTP prelude.
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8
#: How far into a stream its prelude must end (as API Gateway bounds it).
MAX_PRELUDE = 16 * 1024


@dataclass
class StreamedResponse:
    """A streamed answer: its status and headers and the body's first bytes, the rest of
    the body still coming from ``stream``, and the invocation still ``running``."""

    head: HttpResponse
    stream: ResponseStream
    running: asyncio.Future[Invoked]


def streamed_head(stream_type: str, start: bytes) -> HttpResponse | None:
    """The status and headers a stream gives, with the body's first bytes; ``start``
    holds the whole prelude if it has one. None: an unusable prelude."""
    if stream_type != PRELUDE_CONTENT_TYPE:
        return HttpResponse(200, [("content-type", stream_type)], start)
    end = start.find(PRELUDE_DELIMITER)
    if end == -1:
        return None
    try:
        prelude = json.loads(start[:end])
    except ValueError:
        return None
    if not isinstance(prelude, dict):
        return None
    status = prelude.get("statusCode", 200)
    headers = prelude.get("headers") or {}
    cookies = prelude.get("cookies") or []
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(cookies, list)
    ):
        return None
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    pairs += [("set-cookie", str(cookie)) for cookie in cookies]
    try:
        for name, value in pairs:
            name.encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:  # (not sendable as a header)
        return None
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("content-type", "application/octet-stream"))
    return HttpResponse(status, pairs, start[end + len(PRELUDE_DELIMITER) :])


def url_error(status: int, message: str) -> HttpResponse:
    """A function URL's own answers: ``{"Message": ...}`` with its status."""
    return HttpResponse(
        status, [("content-type", "application/json")], json.dumps({"Message": message}).encode()
    )


class FunctionUrls:
    """The edge's part for function URLs."""

    def __init__(
        self,
        urls: UrlStore,
        invoke: FrontEndInvoke,
        *,
        region: str,
        account_id: str,
        secrets: dict[str, str] | None,
    ) -> None:
        self.urls = urls
        self.invoke = invoke
        self.region = region
        self.account_id = account_id
        #: The server's keys (None: the server checks no signatures, AWS_IAM's neither).
        self.secrets = secrets

    def addressed(self, scope: Scope) -> tuple[str, str, str] | None:
        """(url id, raw path after the URL's address, domain name) when ``scope`` is a
        request to a function URL; None otherwise."""
        return address_of(scope, PATH_PREFIX, HOST_SUFFIX)

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        address: tuple[str, str, str],
        body: bytes | None,
    ) -> None:
        request_id = new_uuid()
        try:
            if body is None:
                body = await read_body(receive, MAX_BODY)
            response = await self.respond(scope, address, body, request_id)
        except BodyTooLarge:
            response = url_error(413, "Request Entity Too Large")
        except Exception:
            logger.exception("a function URL failed a request")
            response = url_error(502, "Internal Server Error")
        extra = [(b"x-amzn-requestid", request_id.encode())]
        if isinstance(response, StreamedResponse):
            await self._send_streamed(send, response, extra)
        else:
            await send_response(send, response, extra)

    async def _send_streamed(
        self, send: Send, response: StreamedResponse, extra: list[tuple[bytes, bytes]]
    ) -> None:
        """The head, then each chunk as the function streams it (chunked, no length)."""
        head, stream = response.head, response.stream
        headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in head.headers]
        try:
            await send(
                {"type": "http.response.start", "status": head.status, "headers": headers + extra}
            )
            if head.body:
                await send({"type": "http.response.body", "body": head.body, "more_body": True})
            while chunk := await stream.read():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except OSError:  # the client went away: the function runs on, unread
            stream.abandon()
        finally:
            try:
                await response.running
            except Exception:
                logger.exception("a streamed function URL invocation failed")
        if stream.error_type is not None:
            logger.info("a function URL's stream ended early: %s", stream.error_type)

    async def respond(
        self, scope: Scope, address: tuple[str, str, str], body: bytes, request_id: str
    ) -> HttpResponse | StreamedResponse:
        url_id, raw_path, domain = address
        url = await self.urls.by_id(url_id)
        if url is None:
            return url_error(404, "Not Found")
        config = url.config.get("Cors")
        headers = request_headers(scope)
        # (a browser's preflight carries no credentials: it is answered before the auth)
        answered = cors.preflight(config, scope["method"], headers, status=200)
        if answered is not None:
            return answered
        iam: dict[str, Any] | None = None
        if url.config.get("AuthType") == "AWS_IAM":
            iam = self._signed(scope, body)
            if iam is None:
                return url_error(403, "Forbidden")
        response = await self._invoke(scope, headers, url, address, body, request_id, iam)
        if isinstance(response, StreamedResponse):
            response.head = cors.decorate(config, headers, response.head)
            return response
        return cors.decorate(config, headers, response)

    def _signed(self, scope: Scope, body: bytes) -> dict[str, Any] | None:
        """``authorizer.iam`` of a request signed with the server's key (None: not so)."""
        key = next(iter(self.secrets)) if self.secrets else "none"
        if self.secrets is not None:
            try:
                caller = sigv4.verify_request(
                    scope, body, secrets=self.secrets, region=self.region, service="lambda"
                )
            except ServiceError:
                return None
            key = caller.access_key_id
        return {
            "accessKey": key,
            "accountId": self.account_id,
            "callerId": self.account_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{self.account_id}:root",
            "userId": self.account_id,
        }

    async def _invoke(
        self,
        scope: Scope,
        headers: list[tuple[str, str]],
        url: FunctionUrl,
        address: tuple[str, str, str],
        body: bytes,
        request_id: str,
        iam: dict[str, Any] | None,
    ) -> HttpResponse | StreamedResponse:
        url_id, raw_path, domain = address
        request = http_request(scope, headers, raw_path, raw_path, body)
        context = RequestContext(
            api_id=url_id,
            account_id=self.account_id,
            domain_name=domain,
            stage=DEFAULT,
            route_key=DEFAULT,
            request_id=request_id,
            time_ms=int(time.time() * 1000),
        )
        event = http_events.event_v2(request, context)
        if iam is not None:
            event["requestContext"]["authorizer"] = {"iam": iam}
        qualifier = None if url.qualifier == LATEST else url.qualifier
        caller = Caller(request_id, trace_header=header(scope, b"x-amzn-trace-id"))
        failed = url_error(502, "Internal Server Error")
        try:
            if url.config.get("InvokeMode") == "RESPONSE_STREAM":
                function = self.invoke.functions.get(url.function_name, qualifier)
                streamed: asyncio.Future[ResponseStream] = (
                    asyncio.get_running_loop().create_future()
                )
                running = asyncio.ensure_future(
                    self.invoke.run(
                        function, qualifier, orjson.dumps(event), caller, streamed=streamed
                    )
                )
                either: set[asyncio.Future[Any]] = {streamed, running}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if streamed.done():
                    return await self._streamed(streamed.result(), running)
                invoked = running.result()
            else:
                invoked = await self.invoke.invoke(
                    url.function_name, qualifier, orjson.dumps(event), "RequestResponse", caller
                )
        except TooManyRequestsException:
            return url_error(429, "Too Many Requests")
        except ResourceNotFoundException:  # deleted since its URL was read
            return url_error(404, "Not Found")
        except ServiceError:
            return failed
        outcome = invoked.outcome
        if outcome is None or outcome.function_error:
            return failed
        return http_events.response_v2(outcome.body, malformed=failed)

    async def _streamed(
        self, stream: ResponseStream, running: asyncio.Future[Invoked]
    ) -> HttpResponse | StreamedResponse:
        """The head of a streamed answer, once its prelude (if any) has come."""
        # (its first bytes, so that a function failing before it wrote any is a 502)
        start = await stream.read()
        if stream.content_type == PRELUDE_CONTENT_TYPE:
            while PRELUDE_DELIMITER not in start and len(start) <= MAX_PRELUDE:
                chunk = await stream.read()
                if not chunk:
                    break
                start += chunk
        head = streamed_head(stream.content_type, start)
        if head is None or (not start and stream.error_type is not None):
            stream.abandon()
            with contextlib.suppress(Exception):
                await running
            return url_error(502, "Internal Server Error")
        return StreamedResponse(head, stream, running)
