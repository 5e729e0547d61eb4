"""Reserved concurrency shared by the nodes on one store (both engines)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.counting_store import SharedReservations
from gureum.store import Store
from gureum.store.tables import concurrency_counts, edge_nodes


def beat(store: Store, node: str, ms: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(edge_nodes.delete().where(edge_nodes.c.node_id == node))
        connection.execute(
            edge_nodes.insert().values(node_id=node, address="http://x", heartbeat_ms=ms)
        )


def test_nodes_share_a_reservation(store: Store) -> None:
    async def scenario() -> None:
        one, other = SharedReservations(store, "node-a"), SharedReservations(store, "node-b")
        beat(store, "node-a", now_ms())
        beat(store, "node-b", now_ms())
        assert await one.take("f", 1)
        assert not await other.take("f", 1)
        assert not await one.take("f", 1)
        assert await other.take("g", 1)  # (each function its own)
        await one.give("f")
        assert await other.take("f", 1)
        assert await one.take("f", 2)
        assert not await one.take("f", 2)

        # a node gone silent: its places no longer count, and a sweep takes them away
        beat(store, "node-b", now_ms() - 60_000)
        assert await one.take("f", 2)
        await one.sweep()
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(concurrency_counts.c.node_id)).scalars().all()
        assert set(rows) == {"node-a"}

        # many at once from both: never more than the reservation
        beat(store, "node-b", now_ms())
        for node in (one, other):
            for function in ("f", "g"):
                while (await store.run(running, store, function, node.node_id)) > 0:
                    await node.give(function)
        taken = await asyncio.gather(
            *(node.take("h", 5) for node in (one, other) for _ in range(10))
        )
        assert sum(taken) == 5

    asyncio.run(scenario())


def running(store: Store, function: str, node: str) -> int:
    c = concurrency_counts.c
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(c.running).where(c.function == function, c.node_id == node)
        ).scalar()
    return int(found or 0)
