"""``gureum server --processes N``: several server processes behind one port, each a
node on the one SQLite store, working as one server (with real processes, clients and
signals)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from websockets.asyncio.client import connect

from gureum.gateway.siblings import socket_path
from tests.conftest import (
    client,
    free_port,
    server_command,
    store_settings,
    unique_name,
    zip_files,
)

ROLE = "arn:aws:iam::000000000000:role/test"

SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "slept"
"""

WHOAMI = """
def handler(event, context):
    return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}
"""


def start(port: int, data_dir: Path, *flags: str) -> subprocess.Popen[bytes]:
    """The server, its output (every process's) in ``data_dir``'s ``server.log``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("wb")
    return subprocess.Popen(
        server_command(port, data_dir, "--log-level", "info", *flags),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def create(lam: Any, name: str, code: str, **config: Any) -> str:
    """A Python function of ``code`` (its ``app.handler``); its ARN."""
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": code})},
        **config,
    )
    return str(created["FunctionArn"])


def nodes(store: Path | str, fresh_ms: int = 5000) -> dict[str, str]:
    """node id -> the address it advertises, for nodes with a recent heartbeat (in the
    data directory's SQLite, or at a database URL)."""
    url = store if isinstance(store, str) else f"sqlite:///{store / 'gureum.db'}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT node_id, address, heartbeat_ms FROM edge_nodes")
            ).all()
    finally:
        engine.dispose()
    now = time.time() * 1000
    return {node: address for node, address, beat in rows if now - beat < fresh_ms}


def node_of(endpoint: str) -> tuple[str, int]:
    """(node id, pid) of the node that answers ``/metrics`` at ``endpoint``."""
    import http.client
    import re

    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    found = re.search(r'gureum_node_info\{node_id="([^"]+)",pid="(\d+)"\}', text)
    assert found is not None, text[:500]
    return found.group(1), int(found.group(2))


def wait_for_nodes(
    port: int, count: int, process: Any = None, timeout: float = 90
) -> set[tuple[str, int]]:
    """The nodes answering on the shared port, once ``count`` different ones have (the
    server's log in the failure, if ``process`` ends or the time runs out)."""
    seen: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        ended = process is not None and process.poll() is not None
        if ended or time.monotonic() > deadline:
            log = Path(process.args[process.args.index("--data-dir") + 1], "server.log")
            pytest.fail(f"only {seen} answered; the server's log:\n{log.read_text()[-3000:]}")
        try:
            seen.add(node_of(f"http://127.0.0.1:{port}"))
        except OSError:
            time.sleep(0.1)
    return seen


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Any]]:
    data_dir = tmp_path_factory.mktemp("processes")
    port = free_port()
    process = start(port, data_dir, "--processes", "2")
    try:
        wait_for_nodes(port, 2, process)
        yield port, data_dir, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def test_two_processes_answer_on_one_port(supervised: tuple[int, Path, Any]) -> None:
    port, data_dir, process = supervised
    answering = wait_for_nodes(port, 2, process)
    assert {pid for _, pid in answering} <= children(process.pid)
    # each advertises an address of its own, where only it answers
    advertised = nodes(data_dir)
    assert {node for node, _ in answering} <= set(advertised)
    assert len(set(advertised.values())) == len(advertised)
    for node, address in advertised.items():
        if node in {n for n, _ in answering}:
            assert node_of(address)[0] == node
    # and a Unix socket, where its siblings hand it their @connections requests
    sockets = set((data_dir / "nodes").glob("*.sock"))
    assert {socket_path(data_dir / "nodes", node) for node, _ in answering} <= sockets


def test_what_one_process_writes_the_other_reads(supervised: tuple[int, Path, Any]) -> None:
    port, data_dir, _ = supervised
    first, second = list(nodes(data_dir).values())[:2]
    one_writes_the_other_reads(first, second)


def test_processes_on_postgresql(tmp_path: Path) -> None:
    with store_settings("postgres") as overrides:
        url = overrides["database_url"]
        port = free_port()
        process = start(port, tmp_path, "--processes", "2", "--database-url", url)
        try:
            wait_for_nodes(port, 2, process)
            first, second = list(nodes(url).values())[:2]
            one_writes_the_other_reads(first, second)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0


def test_a_store_it_cannot_open_fails_at_once(tmp_path: Path) -> None:
    process = start(
        free_port(),
        tmp_path,
        "--processes",
        "2",
        "--database-url",
        "postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing",
    )
    try:
        assert process.wait(60) == 1
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "server.log").read_text()
    assert "cannot open the store at postgresql+psycopg://nobody:***@127.0.0.1:1/nothing" in log
    assert "secret" not in log


