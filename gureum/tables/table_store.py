"""Tables on the store (SQLite or PostgreSQL): their specs, items, index entries, streams.

One implementation serves both engines. Every item is one row of ``ddb_items`` keyed
by its table, its shard (a hash of its partition key, so that a Scan's segments are
ranges of rows), its partition and sort key bytes (:func:`~gureum.tables.values.key_bytes`,
whose bytewise order is DynamoDB's) and, for an index's entry, the item's table key.
A Query reads one partition's rows in sort key order; a Scan reads rows in their key
order; neither ever sorts in Python.

Writes are read-modify-write: a :class:`Mutation` names an item by its key and gives a
function from the stored item (None: there is none) to the item to store (None: delete
it; :data:`KEEP`: leave it), which checks the request's conditions and raises the
request's error. Writes commit in groups, as the queues' do: concurrent requests queue
up while one transaction is being written and go together in the next, one after the
other inside it (each sees the ones before). A request is one mutation (PutItem,
UpdateItem, DeleteItem, each request of a BatchWriteItem) or a transaction
(TransactWriteItems: every condition is checked before anything is written, and
nothing is written if one fails). On PostgreSQL each item is locked for its
transaction (an advisory lock on its key), so nodes writing one item take turns.

A write that changes an item also writes its stream record in the same transaction,
numbered from its stream's row (whose lock makes the numbers follow commit order), and
a write that changes nothing writes neither.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import (
    IdempotentParameterMismatchException,
    ResourceInUseException,
    ResourceNotFoundException,
    ServiceError,
    TableError,
    TransactionCanceledException,
    ValidationException,
)
from gureum.ids import new_uuid
from gureum.store import Store
from gureum.store.recent import Recent
from gureum.store.store import call_in
from gureum.store.tables import (
    ddb_items,
    ddb_stream_records,
    ddb_streams,
    ddb_tables,
    ddb_transaction_tokens,
)
from gureum.tables.key_conditions import KeyRange
from gureum.tables.schema import Index, TableSchema, describe
from gureum.tables.values import Item, item_size

T = TypeVar("T")

#: What a mutation gives to leave the item as it is (a transaction's ConditionCheck).
KEEP: Any = object()
#: A Query or Scan page reads at most this many bytes of items (before any filter).
PAGE_BYTES = 1024 * 1024
#: ...and at most this many rows (the client goes on from LastEvaluatedKey).
PAGE_ROWS = 10_000
SHARDS = 1 << 16
#: How long the API checks requests against a table's schema as it read it.
SCHEMA_SECONDS = 1.0
#: Rows fetched from the database at a time while a page is read.
PAGE_FETCH = 64
#: ClientRequestTokens are remembered this long.
TOKEN_MS = 10 * 60 * 1000
NOT_FOUND = "Requested resource not found"
#: How a TTL deletion names who deleted (DynamoDB's service identity).
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def shard_of(partition: bytes) -> int:
    return zlib.crc32(partition) & (SHARDS - 1)


def entry_pk(partition: bytes, sort: bytes) -> bytes:
    """An index entry's reference to its item: the table key, unambiguously joined."""
    return len(partition).to_bytes(2, "big") + partition + sort


def _dumps(item: Item) -> str:
    return orjson.dumps(item).decode()


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


@dataclass(slots=True)
class Mutation:
    """A write of one item: ``compute(stored)`` gives what to store (see the module)."""

    table: str
    key: Item
    compute: Callable[[Item | None], Any]
    #: The record's userIdentity (TTL's deletions), if any.
    identity: dict[str, str] | None = None
    #: The table the request was checked against (a table of the same name created
    #: since is another table: the write answers that the table is not found).
    table_id: str | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """A mutation done: the item before and after (None: there was none, or is none)."""

    old: Item | None
    new: Item | None
    #: The item's size before and after, for write capacity.
    old_size: int = 0
    new_size: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """Rows a Query or Scan read, in order: (item, size) each; ``more``: the read stopped
    before the end (at its limit or the page's bytes)."""

    rows: list[tuple[Item, int]]
    more: bool


@dataclass(slots=True)
class _Request:
    kind: str  # "one" or "transaction"
    mutations: list[Mutation]
    future: asyncio.Future[Any]
    token: tuple[str, str] | None = None  # (ClientRequestToken, digest of the request)
    #: per mutation: the error raised, for a transaction's CancellationReasons
    reasons: list[ServiceError | None] = field(default_factory=list)


