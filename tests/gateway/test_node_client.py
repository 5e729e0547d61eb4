"""Forwarding ``@connections`` to the node that holds the connection: the keep-alive
client (:mod:`gureum.gateway.node_client`) against a scripted node on loopback, and
what :class:`ConnectionsAPI` answers for each of the node's answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from gureum.gateway.connection_store import Connection
from gureum.gateway.connections_api import FORWARDED, ConnectionsAPI
from gureum.gateway.node_client import NodeClient


@dataclass
class Received:
    head: bytes
    body: bytes

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        lines = self.head.split(b"\r\n")[1:]
        return [(n.strip().lower(), v.strip()) for n, _, v in (x.partition(b":") for x in lines)]

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n")[0]


#: What the scripted node does with the n-th request on a connection: the bytes of its
#: reply, or None to close the connection without one.
Script = Callable[[Received, int], bytes | None]


@dataclass
class Node:
    port: int
    received: list[Received] = field(default_factory=list)
    connections: int = 0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def reply(status: int, body: bytes = b"", *headers: bytes) -> bytes:
    head = b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n" % (status, len(body))
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


@asynccontextmanager
async def scripted_node(script: Script) -> AsyncIterator[Node]:
    node = Node(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        node.connections += 1
        try:
            for n in range(1000):
                head = await reader.readuntil(b"\r\n\r\n")
                request = Received(head[:-4], b"")
                length = dict(request.headers).get(b"content-length", b"0")
                request = Received(request.head, await reader.readexactly(int(length)))
                node.received.append(request)
                answer = script(request, n)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    node.port = server.sockets[0].getsockname()[1]
    try:
        yield node
    finally:
        server.close()


def test_requests_to_a_node_share_a_kept_alive_connection() -> None:
    async def scenario() -> tuple[Node, list[Any]]:
        async with scripted_node(lambda r, n: reply(200, r.body)) as node:
            client = NodeClient()
            answers = [
                await client.request(node.address, "POST", b"/a?b=c", [(b"x-one", b"1")], b"hi"),
                await client.request(node.address, "GET", b"/b", [(b"host", b"h.example")], b""),
            ]
            await client.close()
            return node, answers

    node, (posted, got) = asyncio.run(scenario())
    assert node.connections == 1
    assert (posted.status, posted.body, got.status, got.body) == (200, b"hi", 200, b"")
    first, second = node.received
    assert first.request_line == b"POST /a?b=c HTTP/1.1"
    assert dict(first.headers) == {
        b"host": f"127.0.0.1:{node.port}".encode(),
        b"x-one": b"1",
        b"content-length": b"2",
    }
    assert second.request_line == b"GET /b HTTP/1.1"
    assert dict(second.headers) == {b"host": b"h.example"}  # (no body: no length)


def test_a_connection_the_node_closes_is_not_used_again() -> None:
    async def scenario() -> Node:
        closing = reply(200, b"ok", b"connection: close")
        async with scripted_node(lambda r, n: closing) as node:
            client = NodeClient()
            for _ in range(2):
                assert (await client.request(node.address, "GET", b"/", [], b"")).body == b"ok"
            await client.close()
            return node

    assert asyncio.run(scenario()).connections == 2


def test_a_request_the_node_closed_a_kept_connection_on_goes_again_on_a_new_one() -> None:
    """The node closes a connection as the next request comes on it (its keep-alive ran
    out): that request is sent again, once, on a new connection."""

    async def scenario() -> tuple[Node, bytes]:
        async with scripted_node(lambda r, n: reply(200, r.body) if n == 0 else None) as node:
            client = NodeClient()
            await client.request(node.address, "POST", b"/", [], b"one")
            second = await client.request(node.address, "POST", b"/", [], b"two")
            await client.close()
            return node, second.body

    node, answer = asyncio.run(scenario())
    assert answer == b"two"
    assert node.connections == 2
    assert [r.body for r in node.received] == [b"one", b"two", b"two"]


def test_no_node_or_no_answer_is_an_oserror() -> None:
    async def scenario() -> list[type[BaseException]]:
        failures: list[type[BaseException]] = []
        async with scripted_node(lambda r, n: None) as node:
            port = node.port
            for address in (node.address, "ftp://127.0.0.1:1", "http://127.0.0.1:x"):
                with pytest.raises(OSError) as failed:
                    await NodeClient().request(address, "GET", b"/", [], b"")
                failures.append(failed.type)
        with pytest.raises(OSError) as refused:  # (the node is gone: nothing listens)
            await NodeClient().request(f"http://127.0.0.1:{port}", "GET", b"/", [], b"")
        failures.append(refused.type)
        async with scripted_node(lambda r, n: b"HTTP/1.1 200 OK\r\n") as node:  # (half)
            with pytest.raises(TimeoutError):
                await NodeClient(timeout=0.2).request(node.address, "GET", b"/", [], b"")
        async with scripted_node(lambda r, n: b"nonsense\r\n\r\n") as node:
            with pytest.raises(ConnectionError):
                await NodeClient().request(node.address, "GET", b"/", [], b"")
        return failures

    closed, scheme, port, refused = asyncio.run(scenario())
    assert issubclass(closed, ConnectionError)
    assert issubclass(scheme, ConnectionError) and issubclass(port, ConnectionError)
    assert issubclass(refused, ConnectionRefusedError)


# what ConnectionsAPI answers for the holding node's answers


class _Connections:
    node_id = "node-here"

    def __init__(self, address: str) -> None:
        self.address = address
        self.alive = {"node-here", "node-there"}
        self.finds = 0
        self.asked = 0

    async def find(self, connection_id: str) -> tuple[Connection, str] | None:
        self.finds += 1
        if "node-there" not in self.alive:
            return None
        held = Connection(connection_id, "api1", "prod", "node-there", 1, "127.0.0.1", None)
        return held, self.address

    async def live_nodes(self) -> set[str]:
        self.asked += 1
        return set(self.alive)


class _WebSockets:
    def __init__(self, address: str) -> None:
        self.live: dict[str, Any] = {}
        self.connections = _Connections(address)


async def _ask(api: ConnectionsAPI, method: str, body: bytes) -> tuple[int, dict[bytes, bytes]]:
    path = "/_aws/execute-api/api1/prod/@connections/Y29ubg%3D%3D"
    scope = {
        "type": "http",
        "method": method,
        "path": path.replace("%3D", "="),
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:9070"),
            (b"authorization", b"AWS4-HMAC-SHA256 as-signed"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"keep-alive"),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await api.serve(scope, receive, send, "api1", "prod", "Y29ubg==")
    start, content = sent
    return start["status"], {b"body": content["body"], **dict(start["headers"])}


def test_a_request_for_another_nodes_connection_is_forwarded_as_it_came() -> None:
    answers = iter(
        [
            reply(200),
            reply(200, b'{"connectedAt":"x"}', b"content-type: application/json"),
            reply(204),
            reply(410, b'{"message":""}', b"x-amzn-ErrorType: GoneException"),
            reply(403, b'{"message":"Forbidden"}', b"x-amzn-ErrorType: ForbiddenException"),
            reply(500, b"Internal Server Error"),
        ]
    )

    async def scenario() -> tuple[Node, list[tuple[int, dict[bytes, bytes]]]]:
        async with scripted_node(lambda r, n: next(answers)) as node:
            api = ConnectionsAPI(_WebSockets(node.address), secrets=None, region="us-east-1")  # type: ignore[arg-type]
            results = [
                await _ask(api, "POST", b"hello"),
                await _ask(api, "GET", b""),
                await _ask(api, "DELETE", b""),
                await _ask(api, "POST", b"gone"),
                await _ask(api, "POST", b"refused"),
                await _ask(api, "POST", b"broken"),
            ]
            await api.close()
        api = ConnectionsAPI(_WebSockets(node.address), secrets=None, region="us-east-1")  # type: ignore[arg-type]
        results.append(await _ask(api, "POST", b"nobody"))  # (the node is gone)
        return node, results

    node, results = asyncio.run(scenario())
    statuses = [status for status, _ in results]
    assert statuses == [200, 200, 204, 410, 403, 403, 410]
    assert results[1][1][b"body"] == b'{"connectedAt":"x"}'
    assert results[1][1][b"content-type"] == b"application/json"
    assert [orjson.loads(r[b"body"])["message"] for _, r in results[3:]] == [
        "",
        "Forbidden",
        "",
        "",
    ]
    assert results[4][1][b"x-amzn-errortype"] == b"ForbiddenException"
    assert node.connections == 1  # (one kept-alive connection for all six)
    posted = node.received[0]
    assert (
        posted.request_line
        == b"POST /_aws/execute-api/api1/prod/@connections/Y29ubg%3D%3D HTTP/1.1"
    )
    assert posted.body == b"hello"
    assert dict(posted.headers) == {
        b"host": b"127.0.0.1:9070",
        b"authorization": b"AWS4-HMAC-SHA256 as-signed",
        FORWARDED: b"1",
        b"content-length": b"5",
    }
    assert node.received[1].body == b"" and b"content-length" not in dict(node.received[1].headers)


def test_a_forwarded_request_is_not_forwarded_again() -> None:
    """The node that got a forwarded request for a connection it does not hold says Gone
    (the connection went in the meantime) rather than forward it on."""

    async def scenario() -> Node:
        async with scripted_node(lambda r, n: reply(200)) as node:
            api = ConnectionsAPI(_WebSockets(node.address), secrets=None, region="us-east-1")  # type: ignore[arg-type]
            path = b"/_aws/execute-api/api1/prod/@connections/abc"
            scope = {
                "type": "http",
                "method": "POST",
                "path": path.decode(),
                "raw_path": path,
                "query_string": b"",
                "headers": [(b"host", b"127.0.0.1:9070"), (FORWARDED, b"1")],
            }
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"x", "more_body": False}

            async def send(message: MutableMapping[str, Any]) -> None:
                sent.append(dict(message))

            await api.serve(scope, receive, send, "api1", "prod", "abc")
            assert sent[0]["status"] == 410
            await api.close()
            return node

    assert asyncio.run(scenario()).received == []


def test_where_another_nodes_connection_is_is_remembered_while_its_node_lives() -> None:
    """The store is asked where a connection is once, and which nodes are alive once per
    ``nodes_seconds``; the place is forgotten when the node says Gone, is no longer
    alive, or cannot be reached."""
    now = [0.0]
    gone = reply(410, b"{}", b"x-amzn-errortype: GoneException")
    answers = iter([reply(200)] * 4 + [gone] + [reply(200)] * 2)

    async def scenario() -> list[tuple[int, int, int]]:
        async with scripted_node(lambda r, n: next(answers)) as node:
            websockets = _WebSockets(node.address)
            store = websockets.connections
            api = ConnectionsAPI(
                websockets,  # type: ignore[arg-type]
                secrets=None,
                region="us-east-1",
                nodes_seconds=5.0,
                clock=lambda: now[0],
            )
            seen = []

            async def post(advance: float = 0.0) -> None:
                now[0] += advance
                status, _ = await _ask(api, "POST", b"x")
                seen.append((status, store.finds, store.asked))

            for advance in (0.0, 0.0, 4.9, 0.2, 0.0, 0.0):
                await post(advance)
            store.alive.discard("node-there")  # (it stopped beating)
            await post(5.0)
            store.alive.add("node-there")
            await post()
            await api.close()
        await post()  # (the node is gone: unreachable)
        await post()
        return seen

    assert asyncio.run(scenario()) == [
        (200, 1, 0),  # (the store says where, and that its node beats)
        (200, 1, 1),  # (which nodes are alive: asked once)
        (200, 1, 1),
        (200, 1, 2),  # (5 s on: asked again)
        (410, 1, 2),  # (the node says Gone...)
        (200, 2, 2),  # (...so the store is asked again)
        (410, 3, 3),  # (no longer alive: the store asked, which says Gone)
        (200, 4, 3),
        (410, 4, 3),  # (where it was: unreachable)
        (410, 5, 3),  # (so the store asked)
    ]
