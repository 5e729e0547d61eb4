"""API Gateway's own place in a trace: the ``AWS::ApiGateway::Stage`` segment.

What AWS does, by kind of API:

- **REST API stages** trace. A stage with ``tracingEnabled`` (active) samples requests
  that come without a decision by the sampling rules (service name
  ``{api-name}/{stage}``, type ``AWS::ApiGateway::Stage``, the request's host, method
  and path, the stage's ARN); any stage (passive) honours an incoming
  ``X-Amzn-Trace-Id``, continuing its trace with its ``Sampled``. A sampled request
  gets a segment named ``{api-name}/{stage}`` with the request and response, the API's
  identity (``aws.api_gateway``, annotations ``aws:api_id`` and ``aws:api_stage``) and a
  ``Lambda`` subsegment for the integration's Invoke, whose id is the ``Parent`` the
  function is invoked with, so the service map reads client -> API stage -> Lambda ->
  function. The answer carries ``X-Amzn-Trace-Id: Root=...;Sampled=0|1``.
- **HTTP and WebSocket APIs** (apigatewayv2) have no tracing setting and record no
  segment ("X-Ray only supports tracing for REST APIs through API Gateway"); they hand
  the caller's trace header on, nothing more.

:class:`StageTrace` is the sans-I/O part (decision, ids, headers, the document);
:class:`StageTracer` asks the sampling rules and puts the segment in the trace store.
A gateway calls ``begin`` on arrival, invokes with ``invoke_header``, and ``record``\\ s
the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gureum.tracing.sampling import Sampler
from gureum.tracing.segments import (
    TraceHeader,
    from_document,
    new_segment_id,
    new_trace_id,
    status_flags,
)
from gureum.tracing.trace_store import TraceStore

ORIGIN = "AWS::ApiGateway::Stage"


@dataclass(frozen=True, slots=True)
class Stage:
    """The stage a request reached, as its segment names it."""

    api_id: str
    api_name: str
    stage: str
    #: The stage's ``tracingEnabled`` (active tracing); without it, only a caller's
    #: ``Sampled=1`` traces a request (passive).
    tracing_enabled: bool

    @property
    def service_name(self) -> str:
        return f"{self.api_name}/{self.stage}"

    def arn(self, region: str) -> str:
        return f"arn:aws:apigateway:{region}::/restapis/{self.api_id}/stages/{self.stage}"


@dataclass(frozen=True, slots=True)
class StageRequest:
    """What the segment (and the sampling rules) read of the client's request."""

    request_id: str
    method: str
    #: The whole URL the client asked for, query included.
    url: str
    #: The URL's path, which sampling rules' ``URLPath`` match.
    path: str
    client_ip: str
    host: str | None = None
    user_agent: str | None = None
    extended_request_id: str | None = None
    #: The client's address was read from ``X-Forwarded-For`` (API Gateway's front end
    #: always does; gureum's edge is the first hop, so it is the connection's).
    x_forwarded_for: bool = False


@dataclass(frozen=True, slots=True)
class LambdaCall:
    """The integration's Invoke of a function, as the ``Lambda`` subsegment records it."""

    function_name: str
    function_arn: str
    started: float
    ended: float
    #: The Invoke's HTTP status: 200 (a function error too), 429 throttled, 5xx failed.
    status: int
    content_length: int | None = None


