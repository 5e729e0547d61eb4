"""The Leasing Service: which poller reads which event source (and shard), in the store.

The seed: "the Leasing Service assigns pollers to event sources and shards, and assigns
a new one when a poller is marked unhealthy"; "a poller that sent no heartbeat is
detected and replaced". A lease is a row: its source (an event source mapping's UUID)
and shard, its owner (a node), when it expires and where its reader got to (its
checkpoint). An owner renews its leases with heartbeats; a lease not renewed expires,
and any node may take it, resuming from its checkpoint. Every change is one conditional
UPDATE (or an INSERT that loses to a concurrent one), so nodes on one PostgreSQL never
both hold a lease; on SQLite the same statements serve one process's pollers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.store import Store
from gureum.store.tables import leases

#: How often owners renew their leases, and how long a lease lasts without a renewal:
#: two heartbeat intervals, so that a silent owner's leases move within them. Owners
#: renew at twice that rate (a heartbeat of one slow tick loses nothing).
HEARTBEAT_SECONDS = 2.0
LEASE_SECONDS = 2 * HEARTBEAT_SECONDS


@dataclass(frozen=True, slots=True)
class Lease:
    key: str
    source: str
    shard: str | None
    owner: str | None
    expires_ms: int
    checkpoint: str | None
    taken_ms: int

    def held(self, at_ms: int | None = None) -> bool:
        """Whether someone holds it at ``at_ms`` (default: now): an owner, not expired."""
        return self.owner is not None and self.expires_ms >= (at_ms or now_ms())


def _lease(row: sa.Row) -> Lease:  # type: ignore[type-arg]
    return Lease(
        row.lease_key,
        row.source,
        row.shard,
        row.owner,
        row.expires_ms,
        row.checkpoint,
        row.taken_ms,
    )


def lease_key(source: str, shard: str | None = None) -> str:
    return source if shard is None else f"{source}/{shard}"


class LeasingService:
    """The leases of one owner (a node's pollers), on a store; methods are coroutines."""

    def __init__(self, store: Store, owner: str, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.owner = owner
        self.lease_ms = int(lease_seconds * 1000)

    async def take(self, source: str, shard: str | None = None) -> Lease | None:
        """The lease of ``source`` (and ``shard``) for this owner: made if there is none,
        taken over if it expired or nobody holds it, kept if it is ours (renewed); None
        while another owner holds it."""
        return await self.store.run(self._take, source, shard)

    def _take(self, source: str, shard: str | None) -> Lease | None:
        key = lease_key(source, shard)
        now = now_ms()
        c = leases.c
        with self.store.engine.begin() as connection:
            taken = connection.execute(
                leases.update()
                .where(
                    c.lease_key == key,
                    sa.or_(c.owner.is_(None), c.owner == self.owner, c.expires_ms < now),
                )
                .values(
                    owner=self.owner,
                    expires_ms=now + self.lease_ms,
                    taken_ms=sa.case((c.owner == self.owner, c.taken_ms), else_=now),
                )
            ).rowcount
            if not taken:
                exists = connection.execute(
                    sa.select(c.lease_key).where(c.lease_key == key)
                ).first()
                if exists is not None:
                    return None
                made = connection.execute(
                    self.store.insert(leases)
                    .values(
                        lease_key=key,
                        source=source,
                        shard=shard,
                        owner=self.owner,
                        expires_ms=now + self.lease_ms,
                        checkpoint=None,
                        taken_ms=now,
                    )
                    .on_conflict_do_nothing(index_elements=["lease_key"])
                ).rowcount
                if not made:  # another owner made it first
                    return None
            row = connection.execute(sa.select(leases).where(c.lease_key == key)).one()
        return _lease(row)

    async def renew(self, keys: Iterable[str]) -> set[str]:
        """Heartbeat: extend the leases among ``keys`` this owner still holds; those."""
        wanted = list(keys)
        if not wanted:
            return set()
        return await self.store.run(self._renew, wanted)

    def _renew(self, keys: list[str]) -> set[str]:
        now = now_ms()
        c = leases.c
        with self.store.engine.begin() as connection:
            connection.execute(
                leases.update()
                .where(c.lease_key.in_(keys), c.owner == self.owner, c.expires_ms >= now)
                .values(expires_ms=now + self.lease_ms)
            )
            rows = connection.execute(
                sa.select(c.lease_key).where(
                    c.lease_key.in_(keys), c.owner == self.owner, c.expires_ms >= now
                )
            ).all()
        return {row.lease_key for row in rows}

    async def checkpoint(self, key: str, checkpoint: str) -> bool:
        """Record where the reader of a lease got to; False if the lease is not ours now
        (another owner's checkpoint is never overwritten)."""
        return await self.store.run(self._checkpoint, key, checkpoint)

    def _checkpoint(self, key: str, checkpoint: str) -> bool:
        c = leases.c
        with self.store.engine.begin() as connection:
            done = connection.execute(
                leases.update()
                .where(c.lease_key == key, c.owner == self.owner, c.expires_ms >= now_ms())
                .values(checkpoint=checkpoint)
            ).rowcount
        return bool(done)

    async def release(self, keys: Iterable[str]) -> None:
        """Give leases up (a stopping node's, or a poller's that stops): free at once for
        another owner, their checkpoints kept."""
        wanted = list(keys)
        if wanted:
            await self.store.run(self._release, wanted)

    def _release(self, keys: list[str]) -> None:
        c = leases.c
        with self.store.engine.begin() as connection:
            connection.execute(
                leases.update()
                .where(c.lease_key.in_(keys), c.owner == self.owner)
                .values(owner=None, expires_ms=0)
            )

    async def forget(self, source: str) -> None:
        """Drop every lease of a source (its mapping is deleted)."""
        await self.store.run(self._forget, source)

    def _forget(self, source: str) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(leases.delete().where(leases.c.source == source))

    async def leases(self, source: str | None = None) -> list[Lease]:
        """Every lease (of ``source``), in key order."""
        return await self.store.run(self._leases, source)

    def _leases(self, source: str | None) -> list[Lease]:
        query = sa.select(leases).order_by(leases.c.lease_key)
        if source is not None:
            query = query.where(leases.c.source == source)
        with self.store.engine.connect() as connection:
            return [_lease(row) for row in connection.execute(query).all()]
