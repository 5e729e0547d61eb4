"""The examples in ``examples/`` deploy and behave as their docstrings say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gureum.runtimes import InvalidRuntimeException, node_executable
from tests.conftest import ROLE, unique_name, zip_files

EXAMPLES = Path(__file__).parent.parent / "examples"


def deploy_example(lambda_client: Any, example: str) -> str:
    name = unique_name(example)
    files = {p.name: p.read_text() for p in (EXAMPLES / example).glob("*.py")}
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files(files)},
    )
    return name


def call(lambda_client: Any, name: str, payload: Any) -> Any:
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(payload))
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


def test_hello(lambda_client: Any) -> None:
    name = deploy_example(lambda_client, "hello")
    result = call(lambda_client, name, {"name": "gureum"})
    assert result["message"] == "hello, gureum!"
    assert result["request_id"]


def test_warm_cold(lambda_client: Any) -> None:
    name = deploy_example(lambda_client, "warm-cold")
    assert call(lambda_client, name, {})["start"] == "cold start"
    assert call(lambda_client, name, {})["start"] == "warm start"


def node_runtime() -> str:
    """A nodejsNN.x this host serves (the test is skipped without one)."""
    for runtime in ("nodejs20.x", "nodejs22.x", "nodejs24.x", "nodejs18.x"):
        try:
            node_executable(runtime)
        except InvalidRuntimeException:
            continue
        return runtime
    pytest.skip("no Node.js 18-24 on this host")


def test_warm_cold_node(lambda_client: Any) -> None:
    """The seed's own Node.js warm/cold test, as the seed wrote it."""
    name = unique_name("warm-cold-node")
    code = (EXAMPLES / "warm-cold-node" / "index.js").read_text()
    lambda_client.create_function(
        FunctionName=name,
        Runtime=node_runtime(),
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_files({"index.js": code})},
    )
    first, second = call(lambda_client, name, {}), call(lambda_client, name, {})
    assert first["statusCode"] == 200
    assert json.loads(first["body"]) == {"message": "cold start"}
    assert json.loads(second["body"]) == {"message": "warm start"}


def test_x_ray_demo(gureum_server: Any, lambda_client: Any) -> None:
    """The seed's demo: tracing on shows client -> Lambda -> function; with the SDK
    bundled the table's database appears behind the function, with its call's time."""
    import time

    from tests.conftest import client
    from tests.tracing.test_xray import xray_sdk_zip

    xray = client("xray", gureum_server.endpoint)
    # Every call of the demo traced (the Default rule takes one a second, then 5 %).
    rules = xray.get_sampling_rules()["SamplingRuleRecords"]
    if not any(r["SamplingRule"]["RuleName"] == "x-ray-demo" for r in rules):
        xray.create_sampling_rule(
            SamplingRule={
                "RuleName": "x-ray-demo",
                "Priority": 100,
                "FixedRate": 1.0,
                "ReservoirSize": 0,
                "ServiceName": "x-ray-demo*",
                "ServiceType": "AWS::Lambda::Function",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "ResourceARN": "*",
                "Version": 1,
            }
        )
    code = (EXAMPLES / "x-ray-demo" / "app.py").read_text()
    for bundled in (False, True):
        name = unique_name("x-ray-demo")
        package = xray_sdk_zip({"app.py": code}) if bundled else zip_files({"app.py": code})
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            TracingConfig={"Mode": "Active"},
            Code={"ZipFile": package},
        )
        answer = call(lambda_client, name, {})
        assert json.loads(answer["body"])[0] == {"id": "1", "name": "cloud"}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            graph = xray.get_service_graph(StartTime=time.time() - 60, EndTime=time.time() + 60)
            mine = [s for s in graph["Services"] if s["Name"] == name]
            if len(mine) == 2 and (
                not bundled or any(s["Type"] == "Database::SQL" for s in graph["Services"])
            ):
                break
            time.sleep(0.2)
        by_reference = {s["ReferenceId"]: s for s in graph["Services"]}
        function = next(
            s
            for s in graph["Services"]
            if s["Name"] == name and s["Type"] == "AWS::Lambda::Function"
        )
        targets = [by_reference[e["ReferenceId"]] for e in function["Edges"]]
        if bundled:
            (database,) = [t for t in targets if t["Type"] == "Database::SQL"]
            (edge,) = [e for e in function["Edges"] if e["ReferenceId"] == database["ReferenceId"]]
            assert edge["SummaryStatistics"]["TotalCount"] >= 1
            assert edge["SummaryStatistics"]["TotalResponseTime"] > 0
        else:
            assert targets == []  # without the SDK, the table is not seen
