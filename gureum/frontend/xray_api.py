"""The X-Ray API (rest-json, every operation a ``POST``) as boto3's ``xray`` client speaks
it: PutTraceSegments, BatchGetTraces, GetTraceSummaries, GetServiceGraph,
GetTraceGraph, GetSamplingRules, GetSamplingTargets, Create/Update/DeleteSamplingRule.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gureum import untrusted_json
from gureum.errors import InvalidRequestException
from gureum.frontend.responses import EXCEPTION_HANDLERS, aws_json, json_body
from gureum.tracing import summaries
from gureum.tracing.filter_expression import FilterSyntaxError
from gureum.tracing.filter_parser import parse
from gureum.tracing.sampling import SamplingRules
from gureum.tracing.segments import TRACE_ID, InvalidSegment, parse_document
from gureum.tracing.service_graph import service_graph
from gureum.tracing.trace_store import TraceStore

#: BatchGetTraces and GetTraceGraph take at most this many ids a call (as X-Ray does).
MAX_TRACE_IDS = 5


def _token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequestException("NextToken must be a string")
    return value


def _trace_ids(params: dict[str, Any]) -> list[str]:
    ids = params.get("TraceIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequestException("TraceIds must be a list of trace ids")
    if len(ids) > MAX_TRACE_IDS:
        raise InvalidRequestException(f"At most {MAX_TRACE_IDS} trace ids may be asked for at once")
    return ids


def _time_range(params: dict[str, Any]) -> tuple[float, float]:
    start, end = params.get("StartTime"), params.get("EndTime")
    for name, value in (("StartTime", start), ("EndTime", end)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidRequestException(f"{name} is required (epoch seconds)")
    assert isinstance(start, int | float) and isinstance(end, int | float)
    if end < start:
        raise InvalidRequestException("EndTime must not be before StartTime")
    return float(start), float(end)


def encode_token(start_time: float, trace_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([start_time, trace_id]).encode()).decode()


def decode_token(token: str) -> tuple[float, str]:
    try:
        start_time, trace_id = untrusted_json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(start_time), str(trace_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRequestException("NextToken is not one this API gave") from None


#: The daemon's TCP port serves these paths, unsigned, as the X-Ray daemon proxies them.
DAEMON_PATHS = ("/GetSamplingRules", "/SamplingTargets", "/TraceSegments")


class XRayAPI:
    """X-Ray's operations over the trace store and the sampling rules."""

    def __init__(
        self, traces: TraceStore, sampling_rules: SamplingRules, *, account_id: str
    ) -> None:
        self.traces = traces
        self.sampling_rules = sampling_rules
        self.account_id = account_id

    async def put_trace_segments(self, request: Request) -> Response:
        params = await json_body(request)
        documents = params.get("TraceSegmentDocuments")
        if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
            raise InvalidRequestException("TraceSegmentDocuments must be a list of JSON strings")
        unprocessed = []
        for raw in documents:
            try:
                self.traces.add(parse_document(raw))
            except InvalidSegment as exc:
                try:
                    segment_id = str(untrusted_json.loads(raw).get("id", ""))
                except (ValueError, AttributeError):
                    segment_id = ""
                unprocessed.append(
                    {"Id": segment_id, "ErrorCode": "InvalidSegment", "Message": str(exc)}
                )
        return aws_json({"UnprocessedTraceSegments": unprocessed})

    async def batch_get_traces(self, request: Request) -> Response:
        ids = _trace_ids(await json_body(request))
        valid = [i for i in ids if TRACE_ID.fullmatch(i)]
        found = await self.traces.traces(valid)
        known = {t["Id"] for t in found}
        return aws_json(
            {"Traces": found, "UnprocessedTraceIds": [i for i in ids if i not in known]}
        )

    async def get_trace_summaries(self, request: Request) -> Response:
        params = await json_body(request)
        start, end = _time_range(params)
        if params.get("TimeRangeType", "Event") not in ("TraceId", "Event", "Service"):
            raise InvalidRequestException("TimeRangeType must be TraceId, Event or Service")
        text = params.get("FilterExpression")
        expression = None
        if text is not None:
            if not isinstance(text, str):
                raise InvalidRequestException("FilterExpression must be a string")
            if text.strip():
                try:
                    expression = parse(text)
                except FilterSyntaxError as exc:
                    raise InvalidRequestException(str(exc)) from None
        token = _token(params.get("NextToken"))
        after = decode_token(token) if token else None
        found, scanned, next_after = await summaries.find(
            self.traces, start, end, expression, after
        )
        account = self.account_id
        body: dict[str, Any] = {
            "TraceSummaries": [summaries.api_summary(s, account) for s in found],
            "ApproximateTime": end,
            "TracesProcessedCount": scanned,
        }
        if next_after is not None:
            body["NextToken"] = encode_token(*next_after)
        return aws_json(body)

    async def get_service_graph(self, request: Request) -> Response:
        params = await json_body(request)
        start, end = _time_range(params)
        if params.get("GroupName") or params.get("GroupARN"):
            raise InvalidRequestException("Groups are not supported by gureum yet")
        found = await summaries.every(self.traces, start, end)
        return aws_json(
            {
                "StartTime": start,
                "EndTime": end,
                "Services": service_graph(found, self.account_id),
                "ContainsOldGroupVersions": False,
            }
        )

    async def get_trace_graph(self, request: Request) -> Response:
        ids = _trace_ids(await json_body(request))
        summaries = await self.traces.summaries(
            0.0, time.time() + 86400, trace_ids=ids, limit=len(ids) or 1
        )
        return aws_json({"Services": service_graph(summaries, self.account_id)})

    async def get_sampling_rules(self, request: Request) -> Response:
        await json_body(request)
        return aws_json({"SamplingRuleRecords": self.sampling_rules.records()})

    async def get_sampling_targets(self, request: Request) -> Response:
        params = await json_body(request)
        statistics = params.get("SamplingStatisticsDocuments")
        if not isinstance(statistics, list):
            raise InvalidRequestException("SamplingStatisticsDocuments is required")
        return aws_json(self.sampling_rules.targets(statistics))

    async def create_sampling_rule(self, request: Request) -> Response:
        params = await json_body(request)
        rule = params.get("SamplingRule")
        if not isinstance(rule, dict):
            raise InvalidRequestException("SamplingRule is required")
        record = await self.sampling_rules.create(rule)
        return aws_json({"SamplingRuleRecord": record})

    async def update_sampling_rule(self, request: Request) -> Response:
        params = await json_body(request)
        update = params.get("SamplingRuleUpdate")
        if not isinstance(update, dict):
            raise InvalidRequestException("SamplingRuleUpdate is required")
        record = await self.sampling_rules.update(update)
        return aws_json({"SamplingRuleRecord": record})

    async def delete_sampling_rule(self, request: Request) -> Response:
        params = await json_body(request)
        record = await self.sampling_rules.delete(params.get("RuleName"), params.get("RuleARN"))
        return aws_json({"SamplingRuleRecord": record})

    def routes(self) -> list[Route]:
        return [
            Route("/TraceSegments", self.put_trace_segments, methods=["POST"]),
            Route("/Traces", self.batch_get_traces, methods=["POST"]),
            Route("/TraceSummaries", self.get_trace_summaries, methods=["POST"]),
            Route("/ServiceGraph", self.get_service_graph, methods=["POST"]),
            Route("/TraceGraph", self.get_trace_graph, methods=["POST"]),
            Route("/GetSamplingRules", self.get_sampling_rules, methods=["POST"]),
            Route("/SamplingTargets", self.get_sampling_targets, methods=["POST"]),
            Route("/CreateSamplingRule", self.create_sampling_rule, methods=["POST"]),
            Route("/UpdateSamplingRule", self.update_sampling_rule, methods=["POST"]),
            Route("/DeleteSamplingRule", self.delete_sampling_rule, methods=["POST"]),
        ]

    def daemon_app(self) -> DaemonEdge:
        """What the X-Ray daemon's TCP port serves."""
        routes = [route for route in self.routes() if route.path in DAEMON_PATHS]
        return DaemonEdge(Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS))


class DaemonEdge:
    """What the X-Ray daemon's TCP port serves: the SDKs' sampling calls and segment
    uploads, unsigned (as the AWS daemon takes them and signs them itself), and nothing
    else of the API."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in DAEMON_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            response = aws_json(
                {"Type": "User", "message": "The X-Ray daemon serves sampling calls only"},
                404,
                headers={"x-amzn-ErrorType": "UnknownOperationException"},
            )
            await response(scope, receive, send)
