"""Reserved concurrency shared by the nodes on one store.

The Counting Service (``counting.py``) counts in memory, and one node's count is exact.
Several nodes (``--processes``, or nodes on one PostgreSQL) would each allow a
function's whole reservation: reserved to 1, it would run one invocation per node. So
where other nodes may share the store, an invocation of a function with reserved
concurrency also takes a place in the store: each node keeps its own count of the
function's running invocations in a row of ``concurrency_counts``, and a place is
taken, under a lock on the function, only while the counts of the live nodes (their
``edge_nodes`` heartbeat within ``NODE_GONE_SECONDS``; this node's own always) add up
to less than the reservation. A crashed node's places count until its heartbeat is
that old. Functions without a reservation, and the account's limit, are still counted
by each node alone.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa

from gureum.gateway.connection_store import live_node_ids
from gureum.store import Store
from gureum.store.tables import concurrency_counts

c = concurrency_counts.c


class SharedReservations:
    """The store's side of reserved concurrency for one node."""

    def __init__(self, store: Store, node_id: str) -> None:
        self.store = store
        self.node_id = node_id

    async def take(self, function: str, reserved: int) -> bool:
        """A place for one more invocation of ``function`` (False: the live nodes run
        ``reserved`` already)."""
        return await self.store.run(self._take, function, reserved)

    async def give(self, function: str) -> None:
        """The place of an invocation that has ended."""
        await self.store.run(self._give, function)

    async def sweep(self) -> None:
        """The rows of nodes that are gone (at start: a crashed node's stay behind)."""
        await self.store.run(self._sweep)

    def _take(self, function: str, reserved: int) -> bool:
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:  # nodes taking places of one function take turns
                key = zlib.crc32(f"gureum.concurrency:{function}".encode())
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
            running = connection.execute(
                sa.select(sa.func.coalesce(sa.func.sum(c.running), 0)).where(
                    c.function == function,
                    sa.or_(c.node_id == self.node_id, c.node_id.in_(live_node_ids())),
                )
            ).scalar_one()
            if running >= reserved:
                return False
            connection.execute(
                self.store.insert(concurrency_counts)
                .values(function=function, node_id=self.node_id, running=1)
                .on_conflict_do_update(
                    index_elements=["function", "node_id"], set_={"running": c.running + 1}
                )
            )
        return True

    def _give(self, function: str) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                concurrency_counts.update()
                .where(c.function == function, c.node_id == self.node_id, c.running > 0)
                .values(running=c.running - 1)
            )

    def _sweep(self) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                concurrency_counts.delete().where(
                    c.node_id != self.node_id, c.node_id.not_in(live_node_ids())
                )
            )
