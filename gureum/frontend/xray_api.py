"""The X-Ray API (rest-json, every operation a ``POST``) as boto3's ``xray`` client speaks
it: PutTraceSegments, BatchGetTraces, GetTraceSummaries, GetServiceGraph,
GetTraceGraph, GetSamplingRules, GetSamplingTargets, Create/Update/DeleteSamplingRule.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum import untrusted_json
from gureum.errors import InvalidRequestException
from gureum.frontend.responses import aws_json, json_body
from gureum.tracing import summaries
from gureum.tracing.filter_expression import FilterSyntaxError, parse
from gureum.tracing.segments import TRACE_ID, InvalidSegment, parse_document
from gureum.tracing.service_graph import service_graph

if TYPE_CHECKING:
    from gureum.platform import Platform

#: BatchGetTraces and GetTraceGraph take at most this many ids a call (as X-Ray does).
MAX_TRACE_IDS = 5


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequestException("NextToken must be a string")
    return value


async def put_trace_segments(request: Request) -> Response:
    platform = _platform(request)
    params = await json_body(request)
    documents = params.get("TraceSegmentDocuments")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise InvalidRequestException("TraceSegmentDocuments must be a list of JSON strings")
    unprocessed = []
    for raw in documents:
        try:
            platform.traces.add(parse_document(raw))
        except InvalidSegment as exc:
            try:
                segment_id = str(untrusted_json.loads(raw).get("id", ""))
            except (ValueError, AttributeError):
                segment_id = ""
            unprocessed.append(
                {"Id": segment_id, "ErrorCode": "InvalidSegment", "Message": str(exc)}
            )
    return aws_json({"UnprocessedTraceSegments": unprocessed})


def _trace_ids(params: dict[str, Any]) -> list[str]:
    ids = params.get("TraceIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequestException("TraceIds must be a list of trace ids")
    if len(ids) > MAX_TRACE_IDS:
        raise InvalidRequestException(f"At most {MAX_TRACE_IDS} trace ids may be asked for at once")
    return ids


async def batch_get_traces(request: Request) -> Response:
    platform = _platform(request)
    ids = _trace_ids(await json_body(request))
    valid = [i for i in ids if TRACE_ID.fullmatch(i)]
    found = await platform.traces.traces(valid)
    known = {t["Id"] for t in found}
    return aws_json({"Traces": found, "UnprocessedTraceIds": [i for i in ids if i not in known]})


async def get_trace_summaries(request: Request) -> Response:
    platform = _platform(request)
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
        platform.traces, start, end, expression, after
    )
    account = platform.settings.account_id
    body: dict[str, Any] = {
        "TraceSummaries": [summaries.api_summary(s, account) for s in found],
        "ApproximateTime": end,
        "TracesProcessedCount": scanned,
    }
    if next_after is not None:
        body["NextToken"] = encode_token(*next_after)
    return aws_json(body)


def _time_range(params: dict[str, Any]) -> tuple[float, float]:
    start, end = params.get("StartTime"), params.get("EndTime")
    for name, value in (("StartTime", start), ("EndTime", end)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidRequestException(f"{name} is required (epoch seconds)")
    assert isinstance(start, int | float) and isinstance(end, int | float)
    if end < start:
        raise InvalidRequestException("EndTime must not be before StartTime")
    return float(start), float(end)


async def get_service_graph(request: Request) -> Response:
    platform = _platform(request)
    params = await json_body(request)
    start, end = _time_range(params)
    if params.get("GroupName") or params.get("GroupARN"):
        raise InvalidRequestException("Groups are not supported by gureum yet")
    summaries = await _all_summaries(platform, start, end)
    return aws_json(
        {
            "StartTime": start,
            "EndTime": end,
            "Services": service_graph(summaries, platform.settings.account_id),
            "ContainsOldGroupVersions": False,
        }
    )


async def get_trace_graph(request: Request) -> Response:
    platform = _platform(request)
    ids = _trace_ids(await json_body(request))
    summaries = await platform.traces.summaries(
        0.0, time.time() + 86400, trace_ids=ids, limit=len(ids) or 1
    )
    return aws_json({"Services": service_graph(summaries, platform.settings.account_id)})


async def _all_summaries(platform: Platform, start: float, end: float) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    after = None
    while True:
        page = await platform.traces.summaries(start, end, after=after, limit=5000)
        summaries.extend(page)
        if len(page) < 5000:
            return summaries
        after = (float(page[-1]["start_time"] or 0.0), str(page[-1]["id"]))


# sampling
async def get_sampling_rules(request: Request) -> Response:
    await json_body(request)
    return aws_json({"SamplingRuleRecords": _platform(request).sampling_rules.records()})


async def get_sampling_targets(request: Request) -> Response:
    params = await json_body(request)
    statistics = params.get("SamplingStatisticsDocuments")
    if not isinstance(statistics, list):
        raise InvalidRequestException("SamplingStatisticsDocuments is required")
    return aws_json(_platform(request).sampling_rules.targets(statistics))


async def create_sampling_rule(request: Request) -> Response:
    params = await json_body(request)
    rule = params.get("SamplingRule")
    if not isinstance(rule, dict):
        raise InvalidRequestException("SamplingRule is required")
    record = await _platform(request).sampling_rules.create(rule)
    return aws_json({"SamplingRuleRecord": record})


async def update_sampling_rule(request: Request) -> Response:
    params = await json_body(request)
    update = params.get("SamplingRuleUpdate")
    if not isinstance(update, dict):
        raise InvalidRequestException("SamplingRuleUpdate is required")
    record = await _platform(request).sampling_rules.update(update)
    return aws_json({"SamplingRuleRecord": record})


async def delete_sampling_rule(request: Request) -> Response:
    params = await json_body(request)
    record = await _platform(request).sampling_rules.delete(
        params.get("RuleName"), params.get("RuleARN")
    )
    return aws_json({"SamplingRuleRecord": record})


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


def routes() -> list[Route]:
    return [
        Route("/TraceSegments", put_trace_segments, methods=["POST"]),
        Route("/Traces", batch_get_traces, methods=["POST"]),
        Route("/TraceSummaries", get_trace_summaries, methods=["POST"]),
        Route("/ServiceGraph", get_service_graph, methods=["POST"]),
        Route("/TraceGraph", get_trace_graph, methods=["POST"]),
        Route("/GetSamplingRules", get_sampling_rules, methods=["POST"]),
        Route("/SamplingTargets", get_sampling_targets, methods=["POST"]),
        Route("/CreateSamplingRule", create_sampling_rule, methods=["POST"]),
        Route("/UpdateSamplingRule", update_sampling_rule, methods=["POST"]),
        Route("/DeleteSamplingRule", delete_sampling_rule, methods=["POST"]),
    ]
