"""REST APIs served on the edge: a request to a stage's invoke URL, to its function.

A REST API is addressed as an HTTP API is (one id space, one address logic:
:func:`~gureum.gateway.http_api.address_of`): path-style
``{edge}/_aws/execute-api/{restApiId}/{stage}/{path}`` or by a ``Host`` of
``{restApiId}.execute-api.localhost``, and :class:`~gureum.gateway.http_api.HttpApis`
hands a request whose id is a REST API's to :class:`RestApis`. The path's first
segment is always the stage; the stage serves its deployment's snapshot of the
resources, never the API's resources as they are now.

The resource is the one whose path matches best (literal segments before ``{param}``
before ``{proxy+}``, :func:`~gureum.gateway.routing.match`), then its method of the
request's verb, else its ``ANY``. The integration's URI may name its function with the
stage's variables (``function:${stageVariables.fn}``). The function gets REST APIs'
Lambda proxy event (:func:`~gureum.gateway.http_events.event_rest`) and its answer is
read strictly.

API Gateway's own answers: no stage, resource or method, ``403 {"message":"Missing
Authentication Token"}``; a function error or a malformed answer, ``502
{"message":"Internal server error"}``; the integration's timeout (29 s unless it says
less), ``504 {"message":"Endpoint request timed out"}``; a throttled function, ``429
{"message":"Too Many Requests"}``. ``AWS_IAM`` methods take requests SigV4-signed for
``execute-api`` with the server's key (else 403 with the signature's error).
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from typing import Any

from starlette.types import Receive, Scope, Send

from gureum.errors import (
    MissingAuthenticationTokenException,
    ServiceError,
    TooManyRequestsException,
)
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.frontend import sigv4
from gureum.gateway import http_events
from gureum.gateway.gateway_segments import LambdaCall, Stage, StageRequest, StageTrace, StageTracer
from gureum.gateway.gateway_store import Routing
from gureum.gateway.http_api import (
    MAX_BODY,
    BodyTooLarge,
    call_integration,
    function_of,
    header,
    http_request,
    parsed_route_key,
    read_body,
    request_headers,
    send_response,
)
from gureum.gateway.http_events import HttpResponse, RequestContext, error_response
from gureum.gateway.rest_config import DEFAULT_TIMEOUT_MS, with_stage_variables
from gureum.gateway.routing import match
from gureum.ids import new_uuid

logger = logging.getLogger(__name__)

MISSING_TOKEN = "Missing Authentication Token"


def _error(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    """API Gateway's answer, with its ``x-amzn-ErrorType`` where it sends one."""
    response = error_response(status, message)
    if error_type is not None:
        response.headers.append(("x-amzn-ErrorType", error_type))
    return response


def _missing_token() -> HttpResponse:
    return _error(403, MISSING_TOKEN, "MissingAuthenticationTokenException")


def _failed() -> HttpResponse:
    return _error(502, "Internal server error")


def _extended_id() -> str:
    """An ``x-amz-apigw-id`` (API Gateway's extended request id: 12 bytes, base64)."""
    return base64.b64encode(secrets.token_bytes(12)).decode().replace("/", "_")


