"""Many rows in one statement: how the store writes its batches.

A batch goes in as one JSON parameter that the database unpacks inside one statement
(``json_each`` on SQLite, ``json_array_elements`` on PostgreSQL), so the driver crosses
into C once per batch:

- The ``sqlite3`` driver's ``executemany`` releases the GIL around every row's step and
  takes it back after. While the event loop's thread is busy, each taking back waits for
  a forced switch (the GIL convoy), so a batch of a thousand log lines cost the server
  more CPU in context switches and futex calls than SQLite spent writing them: about
  100 µs of every warm invoke.
- psycopg's ``executemany`` pipelines the rows (one round trip), but builds and sends
  each row's statement in Python, holding the GIL: about 130 µs of the store's thread for
  every accepted asynchronous event, taken from the event loop.

A batch that JSON cannot carry exactly (a NUL character, bytes, an integer beyond 64
bits) goes row by row through ``executemany``; a lone surrogate fails on either path, as
it always did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: How each engine unpacks the JSON parameter into rows (``value``) in order (``key``).
_ROWS = {
    "sqlite": "json_each(?) AS j",
    "postgresql": "json_array_elements(%s::json) WITH ORDINALITY AS j(value, key)",
}


class BulkStatement:
    """One write over many rows: ``many_sql`` executed once per row, or ``json_sql[dialect]``
    executed once with every row in its one JSON parameter (row ``i``'s column ``n`` is
    ``j.value->>n``; ``{rows}`` in it names where the rows come from)."""

    def __init__(self, dialect: str, many_sql: str, json_sql: Mapping[str, str]) -> None:
        mark = "?" if dialect == "sqlite" else "%s"
        self.many_sql = many_sql.replace("?", mark)
        template = json_sql.get(dialect)
        self.json_sql = template.replace("{rows}", _ROWS[dialect]) if template else None

    def execute(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.json_sql is not None:
            batch = _json_rows(rows)
            if batch is not None:
                connection.exec_driver_sql(self.json_sql, (batch,))
                return
        connection.exec_driver_sql(self.many_sql, list(rows))


def _cast(column: sa.Column[Any]) -> str:
    """PostgreSQL's cast from the text of ``->>`` to the column's type. Strings need
    none: a cast to VARCHAR(n) would cut a long value short where the column refuses it."""
    if isinstance(column.type, sa.String):
        return ""
    return "::" + column.type.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]


def insert(dialect: str, table: sa.Table, columns: Sequence[str]) -> BulkStatement:
    """``INSERT INTO table (columns)`` of many rows, in the batch's order (so that
    autoincrement ids follow it)."""
    names = ", ".join(columns)
    sqlite_picks = ", ".join(f"j.value->>{i}" for i in range(len(columns)))
    postgresql_picks = ", ".join(
        f"(j.value->>{i}){_cast(table.c[name])}" for i, name in enumerate(columns)
    )
    select = f"INSERT INTO {table.name} ({names}) SELECT {{picks}} FROM {{rows}} ORDER BY j.key"
    return BulkStatement(
        dialect,
        f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(['?'] * len(columns))})",
        {
            "sqlite": select.replace("{picks}", sqlite_picks),
            "postgresql": select.replace("{picks}", postgresql_picks),
        },
    )


def _json_rows(rows: Sequence[Sequence[Any]]) -> str | None:
    """The rows as one JSON array, or None where JSON would not give them back exactly."""
    try:
        encoded = orjson.dumps(rows)
    except TypeError:  # bytes, an int beyond 64 bits (and a lone surrogate, which no path takes)
        return None
    if b"\\u0000" in encoded:  # SQLite's JSON ends a text at NUL; PostgreSQL's text refuses it
        return None
    return encoded.decode()
