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

Lambda's own answers: no such URL, ``404 {"Message":"Not Found"}``; a function error or
an unusable answer, ``502 {"Message":"Internal Server Error"}``; a throttled function,
``429 {"Message":"Too Many Requests"}``; a body over 6 MB, 413.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from gureum.errors import ResourceNotFoundException, ServiceError, TooManyRequestsException
from gureum.front_end_invoke import Caller, FrontEndInvoke
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

logger = logging.getLogger(__name__)

HOST_SUFFIX = ".lambda-url.localhost"
#: Lambda's synchronous payload limit, a function URL's request body limit too.
MAX_BODY = 6 * 1024 * 1024
DEFAULT = "$default"


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
        await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])

    async def respond(
        self, scope: Scope, address: tuple[str, str, str], body: bytes, request_id: str
    ) -> HttpResponse:
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
        return cors.decorate(config, headers, response)

    def _signed(self, scope: Scope, body: bytes) -> dict[str, Any] | None:
        """``authorizer.iam`` of a request signed with the server's key (None: not so)."""
        key = next(iter(self.secrets)) if self.secrets else "none"
        if self.secrets is not None:
            try:
                caller = sigv4.verify(
                    method=scope["method"],
                    raw_path=scope.get("raw_path") or scope["path"].encode(),
                    query=scope.get("query_string", b""),
                    headers=scope["headers"],
                    body=body,
                    secrets=self.secrets,
                    region=self.region,
                    service="lambda",
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
    ) -> HttpResponse:
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
