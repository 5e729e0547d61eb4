"""Tracing end to end with real clients: boto3's ``xray`` client, the UDP daemon, and
aws-xray-sdk running unchanged inside functions."""

from __future__ import annotations

import io
import json
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_xray_sdk
import pytest
import wrapt

from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    make_settings,
    server_on,
    unique_name,
    zip_files,
)

HEADER = b'{"format":"json","version":1}\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_on("sqlite", tmp_path_factory.mktemp("xray")) as running:
        yield running


@pytest.fixture
def xray(server: RunningServer) -> Any:
    return client("xray", server.endpoint)


@pytest.fixture
def lam(server: RunningServer) -> Any:
    return client("lambda", server.endpoint)


def trace_id(offset: float = 0.0) -> str:
    import secrets

    return f"1-{int(time.time() + offset):08x}-{secrets.token_hex(12)}"


def segment(trace: str, **fields: Any) -> dict[str, Any]:
    import secrets

    now = time.time()
    return {
        "name": "web",
        "id": secrets.token_hex(8),
        "trace_id": trace,
        "start_time": now,
        "end_time": now + 0.05,
        **fields,
    }


def wait_for_trace(xray: Any, trace: str, segments: int = 1, timeout: float = 10) -> dict[str, Any]:
    """The trace once it has ``segments`` top-level segments (writes are batched)."""
    deadline = time.monotonic() + timeout
    while True:
        found = xray.batch_get_traces(TraceIds=[trace])["Traces"]
        if found and len(found[0]["Segments"]) >= segments:
            return dict(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace} has {found} after {timeout} s")
        time.sleep(0.1)


