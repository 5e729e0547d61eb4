"""WebSocket connections in the store: which node holds each client's socket.

A socket lives in the process that accepted it; everything else about a connection is
in the store, so that any node can answer ``@connections`` for it: the node that holds
it sends on the socket, any other forwards the request there (the node's address is in
``edge_nodes``). Each node says it is alive every ``HEARTBEAT_SECONDS``; a node silent
for ``NODE_GONE_SECONDS`` is gone (it crashed: a clean stop closes its sockets and
removes its rows), and its connections are gone with it: any node that notices takes
them out of the store and runs their ``$disconnect`` (:meth:`ConnectionStore.sweep`).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.store import Store
from gureum.store.tables import edge_nodes, websocket_connections

HEARTBEAT_SECONDS = 5.0
NODE_GONE_SECONDS = 30.0


def gone_before() -> int:
    """The heartbeat (epoch ms) before which a node is gone: NODE_GONE_SECONDS ago."""
    return now_ms() - int(NODE_GONE_SECONDS * 1000)


def live_node_ids(gone: int | None = None) -> sa.Select[Any]:
    """The ids of the nodes alive: their heartbeat at ``gone`` (:func:`gone_before`, by
    default) or after."""
    since = gone_before() if gone is None else gone
    return sa.select(edge_nodes.c.node_id).where(edge_nodes.c.heartbeat_ms >= since)


def new_connection_id() -> str:
    """An id in API Gateway's shape (``R1kmxc2VNjMCFIA=``: eleven random bytes, base64),
    from the URL-safe alphabet, as it goes in ``@connections`` paths."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    api_id: str
    stage: str
    node_id: str
    connected_ms: int
    source_ip: str
    user_agent: str | None


def _connection(row: sa.Row) -> Connection:  # type: ignore[type-arg]
    return Connection(
        row.connection_id,
        row.api_id,
        row.stage,
        row.node_id,
        row.connected_ms,
        row.source_ip,
        row.user_agent,
    )


class ConnectionStore:
    """This node's connections and heartbeat on a store; methods are coroutines."""

    def __init__(self, store: Store, node_id: str, address: str) -> None:
        self.store = store
        self.node_id = node_id
        #: where this node's edge answers (other nodes forward ``@connections`` here)
        self.address = address

    async def heartbeat(self) -> None:
        """Say this node is alive (the first call registers it)."""
        await self.store.run(self._heartbeat)

    def _heartbeat(self) -> None:
        now = now_ms()
        with self.store.engine.begin() as connection:
            updated = connection.execute(
                edge_nodes.update()
                .where(edge_nodes.c.node_id == self.node_id)
                .values(heartbeat_ms=now, address=self.address)
            ).rowcount
            if not updated:
                connection.execute(
                    edge_nodes.insert().values(
                        node_id=self.node_id, address=self.address, heartbeat_ms=now
                    )
                )

    async def leave(self) -> None:
        """This node stops: its row goes (with any connection it still has)."""
        await self.store.run(self._leave)

    def _leave(self) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                websocket_connections.delete().where(
                    websocket_connections.c.node_id == self.node_id
                )
            )
            connection.execute(edge_nodes.delete().where(edge_nodes.c.node_id == self.node_id))

    async def add(self, item: Connection) -> None:
        await self.store.run(self._add, item)

    def _add(self, item: Connection) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                websocket_connections.insert().values(
                    connection_id=item.connection_id,
                    api_id=item.api_id,
                    stage=item.stage,
                    node_id=item.node_id,
                    connected_ms=item.connected_ms,
                    source_ip=item.source_ip,
                    user_agent=item.user_agent,
                )
            )

    async def remove(self, connection_id: str) -> bool:
        """Take a connection out (False: it was not there)."""
        return await self.store.run(self._remove, connection_id)

    def _remove(self, connection_id: str) -> bool:
        with self.store.engine.begin() as connection:
            deleted = connection.execute(
                websocket_connections.delete().where(
                    websocket_connections.c.connection_id == connection_id
                )
            ).rowcount
        return bool(deleted)

    async def find(self, connection_id: str) -> tuple[Connection, str] | None:
        """A connection and the address of the node holding it, while that node is alive
        (None: no such connection, or it went with its node)."""
        return await self.store.run(self._find, connection_id)

    def _find(self, connection_id: str) -> tuple[Connection, str] | None:
        c = websocket_connections.c
        alive = gone_before()
        query = (
            sa.select(websocket_connections, edge_nodes.c.address)
            .join(edge_nodes, edge_nodes.c.node_id == c.node_id)
            .where(c.connection_id == connection_id, edge_nodes.c.heartbeat_ms >= alive)
        )
        with self.store.engine.connect() as connection:
            row = connection.execute(query).first()
        return (_connection(row), row.address) if row is not None else None

    async def live_nodes(self) -> set[str]:
        """The nodes alive now (their heartbeat within ``NODE_GONE_SECONDS``)."""
        return await self.store.run(self._live_nodes)

    def _live_nodes(self) -> set[str]:
        with self.store.engine.connect() as connection:
            return set(connection.execute(live_node_ids()).scalars())

    async def sweep(self) -> list[Connection]:
        """The connections of gone nodes, taken out of the store (each by one node: the
        one whose delete took it), with the gone nodes' rows."""
        return await self.store.run(self._sweep)

    def _sweep(self) -> list[Connection]:
        c = websocket_connections.c
        gone = gone_before()
        live_nodes = live_node_ids(gone)
        taken: list[Connection] = []
        with self.store.engine.begin() as connection:
            rows = connection.execute(
                sa.select(websocket_connections).where(
                    c.node_id != self.node_id, c.node_id.not_in(live_nodes)
                )
            ).all()
            for row in rows:
                deleted = connection.execute(
                    websocket_connections.delete().where(c.connection_id == row.connection_id)
                ).rowcount
                if deleted:
                    taken.append(_connection(row))
            connection.execute(edge_nodes.delete().where(edge_nodes.c.heartbeat_ms < gone))
        return taken