class RestApis:
    """The edge's part for REST APIs' invoke URLs."""

    def __init__(
        self,
        invoke: FrontEndInvoke,
        *,
        region: str,
        account_id: str,
        secrets: dict[str, str] | None,
        tracer: StageTracer | None = None,
    ) -> None:
        self.invoke = invoke
        #: Records traced stages' segments (None: none are recorded).
        self.tracer = tracer
        self.region = region
        self.account_id = account_id
        #: The server's keys (None: the server checks no signatures, AWS_IAM's neither).
        self.secrets = secrets

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        routing: Routing,
        address: tuple[str, str, str],
        body: bytes | None,
    ) -> None:
        request_id = new_uuid()
        extended_id = _extended_id()
        try:
            if body is None:
                body = await read_body(receive, MAX_BODY)
            response = await self.respond(scope, routing, address, body, request_id, extended_id)
        except BodyTooLarge:
            response = _error(413, "Request Too Long")
        except Exception:
            logger.exception("the gateway failed a REST API's request")
            response = _error(500, "Internal server error")
        ids = [
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amz-apigw-id", extended_id.encode()),
        ]
        await send_response(send, response, ids)

    async def respond(
        self,
        scope: Scope,
        routing: Routing,
        address: tuple[str, str, str],
        body: bytes,
        request_id: str,
        extended_id: str,
    ) -> HttpResponse:
        api = routing.api
        if api.config.get("disableExecuteApiEndpoint"):
            return _error(403, "Forbidden", "ForbiddenException")
        stage_name = address[1].lstrip("/").partition("/")[0]
        stage = routing.stages.get(stage_name)
        if stage is None:
            return _missing_token()
        deployment = routing.deployments.get(str(stage.config.get("deploymentId")))
        if deployment is None:
            return _missing_token()
        traced = self._begin_trace(
            scope, routing, stage_name, stage.config, request_id, extended_id
        )
        caller = Caller(
            request_id,
            trace_header=traced[0].invoke_header
            if traced is not None
            else header(scope, b"x-amzn-trace-id"),
        )
        response, call = await self._in_stage(
            scope,
            routing,
            deployment.config,
            stage.config,
            address,
            body,
            request_id,
            extended_id,
            caller,
        )
        if traced is not None and self.tracer is not None:
            trace, traced_stage, traced_request = traced
            self.tracer.record(
                trace,
                traced_stage,
                traced_request,
                status=response.status,
                content_length=len(response.body),
                call=call,
            )
            response.headers.append(("X-Amzn-Trace-Id", trace.response_header))
        return response

    def _begin_trace(
        self,
        scope: Scope,
        routing: Routing,
        stage_name: str,
        stage: dict[str, Any],
        request_id: str,
        extended_id: str,
    ) -> tuple[StageTrace, Stage, StageRequest] | None:
        """The request's trace through the stage (as API Gateway traces REST APIs: a
        caller's sampled header, or the sampling rules on a ``tracingEnabled`` stage)."""
        if self.tracer is None:
            return None
        api = routing.api
        traced_stage = Stage(
            api.api_id,
            str(api.config.get("name", "")),
            stage_name,
            bool(stage.get("tracingEnabled")),
        )
        host = header(scope, b"host")
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client") or ("127.0.0.1", 0)
        traced_request = StageRequest(
            request_id=request_id,
            method=scope["method"],
            url=f"{scope.get('scheme', 'http')}://{host or ''}{raw}"
            + (f"?{query}" if query else ""),
            path=raw,
            client_ip=str(client[0]),
            host=host,
            user_agent=header(scope, b"user-agent"),
            extended_request_id=extended_id,
        )
        trace = self.tracer.begin(traced_stage, traced_request, header(scope, b"x-amzn-trace-id"))
        return trace, traced_stage, traced_request

    async def _in_stage(
        self,
        scope: Scope,
        routing: Routing,
        deployment: dict[str, Any],
        stage: dict[str, Any],
        address: tuple[str, str, str],
        body: bytes,
        request_id: str,
        extended_id: str,
        caller: Caller,
    ) -> tuple[HttpResponse, LambdaCall | None]:
        """The answer of a request in a stage, and the function call made for it."""
        api = routing.api
        _, raw_path, domain = address
        stage_name, _, rest = raw_path.lstrip("/").partition("/")
        resources = {str(r["id"]): r for r in deployment.get("snapshot", [])}
        routes = [
            (resource_id, key)
            for resource_id, resource in resources.items()
            if (key := parsed_route_key(f"ANY {resource['path']}")) is not None
        ]
        route_path = "/" + rest
        method = scope["method"]
        chosen = match(routes, method, route_path)
        if chosen is None:
            return _missing_token(), None
        resource = resources[chosen.route_id]
        methods = resource.get("resourceMethods") or {}
        found = methods.get(method) or methods.get("ANY")
        if found is None:
            return _missing_token(), None
        identity: dict[str, Any] | None = None
        if found.get("authorizationType") == "AWS_IAM":
            signed = self._signed(scope, body)
            if isinstance(signed, HttpResponse):
                return signed, None
            identity = signed
        integration = found.get("methodIntegration")
        if integration is None:  # (a deployment takes no method without one)
            return _error(500, "Internal server error"), None
        headers = request_headers(scope)
        request = http_request(scope, headers, raw_path, route_path, body)
        context = RequestContext(
            api_id=api.api_id,
            account_id=self.account_id,
            domain_name=domain,
            stage=stage_name,
            route_key=str(resource["path"]),
            request_id=request_id,
            time_ms=int(time.time() * 1000),
            path_parameters=chosen.path_parameters,
            stage_variables=stage.get("variables") or {},
        )
        event = http_events.event_rest(request, context, str(resource["path"]), resource["id"])
        event["requestContext"]["extendedRequestId"] = extended_id
        if identity is not None:
            event["requestContext"]["identity"].update(identity)
        uri = with_stage_variables(str(integration.get("uri", "")), context.stage_variables)
        if uri is None:  # (API Gateway: "Invalid stage variable value")
            return _error(500, "Internal server error"), None
        return await self._invoke(uri, integration, event, caller)

    def _signed(self, scope: Scope, body: bytes) -> dict[str, Any] | HttpResponse:
        """The caller's ``identity`` of a request signed for ``execute-api`` with the
        server's key, or API Gateway's 403 for one that is not."""
        key = next(iter(self.secrets)) if self.secrets else "none"
        if self.secrets is not None:
            try:
                caller = sigv4.verify_request(
                    scope, body, secrets=self.secrets, region=self.region, service="execute-api"
                )
            except MissingAuthenticationTokenException:
                return _missing_token()
            except ServiceError as error:
                return _error(403, error.message, error.error_type)
            key = caller.access_key_id
        return {
            "accessKey": key,
            "accountId": self.account_id,
            "caller": self.account_id,
            "user": self.account_id,
            "userArn": f"arn:aws:iam::{self.account_id}:root",
        }

    async def _invoke(
        self, uri: str, integration: dict[str, Any], event: dict[str, Any], caller: Caller
    ) -> tuple[HttpResponse, LambdaCall | None]:
        """The function's answer, and the call as the stage's ``Lambda`` subsegment
        records it."""
        config = {"IntegrationUri": uri, "TimeoutInMillis": integration.get("timeoutInMillis")}
        started = time.time()
        function = function_of(uri)
        invoked = None
        status = 200
        try:
            invoked = await call_integration(self.invoke, config, event, caller, DEFAULT_TIMEOUT_MS)
        except TimeoutError:
            status = 504
            response = _error(504, "Endpoint request timed out")
        except TooManyRequestsException:
            status = 429
            response = _error(429, "Too Many Requests")
        except ServiceError:  # the function is not there (any more), ...
            status = 500
            response = _error(500, "Internal server error")
        else:
            outcome = invoked.outcome
            if outcome is None or outcome.function_error:
                response = _failed()
            else:
                response = http_events.response_v1(
                    outcome.body, _failed(), members=http_events.REST_ANSWER_MEMBERS
                )
        arn = invoked.function.arn if invoked is not None else function
        name = invoked.function.name if invoked is not None else function.rsplit(":", 1)[-1]
        call = LambdaCall(name, arn, started, time.time(), status)
        return response, call