@dataclass
class StageTrace:
    """The trace context of one request through a stage, from arrival to its segment."""

    trace_id: str
    #: The caller's subsegment (``Parent`` of the incoming header), if any.
    caller: str | None
    #: "1" traced, "0" not, None undecided (a passive stage with no caller's decision:
    #: the function's own tracing mode decides).
    decision: str | None
    #: The sampling rule that picked the request, when the stage's rules decided.
    rule: str | None = None
    segment_id: str = field(default_factory=new_segment_id)
    #: The ``Lambda`` subsegment's id: the Parent of the Lambda service segment.
    lambda_id: str = field(default_factory=new_segment_id)
    started: float = field(default_factory=time.time)

    @classmethod
    def begin(
        cls, header: str | None, *, active: bool, sample: Callable[[], str | None]
    ) -> StageTrace:
        """Continue the incoming ``header``'s trace or start one. ``sample()``: the
        sampling rules' decision (the rule's name, or None), asked only for an active
        stage and a request with no decision."""
        incoming = TraceHeader.parse(header)
        trace_id = incoming.root or new_trace_id()
        decision = incoming.sampled if incoming.sampled in ("0", "1") else None
        rule = None
        if decision is None and active:
            rule = sample()
            decision = "1" if rule is not None else "0"
        return cls(trace_id, incoming.parent, decision, rule)

    @property
    def sampled(self) -> bool:
        return self.decision == "1"

    @property
    def invoke_header(self) -> str:
        """The ``X-Amzn-Trace-Id`` the integration invokes the function with: under the
        ``Lambda`` subsegment when traced; the trace and the caller's decision (or
        none) otherwise."""
        if self.sampled:
            return TraceHeader(self.trace_id, self.lambda_id, "1").format()
        return TraceHeader(self.trace_id, self.caller, self.decision).format()

    @property
    def response_header(self) -> str:
        """The ``X-Amzn-Trace-Id`` API Gateway answers with (``Root=...;Sampled=0|1``)."""
        return TraceHeader(self.trace_id, None, "1" if self.sampled else "0").format()

    def segment(
        self,
        stage: Stage,
        request: StageRequest,
        *,
        account_id: str,
        region: str,
        status: int,
        content_length: int,
        call: LambdaCall | None = None,
        ended: float | None = None,
    ) -> dict[str, Any]:
        """The stage's segment document, as API Gateway writes it."""
        http_request: dict[str, Any] = {
            "url": request.url,
            "method": request.method,
            "client_ip": request.client_ip,
        }
        if request.user_agent:
            http_request["user_agent"] = request.user_agent
        if request.x_forwarded_for:
            http_request["x_forwarded_for"] = True
        metadata = {"request_id": request.request_id}
        if request.extended_request_id:
            metadata["extended_request_id"] = request.extended_request_id
        aws: dict[str, Any] = {
            "api_gateway": {
                "account_id": account_id,
                "rest_api_id": stage.api_id,
                "stage": stage.stage,
                "request_id": request.request_id,
            }
        }
        if self.rule is not None:
            aws["xray"] = {"sampling_rule_name": self.rule}
        end = ended if ended is not None else time.time()
        document: dict[str, Any] = {
            "id": self.segment_id,
            "name": stage.service_name,
            "trace_id": self.trace_id,
            "start_time": self.started,
            "end_time": max(self.started, end),
            "origin": ORIGIN,
            "resource_arn": stage.arn(region),
            "http": {
                "request": http_request,
                "response": {"status": status, "content_length": content_length},
            },
            "aws": aws,
            # AWS's own keys: a colon no user annotation may have.
            "annotations": {"aws:api_id": stage.api_id, "aws:api_stage": stage.stage},
            "metadata": {"default": metadata},
            **status_flags(status),
        }
        if self.caller:
            document["parent_id"] = self.caller
        if call is not None:
            document["subsegments"] = [self._lambda(call, region)]
        return document

    def _lambda(self, call: LambdaCall, region: str) -> dict[str, Any]:
        response: dict[str, Any] = {"status": call.status}
        if call.content_length is not None:
            response["content_length"] = call.content_length
        return {
            "id": self.lambda_id,
            "name": "Lambda",
            "namespace": "aws",
            "start_time": call.started,
            "end_time": max(call.started, call.ended),
            "http": {
                # Lambda's Invoke is a POST to this path (AWS's one example shows the
                # client's method here; the URL is the Invoke's).
                "request": {
                    "url": f"https://lambda.{region}.amazonaws.com/2015-03-31/functions/"
                    f"{call.function_arn}/invocations",
                    "method": "POST",
                },
                "response": response,
            },
            "aws": {
                "function_name": call.function_name,
                "region": region,
                "operation": "Invoke",
                "resource_names": [call.function_name],
            },
            **status_flags(call.status),
        }


class StageTracer:
    """Traces requests through stages: the sampling rules' decision on arrival, the
    stage's segment into the trace store when the answer is known."""

    def __init__(
        self, sampler: Sampler, traces: TraceStore, *, region: str, account_id: str
    ) -> None:
        self.sampler = sampler
        self.traces = traces
        self.region = region
        self.account_id = account_id

    def begin(self, stage: Stage, request: StageRequest, header: str | None) -> StageTrace:
        """The request's trace: the incoming ``header`` (its ``X-Amzn-Trace-Id``)
        continued, or a new one sampled by the rules when the stage traces."""
        return StageTrace.begin(
            header,
            active=stage.tracing_enabled,
            sample=lambda: self.sampler.sampled_by(
                stage.service_name,
                ORIGIN,
                host=request.host,
                method=request.method,
                url_path=request.path,
                resource_arn=stage.arn(self.region),
            ),
        )

    def record(
        self,
        trace: StageTrace,
        stage: Stage,
        request: StageRequest,
        *,
        status: int,
        content_length: int,
        call: LambdaCall | None = None,
    ) -> None:
        """Store the stage's segment of a sampled request (nothing otherwise)."""
        if not trace.sampled:
            return
        document = trace.segment(
            stage,
            request,
            account_id=self.account_id,
            region=self.region,
            status=status,
            content_length=content_length,
            call=call,
        )
        self.traces.add(from_document(document))
