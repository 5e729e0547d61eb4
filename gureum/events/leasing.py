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
    #: (a shard's) the position before which records were handed to the function
    delivered: int | None = None
    #: (a shard's) records handed to the function again after a takeover or a restart
    duplicates: int = 0
    #: (a shard's) the age of the last record done when it was done
    iterator_age_ms: int | None = None
    #: (a shard's) an open tumbling window, JSON: its start and state
    window: str | None = None

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
        row.delivered,
        row.duplicates,
        row.iterator_age_ms,
        row.window,
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

    async def checkpoint(
        self,
        key: str,
        checkpoint: str,
        *,
        iterator_age_ms: int | None = None,
        window: str | None = None,
    ) -> bool:
        """Record where the reader of a lease got to (with the age of the last record
        done, and the open tumbling window, in the same write); False if the lease is
        not ours now (another owner's checkpoint is never overwritten)."""
        values: dict[str, object] = {"checkpoint": checkpoint, "window": window}
        if iterator_age_ms is not None:
            values["iterator_age_ms"] = iterator_age_ms
        return await self.store.run(self._update, key, values)

    async def delivering(self, key: str, before: int, duplicates: int = 0) -> bool:
        """Say that records before position ``before`` are being handed to the function
        (and that ``duplicates`` of them were handed to it before), ahead of the
        invocation, so that a reader taking the lease over knows which records it hands
        on again; False if the lease is not ours now."""
        c = leases.c
        values: dict[str, object] = {
            "delivered": sa.case((c.delivered > before, c.delivered), else_=before)
        }
        if duplicates:
            values["duplicates"] = c.duplicates + duplicates
        return await self.store.run(self._update, key, values)

    def _update(self, key: str, values: dict[str, object]) -> bool:
        c = leases.c
        with self.store.engine.begin() as connection:
            done = connection.execute(
                leases.update()
                .where(c.lease_key == key, c.owner == self.owner, c.expires_ms >= now_ms())
                .values(values)
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

    async def forget(self, source: str, keys: Iterable[str] | None = None) -> None:
        """Drop every lease of a source (its mapping is deleted), or only ``keys`` of it
        (a shard's readers of an earlier ParallelizationFactor)."""
        await self.store.run(self._forget, source, None if keys is None else list(keys))

    def _forget(self, source: str, keys: list[str] | None) -> None:
        query = leases.delete().where(leases.c.source == source)
        if keys is not None:
            query = query.where(leases.c.lease_key.in_(keys))
        with self.store.engine.begin() as connection:
            connection.execute(query)

    async def leases(self, source: str | None = None) -> list[Lease]:
        """Every lease (of ``source``), in key order."""
        return await self.store.run(self._leases, source)

    def _leases(self, source: str | None) -> list[Lease]:
        query = sa.select(leases).order_by(leases.c.lease_key)
        if source is not None:
            query = query.where(leases.c.source == source)
        with self.store.engine.connect() as connection:
            return [_lease(row) for row in connection.execute(query).all()]