class Tables:
    """Tables on a store; methods are coroutines for the event loop."""

    def __init__(self, store: Store, *, region: str, account_id: str) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self._waiting: list[_Request] = []
        self._committing = False
        self._commits: set[asyncio.Task[None]] = set()
        # Reads go beside the writer (SQLite's WAL lets readers read while one writes).
        self._reads = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="gureum-tables")
        # The hot statements go straight to the driver (SQLAlchemy's statement building
        # and compilation cost more than SQLite spends running them).
        mark = "?" if store.dialect == "sqlite" else "%s"
        key = " AND ".join(
            f"{column} = {mark}"
            for column in ("table_id", "index_name", "shard", "hash", '"range"', "pk")
        )
        self._get_sql = f"SELECT item, size FROM ddb_items WHERE {key}"
        self._delete_sql = f"DELETE FROM ddb_items WHERE {key}"
        self._upsert_sql = (
            'INSERT INTO ddb_items (table_id, index_name, shard, hash, "range", pk, item, size, '
            f"expires) VALUES ({', '.join([mark] * 9)}) "
            'ON CONFLICT (table_id, index_name, shard, hash, "range", pk) DO UPDATE SET '
            "item = excluded.item, size = excluded.size, expires = excluded.expires"
        )
        spec = "spec" if store.dialect == "sqlite" else "spec::text"
        self._load_sql = f"SELECT table_id, {spec}, created_ms FROM ddb_tables WHERE name = {mark}"
        #: (name, table_id, spec text) -> the schema read from it, so that a table's spec is
        #: parsed once however often it is read
        self._parsed: dict[tuple[str, str, str], TableSchema] = {}
        #: name -> (schema, when it was read): what the API checks requests against, for up
        #: to SCHEMA_SECONDS (writes read the table's row again in their transaction)
        self._schemas: Recent[str, TableSchema] = Recent(SCHEMA_SECONDS)
        #: The connection writes use, on the store's thread (opened when first needed),
        #: and each reading thread's.
        self._writer: sa.Connection | None = None
        self._readers = threading.local()
        self._reader_connections: list[sa.Connection] = []
        #: SQLite's connection for reads on the event loop's thread (see _get_here)
        self._loop_reader: Any = None

    def close(self) -> None:
        self._reads.shutdown(wait=True)
        for connection in self._reader_connections:
            connection.close()
        self._reader_connections.clear()
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await call_in(self._reads, fn, *args)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """A read transaction on the reading thread's own connection (kept open, as the
        writer's is), ended when the read is: a snapshot held open would keep SQLite's
        WAL from being checkpointed and show later reads the past."""
        connection: sa.Connection | None = getattr(self._readers, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.store.engine.connect()
            self._readers.connection = connection
            self._reader_connections.append(connection)
        try:
            with connection.begin():
                yield connection
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                self._readers.connection = None
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction on the writer's own connection (kept open: checking one out
        of the pool and back in costs more than a small write). On SQLite it takes the
        write lock at once (BEGIN IMMEDIATE), so that a read and its write see no other
        writer between them."""
        connection = self._writer
        if connection is None or connection.closed or connection.invalidated:
            connection = self._writer = self.store.engine.connect()
        try:
            with connection.begin():
                if self.store.dialect == "sqlite":
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                yield connection
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                self._writer = None
            raise

    # tables

    def _load(
        self, connection: sa.Connection, name: str, *, lock: bool = False, share: bool = False
    ) -> TableSchema | None:
        """The table's schema; on PostgreSQL ``lock`` holds its row for a change of its
        spec, ``share`` against one (a write then sees the spec that a concurrent
        UpdateTable commits, and the items that it backfills stay filled)."""
        sql = self._load_sql
        if self.store.dialect != "sqlite":
            sql += " FOR UPDATE" if lock else " FOR KEY SHARE" if share else ""
        row = _execute(connection, sql, (name,)).fetchone()
        if row is None:
            return None
        table_id, text, created_ms = row
        cached = self._parsed.get((name, table_id, text))
        if cached is None:
            if len(self._parsed) > 1000:
                self._parsed.clear()
            cached = TableSchema(name, table_id, orjson.loads(text), created_ms)
            self._parsed[(name, table_id, text)] = cached
        return cached

    def _require(self, connection: sa.Connection, name: str, *, lock: bool = False) -> TableSchema:
        schema = self._load(connection, name, lock=lock)
        if schema is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return schema

    async def schema(self, name: str) -> TableSchema:
        """The table's schema (ResourceNotFoundException when there is no such table), as
        read at most SCHEMA_SECONDS ago: another node's change to a table reaches this one
        within that time, as DynamoDB's control plane is eventually consistent too."""
        return await self._schemas.read(name, lambda: self._read(self._schema, name))

    def _schema(self, name: str) -> TableSchema:
        with self._reading() as connection:
            return self._require(connection, name)

    def _describe(
        self,
        connection: sa.Connection,
        schema: TableSchema,
        status: str,
        index_status: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        c = ddb_items.c
        counts = {
            row.index_name: (row.n, int(row.size or 0))
            for row in connection.execute(
                sa.select(
                    c.index_name, sa.func.count().label("n"), sa.func.sum(c.size).label("size")
                )
                .where(c.table_id == schema.table_id)
                .group_by(c.index_name)
            )
        }
        return describe(
            schema.name,
            schema.table_id,
            schema.spec,
            created_ms=schema.created_ms,
            status=status,
            region=self.region,
            account_id=self.account_id,
            counts=counts,
            index_status=index_status,
        )

    async def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create a table from a checked spec; its description (status CREATING)."""
        self._schemas.forget(name)
        return await self.store.run(self._create, name, spec)

    def _create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        now = now_ms()
        table_id = new_uuid()
        spec = dict(spec)
        try:
            with self._writing() as connection:
                if self._load(connection, name) is not None:
                    raise ResourceInUseException(f"Table already exists: {name}")
                if spec.get("StreamSpecification", {}).get("StreamEnabled"):
                    self._start_stream(connection, name, table_id, spec, now)
                connection.execute(
                    ddb_tables.insert().values(
                        name=name, table_id=table_id, spec=spec, created_ms=now
                    )
                )
                schema = TableSchema(name, table_id, spec, now)
                status = {index: "CREATING" for index in schema.indexes}
                return self._describe(connection, schema, "CREATING", status)
        except sa.exc.IntegrityError:
            raise ResourceInUseException(f"Table already exists: {name}") from None

    def _start_stream(
        self, connection: sa.Connection, name: str, table_id: str, spec: dict[str, Any], now: int
    ) -> None:
        label = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        arn = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}/stream/{label}"
        connection.execute(
            ddb_streams.insert().values(
                arn=arn,
                table_name=name,
                table_id=table_id,
                view_type=spec["StreamSpecification"]["StreamViewType"],
                created_ms=now,
                ended_ms=None,
                last_sequence=0,
                key_schema=spec["KeySchema"],
            )
        )
        spec["LatestStreamArn"] = arn
        spec["LatestStreamLabel"] = label

    @staticmethod
    def _end_stream(connection: sa.Connection, spec: Mapping[str, Any], now: int) -> None:
        arn = spec.get("LatestStreamArn")
        if arn and spec.get("StreamSpecification", {}).get("StreamEnabled"):
            connection.execute(
                ddb_streams.update()
                .where(ddb_streams.c.arn == arn, ddb_streams.c.ended_ms.is_(None))
                .values(ended_ms=now)
            )

    async def describe(self, name: str) -> dict[str, Any]:
        return await self._read(self._describe_table, name)

    def _describe_table(self, name: str) -> dict[str, Any]:
        with self._reading() as connection:
            return self._describe(connection, self._require(connection, name), "ACTIVE")

    async def names(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Table names in order after ``after``; whether more follow."""
        return await self._read(self._names, after, limit)

    def _names(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        query = sa.select(ddb_tables.c.name).order_by(ddb_tables.c.name).limit(limit + 1)
        if after is not None:
            query = query.where(ddb_tables.c.name > after)
        with self._reading() as connection:
            names = list(connection.execute(query).scalars())
        return names[:limit], len(names) > limit

    async def delete(self, name: str) -> dict[str, Any]:
        """Delete a table and its items; its description as it was (status DELETING)."""
        try:
            return await self.store.run(self._delete, name)
        finally:
            self._schemas.forget(name)

    def _delete(self, name: str) -> dict[str, Any]:
        with self._writing() as connection:
            schema = self._require(connection, name, lock=True)
            if schema.spec.get("DeletionProtectionEnabled"):
                raise ValidationException(
                    "Resource cannot be deleted as it is currently protected against deletion. "
                    "Disable deletion protection first."
                )
            description = self._describe(connection, schema, "DELETING")
            self._end_stream(connection, schema.spec, now_ms())
            connection.execute(ddb_items.delete().where(ddb_items.c.table_id == schema.table_id))
            connection.execute(ddb_tables.delete().where(ddb_tables.c.name == name))
            return description

    async def update(
        self, name: str, change: Callable[[TableSchema], dict[str, Any]]
    ) -> dict[str, Any]:
        """Change a table's spec: ``change`` gives the new spec from the table (or raises).
        New global indexes are filled from the table's items, removed ones emptied, and a
        changed StreamSpecification ends the table's stream or starts a new one."""
        try:
            return await self.store.run(self._update, name, change)
        finally:
            self._schemas.forget(name)

    def _update(self, name: str, change: Callable[[TableSchema], dict[str, Any]]) -> dict[str, Any]:
        now = now_ms()
        with self._writing() as connection:
            schema = self._require(connection, name, lock=True)
            spec = change(schema)
            old_stream = schema.spec.get("StreamSpecification", {})
            new_stream = spec.get("StreamSpecification", {})
            if old_stream != new_stream:
                if old_stream.get("StreamEnabled"):
                    self._end_stream(connection, schema.spec, now)
                if new_stream.get("StreamEnabled"):
                    self._start_stream(connection, name, schema.table_id, spec, now)
            new = TableSchema(name, schema.table_id, spec, schema.created_ms)
            added = [i for i in new.indexes.values() if i.name not in schema.indexes]
            removed = [i for i in schema.indexes.values() if i.name not in new.indexes]
            for index in removed:
                connection.execute(
                    ddb_items.delete().where(
                        ddb_items.c.table_id == schema.table_id,
                        ddb_items.c.index_name == index.name,
                    )
                )
            if added:
                self._backfill(connection, new, added)
            if new.ttl_attribute != schema.ttl_attribute:
                self._backfill_expiry(connection, new)
            connection.execute(
                ddb_tables.update().where(ddb_tables.c.name == name).values(spec=spec)
            )
            status = {i.name: "CREATING" for i in added} | {i.name: "DELETING" for i in removed}
            if removed:
                # The description shows an index being deleted until the call returns.
                spec_shown = dict(spec)
                defined = {d["AttributeName"]: d for d in schema.spec["AttributeDefinitions"]}
                defined.update({d["AttributeName"]: d for d in spec["AttributeDefinitions"]})
                spec_shown["AttributeDefinitions"] = list(defined.values())
                spec_shown["GlobalSecondaryIndexes"] = [
                    *spec.get("GlobalSecondaryIndexes", []),
                    *(
                        gsi
                        for gsi in schema.spec.get("GlobalSecondaryIndexes", [])
                        if gsi["IndexName"] in {i.name for i in removed}
                    ),
                ]
                shown = TableSchema(name, schema.table_id, spec_shown, schema.created_ms)
                return self._describe(connection, shown, "UPDATING", status)
            return self._describe(connection, new, "UPDATING", status)

    def _backfill(
        self, connection: sa.Connection, schema: TableSchema, indexes: list[Index]
    ) -> None:
        c = ddb_items.c
        rows = connection.execute(
            sa.select(c.hash, c.range, c.item).where(
                c.table_id == schema.table_id, c.index_name == ""
            )
        ).all()
        entries = []
        for row in rows:
            item = orjson.loads(row.item)
            for index in indexes:
                entries.extend(self._entry(schema, index, item, row.hash, row.range))
        if entries:
            connection.exec_driver_sql(self._upsert_sql, entries)

    def _backfill_expiry(self, connection: sa.Connection, schema: TableSchema) -> None:
        """Set every item's ``expires`` from the TTL attribute now in force (None when TTL
        is off): writes set it as they go, but items stored before TTL was enabled (or
        under another attribute) would otherwise never expire."""
        c = ddb_items.c
        own_rows = (c.table_id == schema.table_id, c.index_name == "")
        connection.execute(ddb_items.update().where(*own_rows).values(expires=None))
        attribute = schema.ttl_attribute
        if attribute is None:
            return
        changes = []
        for row in connection.execute(sa.select(c.shard, c.hash, c.range, c.item).where(*own_rows)):
            expires = expires_at(orjson.loads(row.item), attribute)
            if expires is not None:
                changes.append({"s": row.shard, "h": row.hash, "r": row.range, "e": expires})
        if changes:
            connection.execute(
                ddb_items.update()
                .where(
                    *own_rows,
                    c.shard == sa.bindparam("s"),
                    c.hash == sa.bindparam("h"),
                    c.range == sa.bindparam("r"),
                    c.pk == b"",
                )
                .values(expires=sa.bindparam("e")),
                changes,
            )

    # items

    async def get(self, schema: TableSchema, key: Item) -> tuple[Item | None, int]:
        """The stored item under ``key`` (None: there is none) and its size."""
        if self.store.dialect == "sqlite":
            return self._get_here(schema, key)
        return await self._read(self._get, schema, key)

    def _get(self, schema: TableSchema, key: Item) -> tuple[Item | None, int]:
        with self._reading() as connection:
            return _item_and_size(self._get_item(connection, schema, *schema.key_bytes(key)))

    def _get_here(self, schema: TableSchema, key: Item) -> tuple[Item | None, int]:
        """:meth:`_get` on SQLite, on the calling (the event loop's) thread: one indexed
        statement on a connection of the loop's own, outside any transaction, so that the
        statement is its own read snapshot of the WAL and never waits for a writer. It
        takes some 10 µs; handing it to a reading thread cost the loop several times that
        (the hand-over, and the GIL taken back and forth under load), and halved GetItem's
        throughput with 64 clients."""
        connection = self._loop_reader
        if connection is None:
            connection = self._loop_reader = self.store.engine.raw_connection()
        cursor = connection.cursor()
        try:
            cursor.execute(self._get_sql, _item_key(schema, *schema.key_bytes(key)))
            row = cursor.fetchone()
        except Exception:
            self._loop_reader = None
            connection.invalidate()
            raise
        finally:
            cursor.close()
        return _item_and_size(row)

    def _get_item(
        self, connection: sa.Connection, schema: TableSchema, partition: bytes, sort: bytes
    ) -> Any:
        return _execute(connection, self._get_sql, _item_key(schema, partition, sort)).fetchone()

    async def get_many(
        self, keys: Sequence[tuple[str, Item]]
    ) -> list[tuple[Item | None, int] | ServiceError]:
        """Several items in one read transaction (BatchGetItem, TransactGetItems): for each
        (table, key) the item and its size, or the error (a table that is not there)."""
        return await self._read(self._get_many, keys)

    def _get_many(
        self, keys: Sequence[tuple[str, Item]]
    ) -> list[tuple[Item | None, int] | ServiceError]:
        results: list[tuple[Item | None, int] | ServiceError] = []
        schemas: dict[str, TableSchema | None] = {}
        with self._reading() as connection:
            for name, key in keys:
                if name not in schemas:
                    schemas[name] = self._load(connection, name)
                schema = schemas[name]
                if schema is None:
                    results.append(ResourceNotFoundException(NOT_FOUND))
                    continue
                row = self._get_item(connection, schema, *schema.key_bytes(key))
                results.append((None, 0) if row is None else (orjson.loads(row[0]), row[1]))
        return results

    async def query(
        self,
        schema: TableSchema,
        index: Index | None,
        partition: bytes,
        sort: KeyRange | None,
        *,
        forward: bool = True,
        start: tuple[bytes, bytes] | None = None,
        limit: int | None = None,
    ) -> Page:
        """One page of a partition's rows in sort key order (``start``: the (sort key,
        pk) the page goes on after)."""
        return await self._read(self._query, schema, index, partition, sort, forward, start, limit)

    def _query(
        self,
        schema: TableSchema,
        index: Index | None,
        partition: bytes,
        sort: KeyRange | None,
        forward: bool,
        start: tuple[bytes, bytes] | None,
        limit: int | None,
    ) -> Page:
        c = ddb_items.c
        query = sa.select(c.item, c.size).where(
            c.table_id == schema.table_id,
            c.index_name == (index.name if index else ""),
            c.shard == shard_of(partition),
            c.hash == partition,
        )
        if sort is not None:
            if sort.low is not None:
                query = query.where(
                    c.range >= sort.low if sort.low_inclusive else c.range > sort.low
                )
            if sort.high is not None:
                query = query.where(
                    c.range <= sort.high if sort.high_inclusive else c.range < sort.high
                )
        if start is not None:
            after = sa.tuple_(c.range, c.pk)
            query = query.where(after > sa.tuple_(*start) if forward else after < sa.tuple_(*start))
        order = (c.range, c.pk) if forward else (c.range.desc(), c.pk.desc())
        return self._page(query.order_by(*order), limit)

    async def scan(
        self,
        schema: TableSchema,
        index: Index | None,
        *,
        segment: tuple[int, int] | None = None,
        start: tuple[int, bytes, bytes, bytes] | None = None,
        limit: int | None = None,
    ) -> Page:
        """One page of a table's (or an index's) rows (``segment``: (Segment,
        TotalSegments); ``start``: the (shard, partition, sort, pk) to go on after)."""
        return await self._read(self._scan, schema, index, segment, start, limit)

    def _scan(
        self,
        schema: TableSchema,
        index: Index | None,
        segment: tuple[int, int] | None,
        start: tuple[int, bytes, bytes, bytes] | None,
        limit: int | None,
    ) -> Page:
        c = ddb_items.c
        query = sa.select(c.item, c.size).where(
            c.table_id == schema.table_id, c.index_name == (index.name if index else "")
        )
        if segment is not None:
            number, total = segment
            query = query.where(
                c.shard >= number * SHARDS // total, c.shard < (number + 1) * SHARDS // total
            )
        if start is not None:
            query = query.where(sa.tuple_(c.shard, c.hash, c.range, c.pk) > sa.tuple_(*start))
        return self._page(query.order_by(c.shard, c.hash, c.range, c.pk), limit)

    def _page(self, query: sa.Select[Any], limit: int | None) -> Page:
        rows_wanted = min(limit or PAGE_ROWS, PAGE_ROWS)
        rows: list[tuple[Item, int]] = []
        read = 0
        with self._reading() as connection:
            result = connection.execute(query.limit(rows_wanted + 1))
            # Fetched a few rows at a time: one by one cost more than decoding them, and
            # all at once could hold far more than the page's megabyte.
            for chunk in result.partitions(PAGE_FETCH):
                for item, size in chunk:
                    if len(rows) == rows_wanted or read >= PAGE_BYTES:
                        return Page(rows, True)
                    rows.append((orjson.loads(item), size))
                    read += size
        return Page(rows, False)

    @staticmethod
    def scan_position(
        schema: TableSchema, index: Index | None, key: Item
    ) -> tuple[int, bytes, bytes, bytes]:
        """Where a Scan goes on after the item whose key (ExclusiveStartKey) is ``key``."""
        partition, sort = schema.key_bytes(key)
        if index is None:
            return shard_of(partition), partition, sort, b""
        entry = index.entry_key(key)
        if entry is None:
            raise ValidationException("The provided starting key is invalid")
        return shard_of(entry[0]), entry[0], entry[1], entry_pk(partition, sort)

    @staticmethod
    def query_position(schema: TableSchema, index: Index | None, key: Item) -> tuple[bytes, bytes]:
        """Where a Query goes on after the item whose key is ``key``: (sort key, pk)."""
        partition, sort = schema.key_bytes(key)
        if index is None:
            return sort, b""
        entry = index.entry_key(key)
        if entry is None:
            raise ValidationException("The provided starting key is invalid")
        return entry[1], entry_pk(partition, sort)

    # writes

    async def write(self, mutation: Mutation) -> Written:
        """One item's mutation, committed when this returns (or its error raised)."""
        result: list[Written] = await self._submit("one", [mutation])
        return result[0]

    async def transact(
        self, mutations: list[Mutation], token: tuple[str, str] | None = None
    ) -> list[Written]:
        """Mutations all done or none (TransactionCanceledException with a reason for
        each); ``token``: (ClientRequestToken, the request's digest)."""
        written: list[Written] = await self._submit("transaction", mutations, token)
        return written

    async def _submit(
        self, kind: str, mutations: list[Mutation], token: tuple[str, str] | None = None
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Request(kind, mutations, future, token))
        self._start_commit()
        return await future

    def _start_commit(self) -> None:
        if self._committing or not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        self._committing = True
        task = asyncio.create_task(self._flush(batch), name="gureum-table-writes")
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _flush(self, batch: list[_Request]) -> None:
        try:
            try:
                results = await self.store.run(self._apply, batch)
            except sa.exc.DBAPIError:
                if len(batch) == 1:
                    raise
                # A deadlock or conflict with another node's commit: each on its own.
                results = [None] * len(batch)
                for position, request in enumerate(batch):
                    try:
                        results[position] = (await self.store.run(self._apply, [request]))[0]
                    except Exception as exc:  # noqa: BLE001 - given to its request
                        results[position] = exc
        except Exception as exc:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        finally:
            self._committing = False
            self._start_commit()
        for request, result in zip(batch, results, strict=True):
            if request.future.done():
                continue
            if isinstance(result, BaseException):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)

    def _apply(self, batch: list[_Request]) -> list[Any]:
        now = now_ms()
        results: list[Any] = []
        schemas: dict[str, TableSchema | None] = {}
        records: dict[str, list[dict[str, Any]]] = {}
        with self._writing() as connection:
            for request in batch:
                try:
                    if request.token is not None and self._seen_token(
                        connection, request.token, now
                    ):
                        results.append([Written(None, None) for _ in request.mutations])
                        continue
                    prepared = [
                        self._prepare(connection, schemas, mutation, request)
                        for mutation in request.mutations
                    ]
                    if any(reason is not None for reason in request.reasons):
                        raise _cancelled(request.reasons)
                    written = [self._store(connection, *step, records, now) for step in prepared]
                    results.append(written)
                except ServiceError as exc:
                    results.append(exc)
            for arn, stream_records in records.items():
                self._append_records(connection, arn, stream_records, now)
        return results

    def _seen_token(self, connection: sa.Connection, token: tuple[str, str], now: int) -> bool:
        """Whether the transaction under this token was done already (and raise when the
        token was used for another request); remembers it otherwise."""
        t = ddb_transaction_tokens.c
        connection.execute(ddb_transaction_tokens.delete().where(t.created_ms < now - TOKEN_MS))
        row = connection.execute(sa.select(t.digest).where(t.token == token[0])).first()
        if row is not None:
            if row.digest != token[1]:
                raise IdempotentParameterMismatchException(
                    "Transaction with the same client token and different parameters "
                    "has already been performed"
                )
            return True
        connection.execute(
            ddb_transaction_tokens.insert().values(token=token[0], digest=token[1], created_ms=now)
        )
        return False

    def _prepare(
        self,
        connection: sa.Connection,
        schemas: dict[str, TableSchema | None],
        mutation: Mutation,
        request: _Request,
    ) -> tuple[TableSchema, Mutation, bytes, bytes, Item | None, int, Any]:
        if mutation.table not in schemas:
            # Locked against UpdateTable's change of the spec, as SQLite's writer is by
            # its one write transaction at a time: a write that read the spec before an
            # index, a stream or TTL came on would miss the backfill it commits.
            schemas[mutation.table] = self._load(connection, mutation.table, share=True)
        schema = schemas[mutation.table]
        if schema is None or mutation.table_id not in (None, schema.table_id):
            raise ResourceNotFoundException(NOT_FOUND)
        partition, sort = schema.key_bytes(mutation.key)
        if self.store.dialect == "postgresql":
            connection.execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(
                        _signed(zlib.crc32(schema.table_id.encode())),
                        _signed(zlib.crc32(entry_pk(partition, sort))),
                    )
                )
            )
        row = self._get_item(connection, schema, partition, sort)
        old = orjson.loads(row[0]) if row is not None else None
        old_size = row[1] if row is not None else 0
        try:
            new = mutation.compute(old)
        except ServiceError as exc:
            if request.kind != "transaction":
                raise
            request.reasons.append(exc)
            new = KEEP
        else:
            if request.kind == "transaction":
                request.reasons.append(None)
        return schema, mutation, partition, sort, old, old_size, new

    def _entry(
        self, schema: TableSchema, index: Index, item: Item, partition: bytes, sort: bytes
    ) -> list[tuple[Any, ...]]:
        """The index entry row of ``item`` (none: the item is not in the index), as the
        upsert's parameters (the first six are its key)."""
        entry = index.entry_key(item)
        if entry is None:
            return []
        # A local index reads the table's items (Select ALL_ATTRIBUTES fetches from the
        # table on DynamoDB): its entries keep the whole item, and count what they project.
        projected = index.project(item, schema.key)
        stored = projected if index.is_global else item
        return [
            (
                schema.table_id,
                index.name,
                shard_of(entry[0]),
                entry[0],
                entry[1],
                entry_pk(partition, sort),
                _dumps(stored),
                item_size(projected),
                None,
            )
        ]

    def _store(
        self,
        connection: sa.Connection,
        schema: TableSchema,
        mutation: Mutation,
        partition: bytes,
        sort: bytes,
        old: Item | None,
        old_size: int,
        new: Any,
        records: dict[str, list[dict[str, Any]]],
        now: int,
    ) -> Written:
        if new is KEEP or (new is None and old is None) or new == old:
            return Written(old, old, old_size, old_size)
        new_size = 0
        own = _item_key(schema, partition, sort)
        if new is None:
            _execute(connection, self._delete_sql, own)
        else:
            new_size = item_size(new)
            _execute(
                connection,
                self._upsert_sql,
                (*own, _dumps(new), new_size, expires_at(new, schema.ttl_attribute)),
            )
        for index in schema.indexes.values():
            if old is not None:
                for entry in self._entry(schema, index, old, partition, sort):
                    _execute(connection, self._delete_sql, entry[:6])
            if new is not None:
                for entry in self._entry(schema, index, new, partition, sort):
                    _execute(connection, self._upsert_sql, entry)
        if schema.stream_arn is not None and schema.stream_view_type is not None:
            records.setdefault(schema.stream_arn, []).append(
                self._record(schema, mutation, old, new, now)
            )
        return Written(old, new, old_size, new_size)

    def _record(
        self, schema: TableSchema, mutation: Mutation, old: Item | None, new: Item | None, now: int
    ) -> dict[str, Any]:
        view = schema.stream_view_type
        keys = {name: mutation.key[name] for name in schema.key.attributes}
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": now // 1000,
            "Keys": keys,
        }
        if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["NewImage"] = new
        if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["OldImage"] = old
        body["SizeBytes"] = (
            item_size(keys)
            + item_size(body.get("NewImage", {}))
            + item_size(body.get("OldImage", {}))
        )
        body["StreamViewType"] = view
        record: dict[str, Any] = {
            "eventID": hashlib.md5(new_uuid().encode()).hexdigest(),
            "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": body,
        }
        if mutation.identity is not None:
            record["userIdentity"] = mutation.identity
        return record

    def _append_records(
        self, connection: sa.Connection, arn: str, records: list[dict[str, Any]], now: int
    ) -> None:
        s = ddb_streams.c
        # An ended stream's shard is closed: a write that read the table's spec before
        # its stream was turned off (another node's UpdateTable) adds nothing to it.
        last = connection.execute(
            ddb_streams.update()
            .where(s.arn == arn, s.ended_ms.is_(None))
            .values(last_sequence=s.last_sequence + len(records))
            .returning(s.last_sequence)
        ).scalar_one_or_none()
        if last is None:
            return
        first = last - len(records) + 1
        rows = []
        for number, record in enumerate(records, first):
            record["dynamodb"]["SequenceNumber"] = sequence_number(number)
            rows.append(
                {
                    "stream_arn": arn,
                    "sequence": number,
                    "created_ms": now,
                    "record": orjson.dumps(record).decode(),
                }
            )
        connection.execute(ddb_stream_records.insert(), rows)


