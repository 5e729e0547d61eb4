"""The store: one SQLAlchemy Core layer over SQLite (WAL) or PostgreSQL.

Methods are synchronous; asyncio code calls them through ``await store.run(...)``, which
runs them on the store's one worker thread (for SQLite, the single writer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from gureum.errors import (
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from gureum.store import bulk
from gureum.store.tables import aliases, functions, log_events, log_streams

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises nodes migrating at once.
MIGRATION_LOCK = zlib.crc32(b"gureum.store.migrate")


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One stored function version: its API configuration and where its code is."""

    name: str
    version: str
    config: dict[str, Any]
    code_sha256: str  # hex digest of the zip (the file name in the code store)
    revision_id: str


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log line of a log stream (``timestamp`` in epoch milliseconds)."""

    log_group: str
    log_stream: str
    timestamp: int
    message: str


def _text(message: str) -> str:
    """A log message as both engines keep it: PostgreSQL's text cannot hold NUL, which
    becomes U+FFFD (as undecodable bytes already do), and one such line must not cost
    the whole batch."""
    return message.replace("\x00", "\ufffd") if "\x00" in message else message


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stream_token(token: str | None) -> tuple[str, int] | None:
    """``f/<id>`` or ``b/<id>`` as (direction, id); ValueError for anything else."""
    if not token:
        return None
    direction, _, position = token.partition("/")
    if direction not in ("f", "b") or not position.isdigit():
        raise ValueError(f"invalid token {token!r}")
    return direction, int(position)


def _pattern_terms(pattern: str | None) -> list[str]:
    """CloudWatch's simple filter pattern: terms that must all appear; quotes keep phrases."""
    if not pattern or not pattern.strip():
        return []
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', pattern)]


#: Threads for transactions that may commit side by side on PostgreSQL.
PARALLEL_WRITERS = 2


