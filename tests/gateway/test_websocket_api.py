"""WebSocket APIs on a real server: configured with boto3's ``apigatewayv2``, reached
with the ``websockets`` client, their functions calling back through boto3's
``apigatewaymanagementapi``: ``$connect`` deciding the upgrade, routes chosen by the
selection expression, route responses, API Gateway's own messages and limits, the
``@connections`` API, and ``$disconnect`` whoever closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import (
    RunningServer,
    client,
    make_settings,
    store_settings,
    unique_name,
    zip_files,
)

HANDLERS = """
import json
import os

import boto3


def management(event):
    context = event["requestContext"]
    base = os.environ["AWS_ENDPOINT_URL"]
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{base}/_aws/execute-api/{context['apiId']}/{context['stage']}",
    )


def connect(event, context):
    query = event.get("queryStringParameters") or {}
    if query.get("deny"):
        return {"statusCode": 401, "body": "not you"}
    if query.get("fail"):
        raise RuntimeError("the connect function failed")
    headers = {}
    offered = event["headers"].get("Sec-WebSocket-Protocol")
    if offered:
        headers["Sec-WebSocket-Protocol"] = offered.split(",")[0].strip()
    return {"statusCode": 200, "headers": headers}


def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}


def default(event, context):
    connection_id = event["requestContext"]["connectionId"]
    api = management(event)
    info = api.get_connection(ConnectionId=connection_id)
    said = {"said": event["body"], "sourceIp": info["Identity"]["SourceIp"]}
    api.post_to_connection(ConnectionId=connection_id, Data=json.dumps(said).encode())
    return {"statusCode": 200}


def tell(event, context):
    body = json.loads(event["body"])
    api = management(event)
    try:
        api.post_to_connection(ConnectionId=body["to"], Data=body["text"].encode())
    except api.exceptions.GoneException:
        return {"statusCode": 200, "body": "gone"}
    return {"statusCode": 200, "body": "sent"}


def fail(event, context):
    raise RuntimeError("no")


