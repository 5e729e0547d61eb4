"""API Gateway's segment for traced stages (gureum/gateway/gateway_segments.py): the
decision and headers as pure functions, then end to end on a real server, driven as a
REST API's stage drives it (begin, invoke with its header, record), with the trace read
back through boto3's ``xray`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from gureum.front_end_invoke import Caller
from gureum.functions.config import function_arn
from gureum.gateway.gateway_segments import (
    ORIGIN,
    LambdaCall,
    Stage,
    StageRequest,
    StageTrace,
    StageTracer,
)
from gureum.ids import new_uuid
from gureum.tracing.segments import TraceHeader
from tests.conftest import RunningServer, client, unique_name

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
STAGE = Stage(api_id="a1b2c3d4e5", api_name="testxray", stage="dev", tracing_enabled=True)
REQUEST = StageRequest(
    request_id="a1b2c3d4-a1b2-a1b2-a1b2-a1b2c3d4e5f6",
    method="GET",
    url="http://a1b2c3d4e5.execute-api.localhost/dev/items?x=1",
    path="/dev/items",
    client_ip="192.0.2.1",
    host="a1b2c3d4e5.execute-api.localhost",
    user_agent="curl/8",
)


def never() -> str | None:
    raise AssertionError("the sampling rules were asked")


def test_a_callers_decision_is_honoured_and_its_trace_continued() -> None:
    traced = StageTrace.begin(
        f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1", active=False, sample=never
    )
    assert (traced.trace_id, traced.caller, traced.sampled) == (ROOT, "53995c3f42cd8ad8", True)
    # The function is invoked under the gateway's Lambda subsegment.
    assert traced.invoke_header == f"Root={ROOT};Parent={traced.lambda_id};Sampled=1"
    assert traced.response_header == f"Root={ROOT};Sampled=1"
    assert traced.lambda_id != traced.segment_id

    untraced = StageTrace.begin(f"Root={ROOT};Sampled=0;Lineage=a:1", active=True, sample=never)
    assert not untraced.sampled
    assert untraced.invoke_header == f"Root={ROOT};Sampled=0"
    assert untraced.response_header == f"Root={ROOT};Sampled=0"


def test_an_active_stage_samples_by_the_rules_a_passive_one_leaves_it_open() -> None:
    picked = StageTrace.begin(None, active=True, sample=lambda: "Default")
    assert picked.sampled and picked.rule == "Default"
    assert TraceHeader.parse(picked.invoke_header).root == picked.trace_id
    assert picked.trace_id.startswith("1-")
    skipped = StageTrace.begin(f"Root={ROOT};Sampled=?", active=True, sample=lambda: None)
    assert skipped.trace_id == ROOT and not skipped.sampled
    assert skipped.invoke_header == f"Root={ROOT};Sampled=0"
    # Passive, no decision: no segment, and the function's own tracing mode decides.
    passive = StageTrace.begin(f"Root={ROOT};Parent=53995c3f42cd8ad8", active=False, sample=never)
    assert passive.decision is None and not passive.sampled
    assert passive.invoke_header == f"Root={ROOT};Parent=53995c3f42cd8ad8"
    assert passive.response_header == f"Root={ROOT};Sampled=0"


def test_the_segment_is_api_gateways() -> None:
    trace = StageTrace.begin(None, active=True, sample=lambda: "Default")
    call = LambdaCall(
        "xray123",
        "arn:aws:lambda:us-east-1:123412341234:function:xray123",
        trace.started + 0.004,
        trace.started + 0.3,
        200,
        62,
    )
    document = trace.segment(
        STAGE,
        REQUEST,
        account_id="123412341234",
        region="us-east-1",
        status=200,
        content_length=62,
        call=call,
        ended=trace.started + 0.31,
    )
    assert document["name"] == "testxray/dev" and document["origin"] == ORIGIN
    assert document["id"] == trace.segment_id and document["trace_id"] == trace.trace_id
    assert "parent_id" not in document and "fault" not in document
    assert (
        document["resource_arn"] == "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/dev"
    )
    assert document["http"] == {
        "request": {
            "url": REQUEST.url,
            "method": "GET",
            "client_ip": "192.0.2.1",
            "user_agent": "curl/8",
        },
        "response": {"status": 200, "content_length": 62},
    }
    assert document["aws"] == {
        "api_gateway": {
            "account_id": "123412341234",
            "rest_api_id": "a1b2c3d4e5",
            "stage": "dev",
            "request_id": REQUEST.request_id,
        },
        "xray": {"sampling_rule_name": "Default"},
    }
    assert document["annotations"] == {"aws:api_id": "a1b2c3d4e5", "aws:api_stage": "dev"}
    assert document["metadata"] == {"default": {"request_id": REQUEST.request_id}}
    (subsegment,) = document["subsegments"]
    assert subsegment["id"] == trace.lambda_id
    assert (subsegment["name"], subsegment["namespace"]) == ("Lambda", "aws")
    assert subsegment["aws"] == {
        "function_name": "xray123",
        "region": "us-east-1",
        "operation": "Invoke",
        "resource_names": ["xray123"],
    }
    assert subsegment["http"]["request"]["url"].endswith(
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:123412341234:function:xray123/invocations"
    )
    assert subsegment["http"]["response"] == {"status": 200, "content_length": 62}


@pytest.mark.parametrize(
    ("status", "call_status", "flags", "call_flags"),
    [
        (502, 200, {"fault"}, set()),  # the function failed; its Invoke did not
        (429, 429, {"error", "throttle"}, {"error", "throttle"}),
        (403, None, {"error"}, None),  # answered by the gateway itself: no Lambda call
    ],
)
def test_the_answer_marks_the_segment(
    status: int, call_status: int | None, flags: set[str], call_flags: set[str] | None
) -> None:
    trace = StageTrace.begin(
        f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1", active=False, sample=never
    )
    call = None
    if call_status is not None:
        call = LambdaCall("f", "arn:aws:lambda:us-east-1:1:function:f", 1.0, 1.1, call_status)
    document = trace.segment(
        STAGE,
        REQUEST,
        account_id="1",
        region="us-east-1",
        status=status,
        content_length=0,
        call=call,
    )
    marks = {"error", "fault", "throttle"}
    assert {k for k in marks if document.get(k)} == flags
    assert document["parent_id"] == "53995c3f42cd8ad8"
    assert "xray" not in document["aws"]  # the caller decided, not a rule
    if call_flags is None:
        assert "subsegments" not in document
    else:
        (subsegment,) = document["subsegments"]
        assert {k for k in marks if subsegment.get(k)} == call_flags


# End to end: a stage on a real server, as the REST API's gateway would run it.

ECHO = "import os\ndef handler(event, context):\n    return os.environ['_X_AMZN_TRACE_ID']\n"


def through_stage(
    server: RunningServer, stage: Stage, function: str, header: str | None
) -> tuple[int, str, StageTrace, str]:
    """One request through ``stage`` to ``function``: (status, the answer's
    X-Amzn-Trace-Id, the stage's trace, the trace header the function saw)."""
    platform = server.platform
    invoke = platform.invoke
    tracer = StageTracer(
        platform.sampler, platform.traces, region=invoke.region, account_id=invoke.account_id
    )
    request = StageRequest(
        request_id=new_uuid(),
        method="POST",
        url=f"{server.endpoint}/{stage.stage}/orders",
        path=f"/{stage.stage}/orders",
        client_ip="127.0.0.1",
        host="127.0.0.1",
        user_agent="test-client",
    )

    async def serve() -> tuple[int, str, StageTrace, str]:
        trace = tracer.begin(stage, request, header)
        started = time.time()
        invoked = await invoke.invoke(
            function,
            None,
            b"{}",
            "RequestResponse",
            Caller(request.request_id, trace_header=trace.invoke_header),
        )
        outcome = invoked.outcome
        assert outcome is not None
        call = LambdaCall(
            function,
            function_arn(invoke.region, invoke.account_id, function, None),
            started,
            time.time(),
            200,
            len(outcome.body),
        )
        status = 502 if outcome.function_error else 200
        tracer.record(trace, stage, request, status=status, content_length=18, call=call)
        return status, trace.response_header, trace, json.loads(outcome.body)

    result: tuple[int, str, StageTrace, str] = server.call(serve)
    return result


def wait_for(probe: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(0.1)


def by_origin(xray: Any, trace_id: str, count: int) -> dict[str, dict[str, Any]]:
    def probe() -> dict[str, dict[str, Any]] | None:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        if not traces or len(traces[0]["Segments"]) < count:
            return None
        return {
            document["origin"]: document
            for document in (json.loads(s["Document"]) for s in traces[0]["Segments"])
        }

    found: dict[str, dict[str, Any]] = wait_for(probe)
    return found


def test_a_traced_stage_puts_the_api_between_client_and_function(
    gureum_server: RunningServer, deploy: Callable[..., str]
) -> None:
    xray = client("xray", gureum_server.endpoint)
    function = deploy(ECHO)
    api = unique_name("orders")
    stage = Stage(api_id=new_uuid()[:10], api_name=api, stage="prod", tracing_enabled=True)
    # A rule for this stage alone, so that the test does not race others for Default's
    # one request a second.
    rule = unique_name("apigw")[:32]
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": rule,
            "Priority": 1,
            "FixedRate": 1.0,
            "ReservoirSize": 0,
            "ServiceName": f"{api}/prod",
            "ServiceType": ORIGIN,
            "Host": "*",
            "HTTPMethod": "POST",
            "URLPath": "/prod/*",
            "ResourceARN": "*",
            "Version": 1,
        }
    )
    try:
        status, answered, trace, seen = through_stage(gureum_server, stage, function, None)
    finally:
        xray.delete_sampling_rule(RuleName=rule)
    assert status == 200
    assert answered == f"Root={trace.trace_id};Sampled=1"

    segments = by_origin(xray, trace.trace_id, 3)
    gateway = segments[ORIGIN]
    service = segments["AWS::Lambda"]
    own = segments["AWS::Lambda::Function"]
    assert gateway["name"] == f"{api}/prod" and "parent_id" not in gateway
    assert gateway["aws"]["xray"] == {"sampling_rule_name": rule}
    assert gateway["aws"]["api_gateway"]["rest_api_id"] == stage.api_id
    assert gateway["http"]["response"] == {"status": 200, "content_length": 18}
    (call,) = gateway["subsegments"]
    assert call["name"] == "Lambda" and call["aws"]["function_name"] == function
    # The function's segments hang off the gateway's Lambda subsegment.
    assert service["parent_id"] == call["id"] == trace.lambda_id
    assert own["parent_id"] == service["id"]
    assert seen == f"Root={trace.trace_id};Parent={own['id']};Sampled=1"

    start, end = trace.started - 5, time.time() + 5
    summaries = wait_for(
        lambda: xray.get_trace_summaries(
            StartTime=start, EndTime=end, FilterExpression=f'service("{api}/prod")'
        )["TraceSummaries"]
    )
    (summary,) = summaries
    assert summary["Id"] == trace.trace_id
    assert summary["EntryPoint"]["Type"] == ORIGIN
    assert summary["EntryPoint"]["Name"] == f"{api}/prod"
    assert summary["Http"]["HttpMethod"] == "POST" and summary["Http"]["HttpStatus"] == 200
    assert summary["Annotations"]["aws:api_id"][0]["AnnotationValue"] == {
        "StringValue": stage.api_id
    }

    graph = xray.get_service_graph(StartTime=start, EndTime=end)["Services"]
    nodes = {(s["Name"], s["Type"]): s for s in graph}
    references = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in graph}

    def edges(node: tuple[str, str]) -> set[tuple[str, str]]:
        return {references[e["ReferenceId"]] for e in nodes[node]["Edges"]}

    api_node = (f"{api}/prod", ORIGIN)
    assert api_node in edges(("client", "client"))
    assert nodes[api_node]["Root"] is True
    assert edges(api_node) == {(function, "AWS::Lambda")}
    assert edges((function, "AWS::Lambda")) == {(function, "AWS::Lambda::Function")}
    assert ("Lambda", "AWS::Lambda") not in nodes  # answered, so not an inferred service


