"""Many rows in one statement: how the store writes its batches.

The ``sqlite3`` driver's ``executemany`` releases the GIL around every row's step and
takes it back after. While the event loop's thread is busy, each taking back waits for a
forced switch (the GIL convoy), so a batch of a thousand log lines cost the server more
CPU in context switches and futex calls than SQLite spent writing them: about 100 µs of
every warm invoke. On SQLite a batch therefore goes in as one JSON parameter that
``json_each`` unpacks inside one statement, and the GIL is released once per batch.

PostgreSQL's driver pipelines ``executemany`` (one round trip for the batch), so there
it stays. A batch that JSON cannot carry exactly (a NUL character, bytes) falls back to
``executemany`` on SQLite too; a lone surrogate fails on either path, as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa


class BulkStatement:
    """One write over many rows: ``many_sql`` executed once per row, or on SQLite
    ``json_sql`` executed once with every row in its one JSON parameter (row ``i``'s
    column ``n`` is ``value->>n`` of ``json_each(?)``)."""

    def __init__(self, dialect: str, many_sql: str, json_sql: str) -> None:
        mark = "?" if dialect == "sqlite" else "%s"
        self.many_sql = many_sql.replace("?", mark)
        self.json_sql = json_sql if dialect == "sqlite" else None

    def execute(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.json_sql is not None:
            batch = _json_rows(rows)
            if batch is not None:
                connection.exec_driver_sql(self.json_sql, (batch,))
                return
        connection.exec_driver_sql(self.many_sql, list(rows))


def insert(dialect: str, table: str, columns: Sequence[str]) -> BulkStatement:
    """``INSERT INTO table (columns)`` of many rows, in the batch's order (so that
    autoincrement ids follow it)."""
    names = ", ".join(columns)
    picks = ", ".join(f"value->>{i}" for i in range(len(columns)))
    return BulkStatement(
        dialect,
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(['?'] * len(columns))})",
        f"INSERT INTO {table} ({names}) SELECT {picks} FROM json_each(?) ORDER BY key",
    )


def _json_rows(rows: Sequence[Sequence[Any]]) -> str | None:
    """The rows as one JSON array, or None where JSON would not give them back exactly."""
    try:
        encoded = orjson.dumps(rows)
    except TypeError:  # bytes, an int beyond 64 bits (and a lone surrogate, which no path takes)
        return None
    if b"\\u0000" in encoded:  # SQLite's JSON functions end a text at NUL
        return None
    return encoded.decode()