def disconnect(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    context_ = event["requestContext"]
    table.put_item(
        Item={
            "id": context_["connectionId"],
            "code": context_["disconnectStatusCode"],
            "eventType": context_["eventType"],
        }
    )
    return {"statusCode": 200}
"""


class WebSocketApi:
    def __init__(self, server: RunningServer, api_id: str, table: str) -> None:
        self.server = server
        self.api_id = api_id
        self.table = table

    def url(self, stage: str = "production", query: str = "") -> str:
        port = self.server.settings.port
        base = f"ws://127.0.0.1:{port}/_aws/execute-api/{self.api_id}/{stage}"
        return base + (f"?{query}" if query else "")

    def connect(self, query: str = "", **options: Any) -> ClientConnection:
        ws: ClientConnection = connect(self.url(query=query), open_timeout=60, **options)
        return ws

    def management(self) -> Any:
        endpoint = f"{self.server.endpoint}/_aws/execute-api/{self.api_id}/production"
        return client("apigatewaymanagementapi", endpoint)

    def disconnected(self, connection_id: str, timeout: float = 60) -> dict[str, Any]:
        """The item the ``$disconnect`` function wrote for a connection."""
        table = client("dynamodb", self.server.endpoint)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = table.get_item(TableName=self.table, Key={"id": {"S": connection_id}})
            if "Item" in item:
                return dict(item["Item"])
            time.sleep(0.1)
        raise AssertionError(f"no $disconnect for {connection_id}")


def make_websocket_api(server: RunningServer) -> WebSocketApi:
    """A chat-like API: ``$connect``, ``$disconnect``, ``$default`` and three routes of
    its own, on Python functions of one zip; ``echo`` two-way."""
    lam = client("lambda", server.endpoint)
    gw = client("apigatewayv2", server.endpoint)
    table = unique_name("disconnects")
    client("dynamodb", server.endpoint).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    api_id = gw.create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    code = zip_files({"app.py": HANDLERS})
    for handler in ("connect", "echo", "default", "tell", "fail", "disconnect"):
        name = unique_name(handler)
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/ws",
            Handler=f"app.{handler}",
            Code={"ZipFile": code},
            Timeout=30,
            Environment={"Variables": {"TABLE": table}},
        )
        arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        integration = gw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"{arn}/invocations",
        )["IntegrationId"]
        key = {"connect": "$connect", "disconnect": "$disconnect", "default": "$default"}.get(
            handler, handler
        )
        route = gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")[
            "RouteId"
        ]
        if handler == "echo" or handler == "tell":
            gw.create_route_response(ApiId=api_id, RouteId=route, RouteResponseKey="$default")
    gw.create_stage(ApiId=api_id, StageName="production")
    return WebSocketApi(server, api_id, table)


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(make_settings(Path(tmp_path_factory.mktemp("ws"))))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chat(ws_server: RunningServer) -> WebSocketApi:
    return make_websocket_api(ws_server)


def receive_json(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=60))


def connection_id_of(ws: ClientConnection) -> str:
    ws.send(json.dumps({"action": "echo"}))
    return str(receive_json(ws)["requestContext"]["connectionId"])


def test_a_message_reaches_its_route_and_a_two_way_route_answers(chat: WebSocketApi) -> None:
    with chat.connect(user_agent_header="chat-test/1") as ws:
        ws.send(json.dumps({"action": "echo", "text": "hi"}))
        event = receive_json(ws)
    context = event["requestContext"]
    assert event["body"] == json.dumps({"action": "echo", "text": "hi"})
    assert event["isBase64Encoded"] is False
    assert context["routeKey"] == "echo"
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    assert context["apiId"] == chat.api_id
    assert context["stage"] == "production"
    assert context["domainName"].startswith(f"{chat.api_id}.execute-api.localhost")
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "chat-test/1"}
    assert context["messageId"] and context["requestId"]
    assert isinstance(context["connectedAt"], int)
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert context["requestTime"].endswith("+0000")


def test_other_messages_go_to_default_which_calls_back(chat: WebSocketApi) -> None:
    with chat.connect() as ws:
        for message in ("not json", json.dumps({"action": "nothing-of-that-name"}), "[1]"):
            ws.send(message)
            assert receive_json(ws) == {"said": message, "sourceIp": "127.0.0.1"}


def test_a_route_without_a_route_response_sends_nothing_back(chat: WebSocketApi) -> None:
    with chat.connect() as ws:
        ws.send(json.dumps({"action": "fail"}))  # a failed function: API Gateway's message
        error = receive_json(ws)
        assert error["message"] == "Internal server error"
        assert error["connectionId"] and error["requestId"]


def test_connect_can_refuse_or_pick_a_subprotocol(chat: WebSocketApi) -> None:
    with pytest.raises(InvalidStatus) as refused:
        chat.connect("deny=1")
    assert refused.value.response.status_code == 401
    assert refused.value.response.body == b"not you"
    with pytest.raises(InvalidStatus) as failed:
        chat.connect("fail=1")
    assert failed.value.response.status_code == 500
    with chat.connect(subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v2"


def test_an_unknown_api_or_stage_refuses_the_upgrade(chat: WebSocketApi) -> None:
    for url in (chat.url(stage="nope"), chat.url().replace(chat.api_id, "noapi12345")):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=30)
        assert refused.value.response.status_code == 403


def test_connections_api_gets_posts_and_deletes(chat: WebSocketApi) -> None:
    api = chat.management()
    with chat.connect(user_agent_header="watcher/2") as ws:
        connection_id = connection_id_of(ws)
        info = api.get_connection(ConnectionId=connection_id)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "watcher/2"}
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        api.post_to_connection(ConnectionId=connection_id, Data=b"from the backend")
        assert ws.recv(timeout=30) == "from the backend"
        api.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert chat.disconnected(connection_id)["code"] == {"N": "1000"}
    with pytest.raises(api.exceptions.GoneException) as gone:
        api.post_to_connection(ConnectionId=connection_id, Data=b"too late")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId="bm90LWEtY29ubmVjdGlvbg==")


def test_a_function_tells_another_connection(chat: WebSocketApi) -> None:
    with chat.connect() as alice, chat.connect() as bob:
        bob_id = connection_id_of(bob)
        alice.send(json.dumps({"action": "tell", "to": bob_id, "text": "hello bob"}))
        assert bob.recv(timeout=60) == "hello bob"
        assert alice.recv(timeout=60) == "sent"
    alice_gone = json.dumps({"action": "tell", "to": bob_id, "text": "?"})
    with chat.connect() as carol:
        carol.send(alice_gone)
        assert carol.recv(timeout=60) == "gone"


def test_disconnect_runs_when_the_client_closes(chat: WebSocketApi) -> None:
    with chat.connect() as ws:
        connection_id = connection_id_of(ws)
        ws.close(code=4000, reason="bye")
    item = chat.disconnected(connection_id)
    assert item["code"] == {"N": "4000"}
    assert item["eventType"] == {"S": "DISCONNECT"}


def test_binary_frames_close_the_connection_with_1003(chat: WebSocketApi) -> None:
    with chat.connect() as ws:
        connection_id = connection_id_of(ws)
        ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert chat.disconnected(connection_id)["code"] == {"N": "1003"}


def test_api_gateways_size_limits_close_with_1009(chat: WebSocketApi) -> None:
    with chat.connect(max_size=None) as ws:  # one frame over 32 KB
        ws.send("x" * (32 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with chat.connect() as ws:  # a message of 32 KB frames, over 128 KB in all
        ws.send(["y" * (32 * 1024)] * 5)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with chat.connect() as ws:  # 128 KB in 32 KB frames is taken (and routed)
        prefix, suffix = '{"action": "fail", "pad": "', '"}'
        text = prefix + "z" * (128 * 1024 - len(prefix) - len(suffix)) + suffix
        ws.send([text[at : at + 32 * 1024] for at in range(0, len(text), 32 * 1024)])
        assert receive_json(ws)["message"] == "Internal server error"


def test_bad_connections_requests_answer_api_gateways_errors(chat: WebSocketApi) -> None:
    api = chat.management()
    with pytest.raises(api.exceptions.PayloadTooLargeException):
        api.post_to_connection(ConnectionId="abc", Data=b"x" * (128 * 1024 + 1))
    forged = client("apigatewaymanagementapi", chat.management().meta.endpoint_url)
    forged._request_signer._credentials.secret_key = "wrong"  # noqa: SLF001
    with pytest.raises(forged.exceptions.ForbiddenException):
        forged.post_to_connection(ConnectionId="abc", Data=b"x")


def test_idle_connections_close_and_disconnect(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server(websocket_idle_timeout=1.0)
    api = make_websocket_api(server)
    with api.connect() as ws:
        connection_id = connection_id_of(ws)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert api.disconnected(connection_id)["code"] == {"N": "1001"}


def test_a_stopping_server_closes_every_connection_and_disconnects_each(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    server = RunningServer(settings)
    server.start()
    api = make_websocket_api(server)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(api.connect()) for _ in range(3)]
        ids = [connection_id_of(ws) for ws in sockets]
        server.stop()
        for ws in sockets:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    again = RunningServer(settings.model_copy(update={"port": make_settings(tmp_path).port}))
    again.start()
    try:
        api.server = again
        for connection_id in ids:
            assert api.disconnected(connection_id, timeout=5)["eventType"] == {"S": "DISCONNECT"}
    finally:
        again.stop()


def test_a_stop_waits_for_the_disconnect_of_a_client_that_just_left(tmp_path: Path) -> None:
    """A client closes, and the server stops while its ``$disconnect`` still runs (a
    cold start calling back into the edge): the edge keeps listening until it is done."""
    settings = make_settings(tmp_path)
    server = RunningServer(settings)
    server.start()
    api = make_websocket_api(server)
    with api.connect() as ws:
        connection_id = connection_id_of(ws)
    server.stop()
    again = RunningServer(settings.model_copy(update={"port": make_settings(tmp_path).port}))
    again.start()
    try:
        api.server = again
        assert api.disconnected(connection_id, timeout=5)["code"] == {"N": "1000"}
    finally:
        again.stop()


def test_two_nodes_on_one_postgres_reach_each_others_connections(tmp_path: Path) -> None:
    """A connection held by one node is sent to, asked after and closed through the
    other (which forwards the requests to it)."""
    with store_settings("postgres") as overrides:
        first = RunningServer(make_settings(tmp_path / "a", **overrides))
        first.start()
        # (the functions first: a node reads the functions of others when it starts)
        api = make_websocket_api(first)
        second = RunningServer(make_settings(tmp_path / "b", **overrides))
        second.start()
        try:
            elsewhere = client(
                "apigatewaymanagementapi",
                f"{second.endpoint}/_aws/execute-api/{api.api_id}/production",
            )
            with api.connect() as ws:
                connection_id = connection_id_of(ws)
                elsewhere.post_to_connection(ConnectionId=connection_id, Data=b"via b")
                assert ws.recv(timeout=30) == "via b"
                info = elsewhere.get_connection(ConnectionId=connection_id)
                assert info["Identity"]["SourceIp"] == "127.0.0.1"
                elsewhere.delete_connection(ConnectionId=connection_id)
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=30)
            assert api.disconnected(connection_id)["code"] == {"N": "1000"}
            with pytest.raises(elsewhere.exceptions.GoneException):
                elsewhere.post_to_connection(ConnectionId=connection_id, Data=b"gone")
        finally:
            second.stop()
            first.stop()


def test_a_crashed_nodes_connections_are_swept_and_disconnected(store: Any) -> None:
    """Rows of a node that stopped beating are taken out by another node, once."""
    from gureum.gateway.connection_store import Connection, ConnectionStore

    crashed = ConnectionStore(store, "node-crashed", "http://127.0.0.1:1")
    alive = ConnectionStore(store, "node-alive", "http://127.0.0.1:2")
    third = ConnectionStore(store, "node-third", "http://127.0.0.1:3")

    async def scenario() -> tuple[Any, Any, Any, Any]:
        await crashed.heartbeat()
        await alive.heartbeat()
        await crashed.add(Connection("c1", "api", "prod", "node-crashed", 1, "127.0.0.1", None))
        await alive.add(Connection("c2", "api", "prod", "node-alive", 1, "127.0.0.1", None))
        found = await alive.find("c1")
        none_yet = await alive.sweep()
        assert await third.live_nodes() == {"node-crashed", "node-alive"}
        # the crashed node's heartbeat is long past
        await store.run(_age_node, store, "node-crashed")
        assert await third.live_nodes() == {"node-alive"}
        return found, none_yet, await alive.sweep(), await third.sweep()

    found, none_yet, swept, again = asyncio.run(scenario())
    assert found is not None and found[1] == "http://127.0.0.1:1"
    assert none_yet == []
    assert [c.connection_id for c in swept] == ["c1"]
    assert again == []
    assert asyncio.run(alive.find("c1")) is None
    assert asyncio.run(third.find("c2")) is not None


def _age_node(store: Any, node_id: str) -> None:
    import sqlalchemy as sa

    from gureum.store.tables import edge_nodes

    with store.engine.begin() as connection:
        connection.execute(
            sa.update(edge_nodes).where(edge_nodes.c.node_id == node_id).values(heartbeat_ms=0)
        )


def test_clients_connect_over_tls_too(chat: WebSocketApi) -> None:
    """``wss://`` on the HTTPS edge, verified with gureum's CA (as a browser that trusts
    it, or ``wscat --ca``)."""
    import ssl

    platform = chat.server.platform
    context = ssl.create_default_context(
        cafile=str(chat.server.settings.data_dir / "tls" / "ca.pem")
    )
    url = f"wss://127.0.0.1:{platform.tls_port}/_aws/execute-api/{chat.api_id}/production"
    with connect(url, ssl=context, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "echo"}))
        event = receive_json(ws)
    assert event["requestContext"]["domainName"] == platform.api_domain(chat.api_id)


def test_a_clients_address_is_its_connections(chat: WebSocketApi) -> None:
    """A local client's X-Forwarded-For does not become its sourceIp (the edge is the
    first hop), though $connect still sees the header as sent."""
    with chat.connect(additional_headers={"X-Forwarded-For": "203.0.113.9"}) as ws:
        ws.send(json.dumps({"action": "echo"}))
        event = receive_json(ws)
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
