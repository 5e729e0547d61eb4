"""The examples in ``examples/`` deploy and behave as their docstrings say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gureum.runtimes import InvalidRuntimeException, node_executable
from tests.conftest import NODE_TEST_PACKAGES, ROLE, install_node_packages, unique_name, zip_files

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
    """The seed's demo in Python: the function scans the ``x-ray-demo`` table with boto3.
    Tracing on shows client -> Lambda -> function; with the SDK bundled, the function's
    segment holds a ``DynamoDB`` subsegment for the Scan, with its time."""
    import time

    from tests.conftest import client
    from tests.tracing.test_xray import xray_sdk_zip

    dynamodb = client("dynamodb", gureum_server.endpoint)
    try:
        dynamodb.create_table(
            TableName="x-ray-demo",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except dynamodb.exceptions.ResourceInUseException:  # made by another test of the session
        pass
    dynamodb.put_item(TableName="x-ray-demo", Item={"id": {"S": "1"}, "name": {"S": "cloud"}})
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
            Timeout=30,
            TracingConfig={"Mode": "Active"},
            Code={"ZipFile": package},
        )
        started = time.time()
        answer = call(lambda_client, name, {})
        assert answer["statusCode"] == 200
        assert {"id": {"S": "1"}, "name": {"S": "cloud"}} in json.loads(answer["body"])

        # The trace: the function's segment, and with the SDK its subsegment for the Scan.
        deadline = time.monotonic() + 20
        functions: list[dict[str, Any]] = []
        scans: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not (scans if bundled else functions):
            time.sleep(0.2)
            ids = [
                s["Id"]
                for s in xray.get_trace_summaries(
                    StartTime=started - 5,
                    EndTime=time.time() + 5,
                    FilterExpression=f'service("{name}")',
                )["TraceSummaries"]
            ]
            for trace in xray.batch_get_traces(TraceIds=ids)["Traces"] if ids else []:
                for item in trace["Segments"]:
                    document = json.loads(item["Document"])
                    if document.get("origin") == "AWS::Lambda::Function":
                        functions.append(document)
                        found = _subsegments(document)
                        scans += [s for s in found if s["name"].lower() == "dynamodb"]
        assert functions, "the function's segment did not reach the trace"
        if bundled:
            assert scans, "no DynamoDB subsegment reached the trace"
            scan = scans[0]
            assert scan["namespace"] == "aws" and scan["aws"]["operation"] == "Scan"
            assert scan["aws"]["table_name"] == "x-ray-demo"
            assert scan["end_time"] > scan["start_time"]
        else:
            assert scans == []  # without the SDK, the table is not seen


def test_x_ray_demo_node(start_server: Any, tmp_path: Path) -> None:
    """The seed's X-Ray demo in Node.js, unchanged: its layer (``npm install
    aws-xray-sdk`` in ``nodejs/``), ``captureAWS(require('aws-sdk'))`` and a DynamoDB
    Scan, which the trace shows as the function's ``dynamodb`` subsegment (the SDK v2
    names it by the service's identifier)."""
    import subprocess
    import time

    from tests.conftest import client

    runtime = node_runtime()
    server = start_server()
    # aws-sdk v2 at /var/runtime/node_modules, as Lambda's older Node.js runtimes had it
    install_node_packages(server.settings.data_dir, *NODE_TEST_PACKAGES)
    layer_dir = tmp_path / "layer" / "nodejs"
    layer_dir.mkdir(parents=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "aws-xray-sdk"],
        cwd=layer_dir,
        check=True,
        capture_output=True,
        timeout=300,
    )
    files = {
        str(path.relative_to(layer_dir.parent)): path.read_bytes()
        for path in layer_dir.rglob("*")
        if path.is_file()
    }
    lam = client("lambda", server.endpoint)
    layer = lam.publish_layer_version(
        LayerName="node-xray-sdk", Content={"ZipFile": zip_files(files)}
    )["LayerVersionArn"]

    dynamodb = client("dynamodb", server.endpoint)
    dynamodb.create_table(
        TableName="x-ray-demo",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="x-ray-demo", Item={"id": {"S": "1"}, "name": {"S": "cloud"}})

    xray = client("xray", server.endpoint)
    xray.create_sampling_rule(  # every call traced (the Default rule: 1 a second, then 5 %)
        SamplingRule={
            "RuleName": "x-ray-demo-node",
            "Priority": 100,
            "FixedRate": 1.0,
            "ReservoirSize": 0,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "ResourceARN": "*",
            "Version": 1,
        }
    )
    lam.create_function(
        FunctionName="x-ray-demo",
        Runtime=runtime,
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        TracingConfig={"Mode": "Active"},
        Layers=[layer],
        Code={
            "ZipFile": zip_files(
                {"index.js": (EXAMPLES / "x-ray-demo-node" / "index.js").read_text()}
            )
        },
    )
    started = time.time()
    answer = call(lam, "x-ray-demo", {})
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == [{"id": {"S": "1"}, "name": {"S": "cloud"}}]

    # The trace: the function's segment holds the SDK's subsegment for the Scan.
    deadline = time.monotonic() + 20
    scans: list[dict[str, Any]] = []
    while not scans and time.monotonic() < deadline:
        time.sleep(0.2)
        ids = [
            s["Id"]
            for s in xray.get_trace_summaries(
                StartTime=started - 5,
                EndTime=time.time() + 5,
                FilterExpression='service("x-ray-demo")',
            )["TraceSummaries"]
        ]
        for trace in xray.batch_get_traces(TraceIds=ids)["Traces"] if ids else []:
            for item in trace["Segments"]:
                document = json.loads(item["Document"])
                if document.get("origin") == "AWS::Lambda::Function":
                    # (the SDK names it by the service's identifier: "dynamodb" in v2)
                    found = _subsegments(document)
                    scans += [s for s in found if s["name"].lower() == "dynamodb"]
    assert scans, "no DynamoDB subsegment reached the trace"
    scan = scans[0]
    assert scan["namespace"] == "aws" and scan["aws"]["operation"] == "Scan"
    assert scan["aws"]["table_name"] == "x-ray-demo"
    assert scan["end_time"] > scan["start_time"]


