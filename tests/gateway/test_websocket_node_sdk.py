"""A WebSocket API's functions calling back with the JavaScript SDKs, as AWS's examples
do: the client built from the event (``https://`` + ``domainName`` + ``/`` + ``stage``),
``GetConnection`` and ``PostToConnection``, and ``GoneException`` typed for v3's
``instanceof`` and v2's ``code``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import (
    NODE_TEST_PACKAGES,
    ROLE,
    RunningServer,
    client,
    install_node_packages,
    make_settings,
    unique_name,
    zip_files,
)
from tests.test_examples import node_runtime

V3 = """
const {
  ApiGatewayManagementApiClient,
  GetConnectionCommand,
  PostToConnectionCommand,
  GoneException,
} = require("@aws-sdk/client-apigatewaymanagementapi");

exports.handler = async (event) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const api = new ApiGatewayManagementApiClient({ endpoint: `https://${domainName}/${stage}` });
  const info = await api.send(new GetConnectionCommand({ ConnectionId: connectionId }));
  let gone = false;
  try {
    await api.send(new PostToConnectionCommand({ ConnectionId: "bm90LWhlcmU=", Data: "x" }));
  } catch (e) {
    gone = e instanceof GoneException && e.$metadata.httpStatusCode === 410;
  }
  const said = { sdk: "v3", sourceIp: info.Identity.SourceIp, gone, body: event.body };
  await api.send(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(said) })
  );
  return { statusCode: 200 };
};
"""

V2 = """
const AWS = require("aws-sdk");

exports.handler = async (event) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const api = new AWS.ApiGatewayManagementApi({ endpoint: domainName + "/" + stage });
  const info = await api.getConnection({ ConnectionId: connectionId }).promise();
  let gone = false;
  try {
    await api.postToConnection({ ConnectionId: "bm90LWhlcmU=", Data: "x" }).promise();
  } catch (e) {
    gone = e.code === "GoneException" && e.statusCode === 410;
  }
  const said = { sdk: "v2", sourceIp: info.Identity.SourceIp, gone, body: event.body };
  await api.postToConnection({ ConnectionId: connectionId, Data: JSON.stringify(said) }).promise();
  return { statusCode: 200 };
};
"""


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    runtime = node_runtime()
    server = RunningServer(make_settings(tmp_path_factory.mktemp("ws-node")))
    server.start()
    try:
        install_node_packages(server.settings.data_dir, *NODE_TEST_PACKAGES)
        yield server, runtime
    finally:
        server.stop()


@pytest.mark.parametrize("code", [V3, V2], ids=["sdk-v3", "sdk-v2"])
def test_a_node_function_calls_back_through_the_event_s_domain(node_server: Any, code: str) -> None:
    server, runtime = node_server
    lam = client("lambda", server.endpoint)
    gw = client("apigatewayv2", server.endpoint)
    function = lam.create_function(
        FunctionName=unique_name("ws-node"),
        Runtime=runtime,
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        Code={"ZipFile": zip_files({"index.js": code})},
    )
    api = gw.create_api(
        Name="node", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    integration = gw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=function["FunctionArn"]
    )
    gw.create_route(
        ApiId=api["ApiId"],
        RouteKey="$default",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    gw.create_stage(ApiId=api["ApiId"], StageName="dev")
    with connect(f"{api['ApiEndpoint']}/dev", open_timeout=60) as ws:
        ws.send("hello")
        said = json.loads(ws.recv(timeout=120))
    assert said["body"] == "hello"
    assert said["sourceIp"] == "127.0.0.1"
    assert said["gone"] is True
