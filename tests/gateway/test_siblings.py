"""The Unix-socket link between nodes on one machine (``gateway/siblings.py``), with a
real socket and the real frames."""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path

from gureum.errors import GoneException
from gureum.gateway.siblings import Siblings, SiblingServer, socket_path


async def answer(
    method: str, api_id: str, stage: str, connection_id: str, body: bytes
) -> tuple[int, bytes]:
    if connection_id == "gone":
        raise GoneException("")
    await asyncio.sleep(0.001 * (len(body) % 3))  # (answers come back out of order)
    return 200, f"{method} {api_id}/{stage}/{connection_id} {len(body)}".encode() + body[:4]


def test_requests_and_answers_cross_the_socket(tmp_path: Path) -> None:
    async def scenario() -> None:
        directory = tmp_path / "nodes"
        server = SiblingServer(directory, "node-a", answer)
        await server.start()
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
        siblings = Siblings(directory)
        try:
            found = await siblings.request("node-a", "POST", "api", "prod", "c1", b"hello")
            assert found == (200, "", b"POST api/prod/c1 5hell")
            gone = await siblings.request("node-a", "GET", "api", "prod", "gone", b"")
            assert gone is not None and gone[:2] == (410, "GoneException")
            # many at once on the one link, each answer to its own request
            bodies = [b"x" * n for n in range(200)]
            answers = await asyncio.gather(
                *(
                    siblings.request("node-a", "POST", "api", "s", f"c{n}", b)
                    for n, b in enumerate(bodies)
                )
            )
            assert [a[2] if a else None for a in answers] == [
                f"POST api/s/c{n} {n}".encode() + b[:4] for n, b in enumerate(bodies)
            ]
            big = b"m" * 128 * 1024
            assert (await siblings.request("node-a", "POST", "a", "s", "c", big)) == (
                200,
                "",
                f"POST a/s/c {len(big)}".encode() + b"mmmm",
            )
            # a node with no socket here (another machine's) is not reached this way
            assert await siblings.request("node-b", "POST", "api", "s", "c", b"") is None
        finally:
            await server.close()
        assert not server.path.exists()
        # the node has stopped: the sender is told to go another way
        assert await siblings.request("node-a", "POST", "api", "s", "c", b"m") is None
        await siblings.close()

    asyncio.run(scenario())


def test_a_killed_node_s_socket_is_removed_by_the_next_one(tmp_path: Path) -> None:
    directory = tmp_path / "nodes"
    directory.mkdir()
    stale = socket_path(directory, "killed")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:
        left.bind(str(stale))  # bound and never served: as a killed process leaves it
    assert stale.exists()

    async def scenario() -> None:
        server = SiblingServer(directory, "next", answer)
        await server.start()
        await server.close()

    asyncio.run(scenario())
    assert not stale.exists()