def documents(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """origin (or name) -> document of each top-level segment."""
    out = {}
    for item in trace["Segments"]:
        document = json.loads(item["Document"])
        out[document.get("origin") or document["name"]] = document
    return out


def names(document: dict[str, Any]) -> list[str]:
    """Every subsegment name under ``document``, depth first."""
    found = []
    for child in document.get("subsegments") or []:
        found.append(child["name"])
        found.extend(names(child))
    return found


def test_put_trace_segments_and_batch_get_traces(xray: Any) -> None:
    trace = trace_id()
    good = segment(trace, annotations={"customer": "alice"})
    answer = xray.put_trace_segments(
        TraceSegmentDocuments=[
            json.dumps(good),
            "{not json",
            json.dumps({**good, "id": "short"}),
            json.dumps({**good, "id": "0123456789abcdef", "trace_id": "nope"}),
            json.dumps({k: v for k, v in good.items() if k != "end_time"}),
        ]
    )
    reasons = [item["Message"] for item in answer["UnprocessedTraceSegments"]]
    assert reasons == [
        "not json",
        "invalid id: id must be 16 hexadecimal digits",
        ("invalid trace_id: trace_id must look like 1-5759e988-<24 hex>"),
        "invalid end_time: end_time must be a number of epoch seconds",
    ]
    found = wait_for_trace(xray, trace)
    assert found["Id"] == trace and not found["LimitExceeded"]
    assert json.loads(found["Segments"][0]["Document"]) == good
    missing = trace_id()
    answer = xray.batch_get_traces(TraceIds=[missing])
    assert answer["Traces"] == [] and answer["UnprocessedTraceIds"] == [missing]


def test_udp_daemon_takes_segments_and_counts_bad_datagrams(
    server: RunningServer, xray: Any
) -> None:
    host, port = server.platform.xray_address.split(":")
    trace = trace_id()
    parent = segment(trace, in_progress=True)
    del parent["end_time"]
    child = segment(
        trace, type="subsegment", parent_id=parent["id"], name="query", namespace="remote"
    )
    before = dict(server.platform.xray_daemon.dropped)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(HEADER + json.dumps(parent).encode(), (host, int(port)))
        udp.sendto(HEADER + json.dumps(child).encode(), (host, int(port)))
        udp.sendto(b"no header here", (host, int(port)))
        udp.sendto(b'{"format": "xml"}\n{}', (host, int(port)))
        udp.sendto(HEADER + b'{"name": "x"}', (host, int(port)))
        # The finished segment replaces the in-progress one.
        done = {**parent, "end_time": parent["start_time"] + 0.2}
        del done["in_progress"]
        time.sleep(0.3)
        udp.sendto(HEADER + json.dumps(done).encode(), (host, int(port)))
    deadline = time.monotonic() + 10
    while True:
        (document,) = documents(wait_for_trace(xray, trace)).values()
        if "end_time" in document or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert document["end_time"] == done["end_time"]
    assert names(document) == ["query"]  # placed under its parent
    dropped = server.platform.xray_daemon.dropped
    assert dropped["no header"] == before.get("no header", 0) + 1
    assert dropped["bad header"] == before.get("bad header", 0) + 1
    assert dropped["invalid id"] == before.get("invalid id", 0) + 1


def test_a_traced_invocation_records_the_lambda_segments(lam: Any, xray: Any) -> None:
    name = unique_name("traced")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={
            "ZipFile": zip_files(
                {
                    "app.py": "import os\n"
                    "def handler(event, context):\n"
                    "    if event.get('fail'):\n"
                    "        raise ValueError('broken')\n"
                    "    return os.environ['_X_AMZN_TRACE_ID']\n"
                }
            )
        },
    )
    # PassThrough: the caller decides. Sampled=1 from the caller is traced.
    caller = trace_id()
    header = f"Root={caller};Parent=53995c3f42cd8ad8;Sampled=1"
    traced = client("lambda", lam.meta.endpoint_url)
    traced.meta.events.register(
        "before-sign.lambda.Invoke",
        lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", header),
    )
    seen = json.loads(traced.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    root, parent, sampled = seen.split(";")
    assert root == f"Root={caller}" and sampled == "Sampled=1"
    trace = documents(wait_for_trace(xray, caller, segments=2))
    service, function = trace["AWS::Lambda"], trace["AWS::Lambda::Function"]
    assert service["name"] == function["name"] == name
    assert service["parent_id"] == "53995c3f42cd8ad8"
    assert function["parent_id"] == service["id"]
    assert parent == f"Parent={function['id']}"  # the function's SDK hangs off this
    assert names(function) == ["Initialization", "Invocation", "Overhead"]
    assert function["aws"]["function_arn"].endswith(f":function:{name}")
    assert service["aws"]["request_id"]

    # Without a caller's decision, a PassThrough function is not sampled, but still
    # gets a trace id.
    unsampled = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert unsampled.startswith("Root=1-") and unsampled.endswith(";Sampled=0")
    assert caller not in unsampled

    # A later call (same caller trace) is warm, and failing: a fault with its cause.
    traced.invoke(FunctionName=name, Payload=b'{"fail": true}')
    found = wait_for_trace(xray, caller, segments=4)
    failed = [
        json.loads(item["Document"])
        for item in found["Segments"]
        if json.loads(item["Document"]).get("fault")
    ]
    assert len(failed) == 1 and failed[0]["origin"] == "AWS::Lambda::Function"
    assert names(failed[0]) == ["Invocation", "Overhead"]
    (exception,) = failed[0]["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ValueError", "broken")


def xray_sdk_zip(files: dict[str, str]) -> bytes:
    """A function package with aws-xray-sdk (and wrapt) bundled, as a user packages it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in (aws_xray_sdk, wrapt):
            root = Path(str(package.__file__)).parent
            for path in root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    info = zipfile.ZipInfo(str(Path(root.name) / path.relative_to(root)))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes())
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


SDK_FUNCTION = """
import os, sqlite3
import boto3
from aws_xray_sdk.core import patch_all, xray_recorder

patch_all()

def handler(event, context):
    db = sqlite3.connect("/tmp/orders.db")
    db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER)")
    db.execute("INSERT INTO orders VALUES (1)")
    count = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    with xray_recorder.in_subsegment("business") as subsegment:
        subsegment.put_annotation("customer", event.get("customer", "nobody"))
    if event.get("call"):
        boto3.client("lambda").invoke(FunctionName=event["call"], Payload=b'{"customer": "bob"}')
    return {"count": count, "trace": os.environ["_X_AMZN_TRACE_ID"]}
