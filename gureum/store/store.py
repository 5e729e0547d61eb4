"""The store: one SQLAlchemy Core layer over SQLite (WAL) or PostgreSQL.

Methods are synchronous; asyncio code calls them through ``await store.run(...)``, which
runs them on the store's one worker thread (for SQLite, the single writer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import zlib
from collections.abc import Callable
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
from gureum.store.tables import aliases, function_urls, functions, registry_generation

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises nodes migrating at once.
MIGRATION_LOCK = zlib.crc32(b"gureum.store.migrate")


def call_in(
    executor: concurrent.futures.Executor, fn: Callable[..., T], *args: Any
) -> asyncio.Future[T]:
    """``fn(*args)`` on ``executor``'s threads, awaited on the running loop.

    ``loop.run_in_executor`` chains the executor's future to the loop's through
    ``asyncio.wrap_future`` (state copied both ways, for cancellation too), which costs
    the event loop more than many of the store's statements take. Here the worker
    thread hands its outcome over with one ``call_soon_threadsafe``; a cancelled awaiter
    just lets the call finish unobserved, as it would with ``run_in_executor``.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiter
            loop.call_soon_threadsafe(_hand_over, future, None, exc)
        else:
            loop.call_soon_threadsafe(_hand_over, future, result, None)

    executor.submit(run)
    return future


def _hand_over(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One stored function version: its API configuration and where its code is."""

    name: str
    version: str
    config: dict[str, Any]
    code_sha256: str  # hex digest of the zip (the file name in the code store)
    revision_id: str


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
        return await call_in(self._executor, fn, *args)

    async def run_parallel(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)``, a transaction that conflicts with no other, on one of the
        ``parallel_writers`` threads (on SQLite, the one worker thread)."""
        return await call_in(self._parallel, fn, *args)

    # what differs between the engines, for the SQL that lives beside its concept
    def insert(self, table: sa.Table) -> Any:
        """An INSERT that can take ``on_conflict_do_update`` (the engine's own)."""
        return sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)

    def contains(self, column: sa.Column[str], term: str) -> sa.ColumnElement[bool]:
        """Case-sensitive substring test (SQLite's LIKE ignores case, ``instr`` does not)."""
        if self.dialect == "sqlite":
            return sa.func.instr(column, term) > 0
        return column.contains(term, autoescape=True)

    def least_greatest(self) -> tuple[Any, Any]:
        """The engine's smaller-of and larger-of functions (SQLite's are min and max)."""
        if self.dialect == "sqlite":
            return sa.func.min, sa.func.max
        return sa.func.least, sa.func.greatest

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
                _registry_changed(connection)
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
                _registry_changed(connection)
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
            return self._all_functions(connection)

    def _all_functions(self, connection: sa.Connection) -> list[FunctionRow]:
        return [self._row(r) for r in connection.execute(sa.select(functions))]

    def registry_since(
        self, generation: int | None
    ) -> tuple[int, list[FunctionRow], list[tuple[str, str, dict[str, Any]]]] | None:
        """(generation, every function version, every alias) unless the registry's
        generation is still ``generation`` (None). The generation is read first: a change
        committed while the rest is read shows in the rows, and again as a newer
        generation the next time."""
        with self.engine.connect() as connection:
            now = connection.execute(sa.select(registry_generation.c.generation)).scalar_one()
            if now == generation:
                return None
            rows = self._all_functions(connection)
            named = [
                (r.function_name, r.name, r.config) for r in connection.execute(sa.select(aliases))
            ]
        return int(now), rows, named

    def delete_function_version(self, name: str, version: str) -> bool:
        """Delete one published version; True if it existed."""
        with self.engine.begin() as connection:
            deleted = connection.execute(
                functions.delete().where(
                    (functions.c.name == name) & (functions.c.version == version)
                )
            )
            _registry_changed(connection)
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
                    _registry_changed(connection)
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
                _registry_changed(connection)
                return
            exists = connection.execute(sa.select(aliases.c.name).where(where)).first()
        if exists is None:
            raise ResourceNotFoundException(f"Alias not found: {config['AliasArn']}")
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )

    def delete_alias(self, function: str, name: str) -> bool:
        """Delete an alias, and its function URL with it (as Lambda does)."""
        with self.engine.begin() as connection:
            connection.execute(
                function_urls.delete().where(
                    (function_urls.c.function_name == function)
                    & (function_urls.c.qualifier == name)
                )
            )
            deleted = connection.execute(
                aliases.delete().where(
                    (aliases.c.function_name == function) & (aliases.c.name == name)
                )
            )
            _registry_changed(connection)
        return bool(deleted.rowcount)

    def delete_function(self, name: str) -> bool:
        with self.engine.begin() as connection:
            connection.execute(aliases.delete().where(aliases.c.function_name == name))
            # (its function URLs go with it, as on Lambda)
            connection.execute(function_urls.delete().where(function_urls.c.function_name == name))
            deleted = connection.execute(functions.delete().where(functions.c.name == name))
            _registry_changed(connection)
        return bool(deleted.rowcount)


def _registry_changed(connection: sa.Connection) -> None:
    """Count the registry's generation up, in the transaction of a change to it."""
    connection.execute(
        registry_generation.update().values(generation=registry_generation.c.generation + 1)
    )


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