class Store:
    """Functions and logs, in SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(url, connect_args={"timeout": 30})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        self._log_insert = bulk.insert(
            self.dialect,
            log_events,
            ("log_group", "log_stream", "timestamp", "ingestion_time", "message"),
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gureum-store")
        #: Transactions that may commit side by side (each waits for its own round trips
        #: and WAL flush): on PostgreSQL a few threads of their own; SQLite has one writer.
        self.parallel_writers = 1 if self.dialect == "sqlite" else PARALLEL_WRITERS
        self._parallel = (
            self._executor
            if self.parallel_writers == 1
            else concurrent.futures.ThreadPoolExecutor(
                self.parallel_writers, thread_name_prefix="gureum-store-parallel"
            )
        )
        self._stream_upsert = self._log_stream_upsert()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            # Hold a lock for the whole upgrade, so that two processes starting on one
            # database migrate one after the other instead of both creating tables.
            if self.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()

    def close(self) -> None:
        self._parallel.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        self.engine.dispose()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def run_parallel(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)``, a transaction that conflicts with no other, on one of the
        ``parallel_writers`` threads (on SQLite, the one worker thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._parallel, functools.partial(fn, *args))

    def _log_stream_upsert(self) -> Any:
        """Insert a log stream or fold a batch's figures into it (executed many)."""
        insert = self._insert(log_streams)
        excluded = insert.excluded
        least, greatest = (
            (sa.func.min, sa.func.max)
            if self.dialect == "sqlite"
            else (sa.func.least, sa.func.greatest)
        )
        return insert.on_conflict_do_update(
            index_elements=[log_streams.c.log_group, log_streams.c.log_stream],
            set_={
                "first_event_timestamp": least(
                    log_streams.c.first_event_timestamp, excluded.first_event_timestamp
                ),
                "last_event_timestamp": greatest(
                    log_streams.c.last_event_timestamp, excluded.last_event_timestamp
                ),
                "last_ingestion_time": excluded.last_ingestion_time,
                "stored_bytes": log_streams.c.stored_bytes + excluded.stored_bytes,
            },
        )

    def _insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)

    def _contains(self, column: sa.Column[str], term: str) -> sa.ColumnElement[bool]:
        """Case-sensitive substring test (SQLite's LIKE ignores case, ``instr`` does not)."""
        if self.dialect == "sqlite":
            return sa.func.instr(column, term) > 0
        return column.contains(term, autoescape=True)

    # functions
    def create_function(self, row: FunctionRow) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    functions.insert().values(
                        name=row.name,
                        version=row.version,
                        config=row.config,
                        code_sha256=row.code_sha256,
                        revision_id=row.revision_id,
                    )
                )
        except sa.exc.IntegrityError:
            raise ResourceConflictException(f"Function already exist: {row.name}") from None

    def update_function(self, row: FunctionRow, expected_revision_id: str | None = None) -> None:
        where = (functions.c.name == row.name) & (functions.c.version == row.version)
        condition = where
        if expected_revision_id is not None:
            condition = where & (functions.c.revision_id == expected_revision_id)
        with self.engine.begin() as connection:
            updated = connection.execute(
                functions.update()
                .where(condition)
                .values(config=row.config, code_sha256=row.code_sha256, revision_id=row.revision_id)
            )
            if updated.rowcount:
                return
            exists = connection.execute(sa.select(functions.c.name).where(where)).first()
        if exists is None:
            raise ResourceNotFoundException(f"Function not found: {row.name}")
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )

    @staticmethod
    def _row(record: Any) -> FunctionRow:
        return FunctionRow(
            record.name, record.version, record.config, record.code_sha256, record.revision_id
        )

    def get_function(self, name: str, version: str = "$LATEST") -> FunctionRow | None:
        with self.engine.connect() as connection:
            record = connection.execute(
                sa.select(functions).where(
                    (functions.c.name == name) & (functions.c.version == version)
                )
            ).first()
        return None if record is None else self._row(record)

    def list_functions(self, marker: str | None, limit: int) -> list[FunctionRow]:
        query = sa.select(functions).where(functions.c.version == "$LATEST")
        if marker:
            query = query.where(functions.c.name > marker)
        with self.engine.connect() as connection:
            records = connection.execute(query.order_by(functions.c.name).limit(limit))
            return [self._row(r) for r in records]

    def all_functions(self) -> list[FunctionRow]:
        with self.engine.connect() as connection:
            return [self._row(r) for r in connection.execute(sa.select(functions))]

    def delete_function_version(self, name: str, version: str) -> bool:
        """Delete one published version; True if it existed."""
        with self.engine.begin() as connection:
            deleted = connection.execute(
                functions.delete().where(
                    (functions.c.name == name) & (functions.c.version == version)
                )
            )
        return bool(deleted.rowcount)

    # aliases
    def put_alias(
        self,
        function: str,
        name: str,
        config: dict[str, Any],
        expected_revision_id: str | None = None,
        *,
        create: bool = False,
    ) -> None:
        """Create an alias (ResourceConflictException if it exists) or replace one."""
        values = {"config": config, "revision_id": config["RevisionId"]}
        if create:
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        aliases.insert().values(function_name=function, name=name, **values)
                    )
            except sa.exc.IntegrityError:
                raise ResourceConflictException(
                    f"Alias already exists: {config['AliasArn']}"
                ) from None
            return
        where = (aliases.c.function_name == function) & (aliases.c.name == name)
        condition = where
        if expected_revision_id is not None:
            condition = where & (aliases.c.revision_id == expected_revision_id)
        with self.engine.begin() as connection:
            if connection.execute(aliases.update().where(condition).values(**values)).rowcount:
                return
            exists = connection.execute(sa.select(aliases.c.name).where(where)).first()
        if exists is None:
            raise ResourceNotFoundException(f"Alias not found: {config['AliasArn']}")
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )

    def delete_alias(self, function: str, name: str) -> bool:
        with self.engine.begin() as connection:
            deleted = connection.execute(
                aliases.delete().where(
                    (aliases.c.function_name == function) & (aliases.c.name == name)
                )
            )
        return bool(deleted.rowcount)

    def all_aliases(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, alias, AliasConfiguration) of every alias."""
        with self.engine.connect() as connection:
            return [
                (r.function_name, r.name, r.config) for r in connection.execute(sa.select(aliases))
            ]

    def delete_function(self, name: str) -> bool:
        with self.engine.begin() as connection:
            connection.execute(aliases.delete().where(aliases.c.function_name == name))
            deleted = connection.execute(functions.delete().where(functions.c.name == name))
        return bool(deleted.rowcount)

    # logs
    def put_log_events(self, events: Sequence[LogEvent]) -> None:
        if not events:
            return
        # Ids then follow time within a batch, so reading a stream by id reads it in order.
        events = sorted(events, key=lambda e: e.timestamp)
        now = _now_ms()
        streams: dict[tuple[str, str], dict[str, int]] = {}
        for event in events:
            key = (event.log_group, event.log_stream)
            stats = streams.get(key)
            size = len(event.message.encode())
            if stats is None:
                streams[key] = {"first": event.timestamp, "last": event.timestamp, "bytes": size}
            else:
                stats["first"] = min(stats["first"], event.timestamp)
                stats["last"] = max(stats["last"], event.timestamp)
                stats["bytes"] += size
        with self.engine.begin() as connection:
            # Straight to the driver, in one statement: log lines are the store's
            # bulkiest writes (see ``bulk``).
            self._log_insert.execute(
                connection,
                [(e.log_group, e.log_stream, e.timestamp, now, _text(e.message)) for e in events],
            )
            # One statement for every stream of the batch, built once: a statement with
            # its values inlined is compiled afresh each time (it was a fifth of the
            # server's CPU when 200 sandboxes started at once).
            connection.execute(
                self._stream_upsert,
                [
                    {
                        "log_group": group,
                        "log_stream": stream,
                        "creation_time": now,
                        "first_event_timestamp": stats["first"],
                        "last_event_timestamp": stats["last"],
                        "last_ingestion_time": now,
                        "stored_bytes": stats["bytes"],
                    }
                    for (group, stream), stats in streams.items()
                ],
            )

    def get_log_events(
        self,
        group: str,
        stream: str,
        *,
        start_time: int | None,
        end_time: int | None,
        start_from_head: bool,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str, str]:
        """Events of one stream, ascending, with forward (``f/``) and backward (``b/``) tokens."""
        where = (log_events.c.log_group == group) & (log_events.c.log_stream == stream)
        if start_time is not None:
            where &= log_events.c.timestamp >= start_time
        if end_time is not None:
            where &= log_events.c.timestamp < end_time
        token = _stream_token(next_token)
        after = token[1] if token and token[0] == "f" else None
        before = token[1] if token and token[0] == "b" else None
        forward = after is not None or (before is None and start_from_head)
        query = sa.select(
            log_events.c.id,
            log_events.c.timestamp,
            log_events.c.message,
            log_events.c.ingestion_time,
        ).where(where)
        if after is not None:
            query = query.where(log_events.c.id > after)
        if before is not None:
            query = query.where(log_events.c.id < before)
        order = log_events.c.id.asc() if forward else log_events.c.id.desc()
        with self.engine.connect() as connection:
            records = list(connection.execute(query.order_by(order).limit(limit)))
        if not forward:
            records.reverse()
        events = [
            {"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time}
            for r in records
        ]
        if records:
            return events, f"f/{records[-1].id}", f"b/{records[0].id}"
        # Nothing (more): the tokens stay where they were, as CloudWatch's do.
        if after is not None:
            return events, f"f/{after}", f"b/{after + 1}"
        if before is not None:
            return events, f"f/{before - 1}", f"b/{before}"
        return events, "f/0", "b/0"

    def filter_log_events(
        self,
        group: str,
        *,
        stream_names: list[str] | None,
        stream_prefix: str | None,
        start_time: int | None,
        end_time: int | None,
        pattern: str | None,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Events of a group, ascending by time, that contain every term of ``pattern``."""
        where = log_events.c.log_group == group
        if stream_names:
            where &= log_events.c.log_stream.in_(stream_names)
        if stream_prefix:
            where &= log_events.c.log_stream.startswith(stream_prefix, autoescape=True)
        if start_time is not None:
            where &= log_events.c.timestamp >= start_time
        if end_time is not None:
            where &= log_events.c.timestamp <= end_time
        for term in _pattern_terms(pattern):
            where &= self._contains(log_events.c.message, term)
        if next_token:
            stamp, _, last_id = next_token.partition("/")
            if not (stamp.isdigit() and last_id.isdigit()):
                raise ValueError(f"invalid token {next_token!r}")
            where &= sa.tuple_(log_events.c.timestamp, log_events.c.id) > sa.tuple_(
                sa.literal(int(stamp)), sa.literal(int(last_id))
            )
        query = (
            sa.select(log_events)
            .where(where)
            .order_by(log_events.c.timestamp, log_events.c.id)
            .limit(limit + 1)
        )
        with self.engine.connect() as connection:
            records = list(connection.execute(query))
        more = len(records) > limit
        records = records[:limit]
        events = [
            {
                "logStreamName": r.log_stream,
                "timestamp": r.timestamp,
                "message": r.message,
                "ingestionTime": r.ingestion_time,
                "eventId": str(r.id),
            }
            for r in records
        ]
        token = f"{records[-1].timestamp}/{records[-1].id}" if more else None
        return events, token

    def describe_log_groups(
        self, prefix: str | None, limit: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = sa.select(
            log_streams.c.log_group,
            sa.func.min(log_streams.c.creation_time).label("created"),
            sa.func.sum(log_streams.c.stored_bytes).label("stored"),
        )
        if prefix:
            query = query.where(log_streams.c.log_group.startswith(prefix, autoescape=True))
        if next_token:
            query = query.where(log_streams.c.log_group > next_token)
        query = query.group_by(log_streams.c.log_group).order_by(log_streams.c.log_group)
        with self.engine.connect() as connection:
            records = list(connection.execute(query.limit(limit + 1)))
        more = len(records) > limit
        records = records[:limit]
        groups = [
            {
                "logGroupName": r.log_group,
                "creationTime": int(r.created),
                "storedBytes": int(r.stored or 0),
            }
            for r in records
        ]
        return groups, (records[-1].log_group if more else None)

    def describe_log_streams(
        self,
        group: str,
        *,
        prefix: str | None,
        order_by: str,
        descending: bool,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = sa.select(log_streams).where(log_streams.c.log_group == group)
        if prefix:
            query = query.where(log_streams.c.log_stream.startswith(prefix, autoescape=True))
        by_time = order_by == "LastEventTime"
        columns = (
            [log_streams.c.last_event_timestamp, log_streams.c.log_stream]
            if by_time
            else [log_streams.c.log_stream]
        )
        if next_token:
            # Keyset paging: the token names the last stream seen, so streams written
            # between two pages cannot shift what the next page starts with.
            kind, _, rest = next_token.partition("/")
            after: tuple[Any, ...]
            if kind == "n" and not by_time:
                after = (rest,)
            elif kind == "t" and by_time:
                stamp, _, name = rest.partition("/")
                if not stamp.lstrip("-").isdigit():
                    raise ValueError(f"invalid token {next_token!r}")
                after = (int(stamp), name)
            else:
                raise ValueError(f"invalid token {next_token!r}")
            key = sa.tuple_(*columns)
            bound = sa.tuple_(*(sa.literal(value) for value in after))
            query = query.where(key < bound if descending else key > bound)
        ordering = [c.desc() if descending else c.asc() for c in columns]
        with self.engine.connect() as connection:
            records = list(connection.execute(query.order_by(*ordering).limit(limit + 1)))
        more = len(records) > limit
        records = records[:limit]
        streams = [
            {
                "logStreamName": r.log_stream,
                "creationTime": r.creation_time,
                "firstEventTimestamp": r.first_event_timestamp,
                "lastEventTimestamp": r.last_event_timestamp,
                "lastIngestionTime": r.last_ingestion_time,
                "storedBytes": r.stored_bytes,
            }
            for r in records
        ]
        if not more:
            return streams, None
        last = records[-1]
        if by_time:
            return streams, f"t/{last.last_event_timestamp}/{last.log_stream}"
        return streams, f"n/{last.log_stream}"

    def log_group_exists(self, group: str) -> bool:
        with self.engine.connect() as connection:
            return (
                connection.execute(
                    sa.select(log_streams.c.log_group)
                    .where(log_streams.c.log_group == group)
                    .limit(1)
                ).first()
                is not None
            )

    def delete_log_group(self, group: str) -> bool:
        with self.engine.begin() as connection:
            connection.execute(log_events.delete().where(log_events.c.log_group == group))
            deleted = connection.execute(
                log_streams.delete().where(log_streams.c.log_group == group)
            )
        return bool(deleted.rowcount)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_store(url: str) -> Store:
    """A store at ``url`` with its schema migrated to the newest version."""
    store = Store(url)
    store.migrate()
    return store