def _subsegments(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for child in document.get("subsegments") or []:
        found += [child, *_subsegments(child)]
    return found


def test_api_gateway_demo_node(start_server: Any) -> None:
    """The seed's first function, unchanged, behind an HTTP API made by quick create: a
    plain GET on the API's endpoint answers the table's records."""
    import urllib.request

    from tests.conftest import client

    runtime = node_runtime()
    server = start_server()
    install_node_packages(server.settings.data_dir, *NODE_TEST_PACKAGES)
    dynamodb = client("dynamodb", server.endpoint)
    dynamodb.create_table(
        TableName="x-ray-demo",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="x-ray-demo", Item={"id": {"S": "1"}, "name": {"S": "cloud"}})
    lam = client("lambda", server.endpoint)
    function = lam.create_function(
        FunctionName="x-ray-demo",
        Runtime=runtime,
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        Code={
            "ZipFile": zip_files(
                {"index.js": (EXAMPLES / "api-gateway-demo-node" / "index.js").read_text()}
            )
        },
    )
    api = client("apigatewayv2", server.endpoint).create_api(
        Name="demo", ProtocolType="HTTP", Target=function["FunctionArn"]
    )
    with urllib.request.urlopen(api["ApiEndpoint"] + "/", timeout=60) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == [{"id": {"S": "1"}, "name": {"S": "cloud"}}]


def test_websocket_chat_node(start_server: Any) -> None:
    """The seed's WebSocket chat app, its four handlers unchanged: connections kept in a
    table, messages fanned out with ``postToConnection`` through the callback URL each
    function builds from its event (``domainName + '/' + stage``, HTTPS by the SDK's
    default), the default route's reply with the connection's info."""
    import time

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tests.conftest import client

    runtime = node_runtime()
    server = start_server()
    install_node_packages(server.settings.data_dir, *NODE_TEST_PACKAGES)
    dynamodb = client("dynamodb", server.endpoint)
    dynamodb.create_table(
        TableName="simplechat_connections",
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    lam = client("lambda", server.endpoint)
    gw = client("apigatewayv2", server.endpoint)
    api = gw.create_api(
        Name="simplechat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    folder = EXAMPLES / "websocket-chat-node"
    for handler, route_key in (
        ("onconnect", "$connect"),
        ("ondisconnect", "$disconnect"),
        ("default", "$default"),
        ("sendmessage", "sendmessage"),
    ):
        function = lam.create_function(
            FunctionName=f"chat-{handler}",
            Runtime=runtime,
            Role=ROLE,
            Handler=f"{handler}.handler",
            Timeout=30,
            Environment={"Variables": {"table": "simplechat_connections"}},
            Code={"ZipFile": zip_files({f"{handler}.js": (folder / f"{handler}.js").read_text()})},
        )
        integration = gw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=function["FunctionArn"]
        )
        gw.create_route(
            ApiId=api["ApiId"],
            RouteKey=route_key,
            Target=f"integrations/{integration['IntegrationId']}",
        )
    gw.create_stage(ApiId=api["ApiId"], StageName="production")
    url = f"{api['ApiEndpoint']}/production"

    def connections() -> set[str]:
        items = dynamodb.scan(TableName="simplechat_connections")["Items"]
        return {item["connectionId"]["S"] for item in items}

    def eventually(check: Any) -> None:
        deadline = time.monotonic() + 60
        while not check():
            assert time.monotonic() < deadline, "not in time"
            time.sleep(0.1)

    with connect(url, open_timeout=120) as alice, connect(url, open_timeout=120) as bob:
        with connect(url, open_timeout=120) as carol:
            assert len(connections()) == 3  # each $connect ran before its upgrade ended
            alice.send(json.dumps({"action": "sendmessage", "message": "hello, everyone"}))
            assert bob.recv(timeout=60) == "hello, everyone"
            assert carol.recv(timeout=60) == "hello, everyone"
            alice.send("what can I do?")
            reply = str(alice.recv(timeout=60))
            prefix = "Use the sendmessage route to send a message. Your info:"
            assert reply.startswith(prefix)
            info = json.loads(reply[len(prefix) :])
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            assert info["connectionID"] in connections()
            assert info["ConnectedAt"] <= info["LastActiveAt"]  # (ISO 8601 in UTC)
        eventually(lambda: len(connections()) == 2)  # carol's $disconnect deleted her
        bob.send(json.dumps({"action": "sendmessage", "message": "just us"}))
        assert alice.recv(timeout=60) == "just us"
        with pytest.raises(TimeoutError):
            bob.recv(timeout=1)  # (the sender is skipped)
    eventually(lambda: not connections())
    with pytest.raises(ConnectionClosed):
        alice.recv(timeout=1)