"""


def test_aws_xray_sdk_inside_functions_joins_one_trace(
    server: RunningServer, lam: Any, xray: Any
) -> None:
    callee, caller = unique_name("callee"), unique_name("caller")
    for name in (callee, caller):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Timeout=30,
            TracingConfig={"Mode": "Active"},
            Code={"ZipFile": xray_sdk_zip({"app.py": SDK_FUNCTION})},
        )
    # Trace every invocation of these two (the Default rule samples 1/s, then 5 %).
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": "all-" + caller[-12:].replace("-", ""),
            "Priority": 1,
            "FixedRate": 1.0,
            "ReservoirSize": 100,
            "ServiceName": "c*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "ResourceARN": "*",
            "Version": 1,
        }
    )
    answer = lam.invoke(
        FunctionName=caller, Payload=json.dumps({"customer": "alice", "call": callee})
    )
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    root = result["trace"].split(";")[0].removeprefix("Root=")

    # One trace: both functions' Lambda segments spanning the call. (The SDK's
    # subsegments arrive first; the caller's function segment when its invoke ends.)
    wanted = {f"{f}/AWS::Lambda{kind}" for f in (caller, callee) for kind in ("", "::Function")}
    deadline = time.monotonic() + 20
    while True:
        found = wait_for_trace(xray, root, segments=4, timeout=20)
        by_function: dict[str, dict[str, Any]] = {}
        for item in found["Segments"]:
            document = json.loads(item["Document"])
            by_function[f"{document['name']}/{document.get('origin')}"] = document
        if set(by_function) == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert set(by_function) == wanted, {k: names(d) for k, d in by_function.items()}
    caller_function = by_function[f"{caller}/AWS::Lambda::Function"]
    callee_service = by_function[f"{callee}/AWS::Lambda"]
    caller_names = names(caller_function)
    # The SDK's subsegments landed under the platform's function segment.
    assert "business" in caller_names
    assert any(n.endswith("orders.db") or "sqlite" in n.lower() for n in caller_names), caller_names
    assert "lambda" in caller_names  # the boto3 call, patched
    # The callee's service segment is the child of the caller's boto3 subsegment.
    lambda_calls = [
        child
        for child in _walk(caller_function)
        if child["name"] == "lambda" and child.get("namespace") == "aws"
    ]
    assert callee_service["parent_id"] in {c["id"] for c in lambda_calls}

    graph = xray.get_trace_graph(TraceIds=[root])["Services"]
    by_reference = {s["ReferenceId"]: s for s in graph}
    edges = {
        (
            s["Name"],
            s["Type"],
            by_reference[e["ReferenceId"]]["Name"],
            by_reference[e["ReferenceId"]]["Type"],
        )
        for s in graph
        for e in s["Edges"]
    }
    assert ("client", "client", caller, "AWS::Lambda") in edges
    assert (caller, "AWS::Lambda", caller, "AWS::Lambda::Function") in edges
    assert (caller, "AWS::Lambda::Function", callee, "AWS::Lambda") in edges
    assert (callee, "AWS::Lambda", callee, "AWS::Lambda::Function") in edges
    database = [s for s in graph if s["Type"] == "Database::SQL"]
    assert database, graph


def _walk(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in document.get("subsegments") or []:
        yield child
        yield from _walk(child)


def test_sampling_rules(xray: Any) -> None:
    rule = {
        "RuleName": "checkout",
        "Priority": 10,
        "FixedRate": 0.5,
        "ReservoirSize": 3,
        "ServiceName": "checkout",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "POST",
        "URLPath": "/buy*",
        "ResourceARN": "*",
        "Version": 1,
    }
    created = xray.create_sampling_rule(SamplingRule=rule)["SamplingRuleRecord"]
    assert created["SamplingRule"]["RuleARN"].endswith(":sampling-rule/checkout")
    names_by_priority = [
        r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]
    ]
    assert names_by_priority.index("checkout") < names_by_priority.index("Default")
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.create_sampling_rule(SamplingRule=rule)
    updated = xray.update_sampling_rule(
        SamplingRuleUpdate={"RuleName": "checkout", "FixedRate": 0.1}
    )
    assert updated["SamplingRuleRecord"]["SamplingRule"]["FixedRate"] == 0.1
    targets = xray.get_sampling_targets(
        SamplingStatisticsDocuments=[
            {
                "RuleName": "checkout",
                "ClientID": "0" * 24,
                "Timestamp": time.time(),
                "RequestCount": 10,
                "SampledCount": 2,
                "BorrowCount": 0,
            }
        ]
    )
    assert targets["SamplingTargetDocuments"][0]["FixedRate"] == 0.1
    xray.delete_sampling_rule(RuleName="checkout")
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.delete_sampling_rule(RuleName="Default")
    unchecked = client("xray", xray.meta.endpoint_url, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.InvalidRequestException):
        unchecked.create_sampling_rule(SamplingRule={**rule, "RuleName": "x", "FixedRate": 2})


def put(xray: Any, *documents: dict[str, Any]) -> None:
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in documents])
    assert answer["UnprocessedTraceSegments"] == []


def summaries(xray: Any, expression: str | None, since: float) -> list[str]:
    """Ids of the traces since ``since`` that ``expression`` matches (every page)."""
    params: dict[str, Any] = {"StartTime": since, "EndTime": time.time() + 60}
    if expression is not None:
        params["FilterExpression"] = expression
    ids: list[str] = []
    while True:
        page = xray.get_trace_summaries(**params)
        ids += [s["Id"] for s in page["TraceSummaries"]]
        if not page.get("NextToken"):
            return ids
        params["NextToken"] = page["NextToken"]


def test_get_trace_summaries_with_filter_expressions(server: RunningServer, xray: Any) -> None:
    since = time.time() - 1
    shop = trace_id()
    web = segment(
        shop,
        name="shop",
        origin="AWS::EC2::Instance",
        annotations={"customer": "alice", "items": 3, "vip": True},
        http={
            "request": {"url": "https://shop/buy", "method": "POST"},
            "response": {"status": 200},
        },
        user="alice",
    )
    web["end_time"] = web["start_time"] + 1.5
    web["subsegments"] = [
        {
            "name": "orders-db",
            "id": "0123456789abcdef",
            "start_time": web["start_time"] + 0.1,
            "end_time": web["start_time"] + 0.4,
            "namespace": "remote",
            "sql": {"url": "postgresql://db/orders"},
            "fault": True,
        }
    ]
    broken = trace_id()
    failing = segment(
        broken,
        name="shop",
        fault=True,
        annotations={"customer": "bob", "items": 1},
        http={
            "request": {"url": "https://shop/cart", "method": "GET"},
            "response": {"status": 502},
        },
    )
    put(xray, web, failing)
    server.call(server.platform.traces.flush)

    def ids(expression: str | None) -> set[str]:
        return {i for i in summaries(xray, expression, since) if i in (shop, broken)}

    assert ids(None) == {shop, broken}
    assert ids('annotation.customer = "alice"') == {shop}
    assert ids("annotation.items >= 2") == {shop}
    assert ids("annotation.vip = true") == {shop}
    assert ids("annotation.vip") == {shop}
    assert ids("http.status >= 500") == {broken}
    assert ids("fault") == {broken}  # the root's fault; the database's is downstream
    assert ids('service("orders-db") { fault }') == {shop}
    assert ids('edge("shop", "orders-db")') == {shop}
    assert ids("responsetime > 1") == {shop}
    assert ids('http.url CONTAINS "cart" OR user = "alice"') == {shop, broken}
    assert ids('NOT (annotation.customer BEGINSWITH "al") AND ok') == set()
    assert ids('!ok AND http.method = "GET"') == {broken}

    with pytest.raises(xray.exceptions.InvalidRequestException) as bad:
        xray.get_trace_summaries(
            StartTime=since, EndTime=time.time(), FilterExpression="responsetime > AND ok"
        )
    assert "position 15" in str(bad.value)
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.get_trace_summaries(
            StartTime=since, EndTime=time.time(), FilterExpression="rootcause.fault.service {}"
        )

    (summary,) = [
        s
        for s in xray.get_trace_summaries(
            StartTime=since, EndTime=time.time() + 60, FilterExpression='user = "alice"'
        )["TraceSummaries"]
        if s["Id"] == shop
    ]
    assert summary["Http"] == {
        "HttpURL": "https://shop/buy",
        "HttpStatus": 200,
        "HttpMethod": "POST",
    }
    assert summary["Annotations"]["customer"] == [
        {"AnnotationValue": {"StringValue": "alice"}, "ServiceIds": []}
    ]
    assert summary["HasFault"] is False and summary["ResponseTime"] == pytest.approx(1.5)
    assert summary["EntryPoint"]["Name"] == "shop"

    # The graph's times are each service's own: the database was called 0.1 s in.
    graph = xray.get_trace_graph(TraceIds=[shop])["Services"]
    (database,) = [s for s in graph if s["Name"] == "orders-db"]
    assert database["StartTime"].timestamp() == pytest.approx(web["start_time"] + 0.1, abs=1e-3)
    assert {s["Name"] for s in summary["ServiceIds"]} == {"shop", "orders-db"}


def test_get_trace_summaries_pages(server: RunningServer, xray: Any) -> None:
    since = time.time() - 1
    tag = unique_name("page").replace("-", "_")
    put(*[xray], *[segment(trace_id(), annotations={"batch": tag}) for _ in range(130)])
    server.call(server.platform.traces.flush)
    pages = []
    params: dict[str, Any] = {
        "StartTime": since,
        "EndTime": time.time() + 60,
        "FilterExpression": f'annotation.batch = "{tag}"',
    }
    while True:
        page = xray.get_trace_summaries(**params)
        pages.append(len(page["TraceSummaries"]))
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    assert pages == [100, 30]
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.get_trace_summaries(StartTime=since, EndTime=time.time(), NextToken="garbage")


def test_trace_size_limit_and_retention(tmp_path: Path) -> None:
    running = RunningServer(make_settings(tmp_path, trace_max_bytes=2048))
    running.start()
    try:
        xray = client("xray", running.endpoint)
        trace = trace_id()
        padding = {"metadata": {"default": {"pad": "x" * 700}}}
        put(xray, *[segment(trace, **padding) for _ in range(4)])  # ~3.2 KB in all
        running.call(running.platform.traces.flush)
        found = wait_for_trace(xray, trace)
        assert found["LimitExceeded"] is True
        assert len(found["Segments"]) == 2  # what fitted in 2 KB
        assert running.platform.traces.dropped["trace too large"] == 2

        # Traces older than the retention are swept away.
        store = running.platform.traces
        later = time.time() + 31 * 86400
        assert running.call(lambda: store.store.run(store._sweep, later)) >= 1
        assert xray.batch_get_traces(TraceIds=[trace])["Traces"] == []
    finally:
        running.stop()


def test_daemon_tcp_port_serves_sampling_calls_only(server: RunningServer) -> None:
    import urllib.error
    import urllib.request

    base = f"http://{server.platform.xray_address}"
    request = urllib.request.Request(f"{base}/GetSamplingRules", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:  # unsigned, as SDKs send
        rules = json.loads(answer.read())["SamplingRuleRecords"]
    assert "Default" in {r["SamplingRule"]["RuleName"] for r in rules}
    other = urllib.request.Request(f"{base}/2015-03-31/functions", method="GET")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(other, timeout=10)
    assert refused.value.code == 404


def test_the_sdks_centralized_sampler_reads_rules_from_the_daemon(
    server: RunningServer, xray: Any
) -> None:
    """aws-xray-sdk's own sampling connector, pointed at the daemon address (unsigned
    calls over TCP), fetches the rules and their targets."""
    from aws_xray_sdk.core.sampling.connector import ServiceConnector

    name = unique_name("sampled").replace("-", "")[:32]
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": name,
            "Priority": 5,
            "FixedRate": 0.25,
            "ReservoirSize": 7,
            "ServiceName": "api",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "GET",
            "URLPath": "/orders*",
            "ResourceARN": "*",
            "Version": 1,
        }
    )
    host, port = server.platform.xray_address.split(":")
    connector = ServiceConnector()
    connector.setup_xray_client(host, int(port), client=None)
    rules = {rule.name: rule for rule in connector.fetch_sampling_rules()}
    assert rules[name].rate == 0.25 and rules[name].priority == 5
    assert rules[name].match(
        {
            "service": "api",
            "service_type": "AWS::EC2::Instance",
            "method": "GET",
            "path": "/orders/1",
            "host": "shop",
        }
    )
    assert "Default" in rules
    rules[name].increment_request_count()
    targets, modified = connector.fetch_sampling_target([rules[name]])
    assert targets[name]["rate"] == 0.25 and modified is not None
