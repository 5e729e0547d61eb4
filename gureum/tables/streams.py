"""The tables' streams as DynamoDB Streams reads them: one shard per stream, its records
in sequence order, kept 24 hours (:mod:`gureum.tables.table_store` writes them).

A stream's one shard is open while its stream is on and closed when the stream is
turned off or its table deleted; its records stay readable until they are a day old,
and the stream itself is forgotten a day after it ended, as DynamoDB does.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.tables import ddb_stream_records, ddb_streams

#: Records (and ended streams) are kept this long.
RETENTION_MS = 24 * 60 * 60 * 1000
#: GetRecords answers at most this many bytes of records.
PAGE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Stream:
    """A stream's row, and the first sequence number it still holds."""

    arn: str
    table_name: str
    view_type: str
    created_ms: int
    ended_ms: int | None
    last_sequence: int
    key_schema: list[dict[str, str]]
    #: The oldest record kept (``last_sequence + 1`` when none is).
    first_sequence: int

    @property
    def label(self) -> str:
        return self.arn.rpartition("/stream/")[2]

    @property
    def shard_id(self) -> str:
        """The stream's one shard, named as DynamoDB names shards."""
        digest = hashlib.md5(self.arn.encode()).hexdigest()[:8]
        return f"shardId-{self.created_ms:020d}-{digest}"

    @property
    def ended(self) -> bool:
        return self.ended_ms is not None


class Streams:
    """Reads of the stored streams, and their trimming; coroutines for the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def names(
        self, table_name: str | None, after: str | None, limit: int
    ) -> tuple[list[tuple[str, str]], bool]:
        """(ARN, table name) of streams in ARN order after ``after``; whether more follow."""
        return await asyncio.to_thread(self._names, table_name, after, limit)

    def _names(
        self, table_name: str | None, after: str | None, limit: int
    ) -> tuple[list[tuple[str, str]], bool]:
        s = ddb_streams.c
        query = sa.select(s.arn, s.table_name).order_by(s.arn).limit(limit + 1)
        if table_name is not None:
            query = query.where(s.table_name == table_name)
        if after is not None:
            query = query.where(s.arn > after)
        with self.store.engine.connect() as connection:
            rows = [(row.arn, row.table_name) for row in connection.execute(query)]
        return rows[:limit], len(rows) > limit

    async def get(self, arn: str) -> Stream | None:
        return await asyncio.to_thread(self._get, arn)

    def _get(self, arn: str) -> Stream | None:
        s, r = ddb_streams.c, ddb_stream_records.c
        with self.store.engine.connect() as connection, connection.begin():
            row = connection.execute(sa.select(ddb_streams).where(s.arn == arn)).first()
            if row is None:
                return None
            first = connection.execute(
                sa.select(sa.func.min(r.sequence)).where(r.stream_arn == arn)
            ).scalar()
        return Stream(
            arn=row.arn,
            table_name=row.table_name,
            view_type=row.view_type,
            created_ms=row.created_ms,
            ended_ms=row.ended_ms,
            last_sequence=row.last_sequence,
            key_schema=row.key_schema,
            first_sequence=row.last_sequence + 1 if first is None else first,
        )

    async def records(self, arn: str, position: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` records (sequence number, record JSON) from ``position`` on,
        in order, and no more than a page of bytes (at least one)."""
        return await asyncio.to_thread(self._records, arn, position, limit)

    def _records(self, arn: str, position: int, limit: int) -> list[tuple[int, str]]:
        r = ddb_stream_records.c
        query = (
            sa.select(r.sequence, r.record)
            .where(r.stream_arn == arn, r.sequence >= position)
            .order_by(r.sequence)
            .limit(limit)
        )
        records: list[tuple[int, str]] = []
        size = 0
        with self.store.engine.connect() as connection:
            for row in connection.execute(query):
                size += len(row.record)
                if records and size > PAGE_BYTES:
                    break
                records.append((row.sequence, row.record))
        return records

    async def trim(self, now_ms: int) -> tuple[int, int]:
        """Forget records older than the retention and streams that ended longer ago:
        (records, streams) removed. Idempotent, so every node may run it."""
        return await self.store.run(self._trim, now_ms)

    def _trim(self, now_ms: int) -> tuple[int, int]:
        s, r = ddb_streams.c, ddb_stream_records.c
        horizon = now_ms - RETENTION_MS
        with self.store.engine.begin() as connection:
            records = connection.execute(
                ddb_stream_records.delete().where(r.created_ms < horizon)
            ).rowcount
            gone: Sequence[Any] = (
                connection.execute(sa.select(s.arn).where(s.ended_ms < horizon)).scalars().all()
            )
            if gone:
                records += connection.execute(
                    ddb_stream_records.delete().where(r.stream_arn.in_(gone))
                ).rowcount
                connection.execute(ddb_streams.delete().where(s.arn.in_(gone)))
        return records, len(gone)
