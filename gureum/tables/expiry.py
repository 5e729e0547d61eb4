"""Time to live: expired items deleted in the background, and old stream records trimmed.

Every node sweeps, every ``table_expiry_interval`` seconds; nothing but the items'
``expires`` column (set on every write, and for the stored items when TTL is turned on)
says what to delete, so nodes need no lease to share the work. Each deletion is a normal
write (:class:`~gureum.tables.table_store.Mutation`) whose function looks again at the
stored item inside the write transaction: an item rewritten since (with a later expiry,
or none) is kept, and an item another node deleted first is not deleted again, so each
expiry writes one REMOVE stream record, whose ``userIdentity`` names DynamoDB's service.

As on DynamoDB, an expiry more than five years in the past is taken for a mistake (a
timestamp in another unit) and never deletes its item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from gureum.errors import ServiceError
from gureum.store.tables import ddb_items, ddb_tables
from gureum.tables.schema import TableSchema
from gureum.tables.streams import Streams
from gureum.tables.table_store import KEEP, TTL_IDENTITY, Mutation, Tables, expires_at
from gureum.tables.values import Item

logger = logging.getLogger(__name__)

#: Expiries older than this are ignored (DynamoDB: five years).
IGNORED_AFTER_S = 5 * 365 * 24 * 60 * 60
#: Items deleted per table in one batch of writes; a sweep goes on while batches are full.
BATCH = 500
#: ...for at most this many batches per table and sweep, so that one table cannot hold
#: up the others' sweep (or the trimming of streams) for long.
BATCHES = 20


class TableExpiry:
    """The sweeper: ``start()`` runs it on the event loop until ``stop()``."""

    def __init__(
        self,
        tables: Tables,
        streams: Streams,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tables = tables
        self.streams = streams
        self.interval = interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-table-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweeping expired items and stream records failed")

    async def sweep(self) -> int:
        """One sweep: delete what has expired, trim the streams; how many items went."""
        now = self.clock()
        deleted = 0
        for schema in await asyncio.to_thread(self._ttl_tables):
            for _ in range(BATCHES):
                found = await asyncio.to_thread(self._expired, schema, int(now))
                deleted += await self._delete(schema, found, int(now))
                if len(found) < BATCH:
                    break
        await self.streams.trim(int(now * 1000))
        return deleted

    def _ttl_tables(self) -> list[TableSchema]:
        t = ddb_tables.c
        query = sa.select(t.name, t.table_id, t.spec, t.created_ms)
        with self.tables.store.engine.connect() as connection:
            schemas = [
                TableSchema(row.name, row.table_id, row.spec, row.created_ms)
                for row in connection.execute(query)
            ]
        return [schema for schema in schemas if schema.ttl_attribute is not None]

    def _expired(self, schema: TableSchema, now: int) -> list[Item]:
        c = ddb_items.c
        query = (
            sa.select(c.item)
            .where(
                c.table_id == schema.table_id,
                c.expires < now,
                c.expires >= now - IGNORED_AFTER_S,
                c.index_name == "",
            )
            .limit(BATCH)
        )
        with self.tables.store.engine.connect() as connection:
            return [orjson.loads(row.item) for row in connection.execute(query)]

    async def _delete(self, schema: TableSchema, items: list[Item], now: int) -> int:
        attribute = schema.ttl_attribute

        def compute(stored: Item | None) -> Any:
            expires = None if stored is None else expires_at(stored, attribute)
            if expires is None or not now - IGNORED_AFTER_S <= expires < now:
                return KEEP
            return None

        mutations = [
            Mutation(
                schema.name,
                {name: item[name] for name in schema.key.attributes},
                compute,
                identity=TTL_IDENTITY,
            )
            for item in items
        ]
        results = await asyncio.gather(
            *(self.tables.write(mutation) for mutation in mutations), return_exceptions=True
        )
        deleted = 0
        for result in results:
            if isinstance(result, ServiceError):
                continue  # the table was deleted meanwhile
            if isinstance(result, BaseException):
                raise result
            deleted += result.old is not None and result.new is None
        return deleted