def _item_key(schema: TableSchema, partition: bytes, sort: bytes) -> tuple[Any, ...]:
    """The key parameters of ``_get_sql``, ``_delete_sql`` and ``_upsert_sql`` for a
    table's item (not an index entry's)."""
    return (schema.table_id, "", shard_of(partition), partition, sort, b"")


def _item_and_size(row: Any) -> tuple[Item | None, int]:
    """The item and size of a row of ``_get_sql`` (None, 0: there was none)."""
    if row is None:
        return None, 0
    return orjson.loads(row[0]), row[1]


def _execute(connection: sa.Connection, sql: str, parameters: Sequence[Any]) -> Any:
    """``sql`` on the connection's driver cursor, in its transaction: for the statements
    of every item, SQLAlchemy's result objects cost more than the statement itself."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, parameters)
    return cursor


def sequence_number(number: int) -> str:
    """A stream record's SequenceNumber as DynamoDB writes them (a string of digits)."""
    return f"{number:021d}"


def expires_at(item: Item, attribute: str | None) -> int | None:
    """When ``item`` expires (epoch seconds) under the TTL ``attribute``: None unless the
    attribute is there and a number, as DynamoDB ignores any other value."""
    if attribute is None:
        return None
    value = item.get(attribute)
    if value is None or "N" not in value:
        return None
    try:
        return int(float(value["N"]))
    except (ValueError, OverflowError):
        return None


def _cancelled(reasons: list[ServiceError | None]) -> TableError:
    listed = []
    codes = []
    for reason in reasons:
        if reason is None:
            listed.append({"Code": "None"})
            codes.append("None")
            continue
        code = reason.error_type.removesuffix("Exception")
        entry: dict[str, Any] = {"Code": code, "Message": reason.message}
        if "Item" in reason.extra:
            entry["Item"] = reason.extra["Item"]
        listed.append(entry)
        codes.append(code)
    return TransactionCanceledException(
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(codes)}]",
        CancellationReasons=listed,
    )