def one_writes_the_other_reads(first: str, second: str) -> None:
    """Items written through either node read through the other; a function created
    through one invoked through the other."""
    table = unique_name("table")
    one, other = client("dynamodb", first), client("dynamodb", second)
    one.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(20):
        (one if i % 2 else other).put_item(
            TableName=table, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}}
        )
    for i in range(20):
        item = (other if i % 2 else one).get_item(TableName=table, Key={"pk": {"S": f"k{i}"}})
        assert item["Item"]["n"] == {"N": str(i)}

    # a function created through one is invoked through the other
    name = unique_name()
    create(client("lambda", first), name, "def handler(e, c):\n    return {'got': e}\n")
    answer = client("lambda", second).invoke(FunctionName=name, Payload=b'{"x": 1}')
    assert json.loads(answer["Payload"].read()) == {"got": {"x": 1}}


def test_a_message_for_another_process_s_client_is_forwarded(
    supervised: tuple[int, Path, Any],
) -> None:
    """A client holds its socket on one process; postToConnection through the other
    reaches it (that process forwards the request to the one the store names)."""
    port, data_dir, _ = supervised
    first, second = list(nodes(data_dir).values())[:2]
    lam, gw = client("lambda", first), client("apigatewayv2", first)
    arn = create(lam, unique_name("whoami"), WHOAMI)
    api = gw.create_api(
        Name="procs", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    integration = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn)
    route = gw.create_route(
        ApiId=api, RouteKey="whoami", Target=f"integrations/{integration['IntegrationId']}"
    )
    gw.create_route_response(ApiId=api, RouteId=route["RouteId"], RouteResponseKey="$default")
    gw.create_stage(ApiId=api, StageName="test")

    async def scenario() -> None:
        host = first.removeprefix("http://")
        async with connect(f"ws://{host}/_aws/execute-api/{api}/test") as ws:
            await ws.send('{"action": "whoami"}')
            connection_id = await asyncio.wait_for(ws.recv(), 60)
            backend = client("apigatewaymanagementapi", f"{second}/_aws/execute-api/{api}/test")
            for i in range(3):
                await asyncio.to_thread(
                    backend.post_to_connection, ConnectionId=connection_id, Data=f"m{i}".encode()
                )
                assert await asyncio.wait_for(ws.recv(), 30) == f"m{i}"
            described = await asyncio.to_thread(backend.get_connection, ConnectionId=connection_id)
            assert described["Identity"]["SourceIp"] == "127.0.0.1"

    asyncio.run(scenario())


def test_a_reservation_holds_across_the_processes(supervised: tuple[int, Path, Any]) -> None:
    """Reserved to 1, a function runs one invocation at a time on the two processes
    together (each counting alone would allow one on each)."""
    port, data_dir, _ = supervised
    first, second = list(nodes(data_dir).values())[:2]
    name = unique_name("reserved")
    one, other = client("lambda", first), client("lambda", second)
    create(one, name, SLEEPER, Timeout=10)
    one.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    time.sleep(0.5)  # (the other process takes in the reservation)

    async def scenario() -> None:
        slow = asyncio.create_task(
            asyncio.to_thread(one.invoke, FunctionName=name, Payload=b'{"sleep": 3}')
        )
        await asyncio.sleep(1.5)
        with pytest.raises(other.exceptions.TooManyRequestsException) as refused:
            await asyncio.to_thread(other.invoke, FunctionName=name, Payload=b"{}")
        assert (
            refused.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
        assert json.loads((await slow)["Payload"].read()) == "slept"
        # once it has ended, the other process runs it
        answer = await asyncio.to_thread(other.invoke, FunctionName=name, Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == "slept"

    asyncio.run(scenario())


def test_a_process_that_dies_is_replaced(supervised: tuple[int, Path, Any]) -> None:
    port, _, process = supervised
    before = children(process.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        now = children(process.pid)
        if victim not in now and len(now) == len(before):
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    answering = wait_for_nodes(port, 2, process)
    assert victim not in {pid for _, pid in answering}


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    port = free_port()
    process = start(port, tmp_path, "--processes", "2")
    try:
        wait_for_nodes(port, 2, process)
        started = children(process.pid)
        assert len(started) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "server.log").read_text()
    assert "ready: 2 processes behind the edge" in log
    assert log.count("gureum: stopped") == 2, log
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)
    # and they left no certificate or socket of their own behind
    assert not list((tmp_path / "tls").glob("server-*"))
    assert not list((tmp_path / "nodes").glob("*.sock"))


def test_a_port_taken_by_another_program_fails_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(port, tmp_path, "--processes", "2")
        try:
            assert process.wait(60) == 1
        finally:
            if process.poll() is None:
                process.kill()
    log = (tmp_path / "server.log").read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "Address already in use" in log