def test_a_stage_continues_the_callers_trace_and_respects_its_no(
    gureum_server: RunningServer, deploy: Callable[..., str]
) -> None:
    xray = client("xray", gureum_server.endpoint)
    function = deploy(ECHO)
    # Passive (tracing not enabled): the caller's Sampled=1 traces it all the same.
    stage = Stage(
        api_id="passive001", api_name=unique_name("shop"), stage="v1", tracing_enabled=False
    )
    root = f"1-{int(time.time()):08x}-{new_uuid().replace('-', '')[:24]}"
    header = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"
    _, answered, trace, seen = through_stage(gureum_server, stage, function, header)
    assert trace.trace_id == root and answered == f"Root={root};Sampled=1"
    segments = by_origin(xray, root, 3)
    assert segments[ORIGIN]["parent_id"] == "53995c3f42cd8ad8"
    assert "xray" not in segments[ORIGIN]["aws"]
    assert segments["AWS::Lambda"]["parent_id"] == trace.lambda_id
    assert seen.startswith(f"Root={root};Parent=") and seen.endswith(";Sampled=1")

    # Sampled=0 from the caller: nothing recorded, on an active stage too; the function
    # is told so.
    active = Stage(api_id="active0001", api_name=stage.api_name, stage="v2", tracing_enabled=True)
    root = f"1-{int(time.time()):08x}-{new_uuid().replace('-', '')[:24]}"
    _, answered, trace, seen = through_stage(
        gureum_server, active, function, f"Root={root};Sampled=0"
    )
    assert answered == f"Root={root};Sampled=0"
    assert seen.startswith(f"Root={root};") and seen.endswith(";Sampled=0")
    time.sleep(0.5)  # the store writes every 0.2 s
    assert xray.batch_get_traces(TraceIds=[root])["Traces"] == []
