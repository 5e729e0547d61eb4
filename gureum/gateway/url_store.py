"""Lambda function URLs in the store: one per function and qualifier (``$LATEST`` or
an alias), on SQLite or PostgreSQL.

A URL is found two ways: by its function and qualifier (the Lambda API's operations)
and by its url id (a request to the URL). What serving reads by url id is kept per
node for ``LOOKUP_SECONDS``, as the gateway keeps an API's routing: another node's
change reaches this one within that time, this node's own at once. Deleting a function
or an alias deletes its URLs in the same transaction (:mod:`gureum.store.store`).
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.recent import Recent
from gureum.store.tables import function_urls

#: Lambda's url ids: 32 lower-case letters and digits.
_ID_ALPHABET = string.ascii_lowercase + string.digits
LOOKUP_SECONDS = 1.0


def new_url_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


@dataclass(frozen=True, slots=True)
class FunctionUrl:
    function_name: str
    qualifier: str
    url_id: str
    #: AuthType, InvokeMode and (when set) Cors, as Lambda names them.
    config: dict[str, Any]
    created_ms: int
    modified_ms: int


def _url(row: Any) -> FunctionUrl:
    return FunctionUrl(
        row.function_name, row.qualifier, row.url_id, row.config, row.created_ms, row.modified_ms
    )


class UrlStore:
    """Function URLs on a store; methods are coroutines for the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: url id -> (its URL or None, when it was read)
        self._by_id: Recent[str, FunctionUrl | None] = Recent(LOOKUP_SECONDS)

    async def create(self, function: str, qualifier: str, config: dict[str, Any]) -> bool:
        """A new URL (a fresh id); False when the function and qualifier have one."""
        return await self.store.run(self._create, function, qualifier, config)

    def _create(self, function: str, qualifier: str, config: dict[str, Any]) -> bool:
        now = int(time.time() * 1000)
        try:
            with self.store.engine.begin() as connection:
                if self._read(connection, function, qualifier) is not None:
                    return False
                self._insert(connection, function, qualifier, config, now)
        except sa.exc.IntegrityError:  # another node's create of the same key came first
            return False
        return True

    @staticmethod
    def _insert(
        connection: sa.Connection, function: str, qualifier: str, config: dict[str, Any], now: int
    ) -> None:
        connection.execute(
            function_urls.insert().values(
                function_name=function,
                qualifier=qualifier,
                url_id=new_url_id(),
                config=config,
                created_ms=now,
                modified_ms=now,
            )
        )

    async def get(self, function: str, qualifier: str) -> FunctionUrl | None:
        return await self.store.run(self._get, function, qualifier)

    def _get(self, function: str, qualifier: str) -> FunctionUrl | None:
        with self.store.engine.connect() as connection:
            return self._read(connection, function, qualifier)

    @staticmethod
    def _read(connection: sa.Connection, function: str, qualifier: str) -> FunctionUrl | None:
        c = function_urls.c
        row = connection.execute(
            sa.select(function_urls).where(
                (c.function_name == function) & (c.qualifier == qualifier)
            )
        ).first()
        return _url(row) if row is not None else None

    async def update(self, function: str, qualifier: str, config: dict[str, Any]) -> bool:
        """Replace a URL's config; False when there is no such URL."""
        c = function_urls.c

        def update() -> bool:
            with self.store.engine.begin() as connection:
                done = connection.execute(
                    function_urls.update()
                    .where((c.function_name == function) & (c.qualifier == qualifier))
                    .values(config=config, modified_ms=int(time.time() * 1000))
                )
            return bool(done.rowcount)

        self._by_id.clear()
        return await self.store.run(update)

    async def delete(self, function: str, qualifier: str) -> bool:
        c = function_urls.c

        def delete() -> bool:
            with self.store.engine.begin() as connection:
                done = connection.execute(
                    function_urls.delete().where(
                        (c.function_name == function) & (c.qualifier == qualifier)
                    )
                )
            return bool(done.rowcount)

        self._by_id.clear()
        return await self.store.run(delete)

    async def of_function(self, function: str) -> list[FunctionUrl]:
        """A function's URLs, by qualifier."""
        c = function_urls.c

        def read() -> list[FunctionUrl]:
            with self.store.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(function_urls)
                    .where(c.function_name == function)
                    .order_by(c.qualifier)
                ).all()
            return [_url(row) for row in rows]

        return await self.store.run(read)

    async def by_id(self, url_id: str) -> FunctionUrl | None:
        """The URL a request names by its id (None: there is none)."""

        def read() -> FunctionUrl | None:
            with self.store.engine.connect() as connection:
                row = connection.execute(
                    sa.select(function_urls).where(function_urls.c.url_id == url_id)
                ).first()
            return _url(row) if row is not None else None

        return await self._by_id.read(url_id, lambda: self.store.run(read))
