"""One statement per batch on SQLite, row by row where JSON would change a value."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from gureum.store import bulk


def test_rows_come_back_as_they_went_in(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, f REAL, b BLOB)"
        )
    insert = bulk.insert("sqlite", "t", ("s", "n", "f", "b"))
    json_rows = [('é " \\ \n', 2**62, 0.5, None), ("", -1, 1e-9, None), (None, 0, 2.0, None)]
    nul_rows = [("a\x00b", 1, 1.0, None)]  # SQLite's JSON ends a text at NUL
    blob_rows = [("x", 1, 1.0, b"\x00\xff")]  # JSON has no bytes
    with engine.begin() as connection:
        for rows in (json_rows, nul_rows, blob_rows):
            insert.execute(connection, rows)
        insert.execute(connection, [])
        got = [tuple(r) for r in connection.exec_driver_sql("SELECT s, n, f, b FROM t ORDER BY id")]
    assert got == json_rows + nul_rows + blob_rows
    assert [type(v) for v in got[0][1:3]] == [int, float]


def test_a_delete_matches_whole_rows(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT)")
        connection.exec_driver_sql("INSERT INTO t (k) VALUES ('a'), ('b'), ('c')")
    delete = bulk.BulkStatement(
        "sqlite",
        "DELETE FROM t WHERE id = ? AND k = ?",
        "DELETE FROM t WHERE id IN (SELECT t.id FROM json_each(?) AS j "
        "JOIN t ON t.id = j.value->>0 AND t.k = j.value->>1)",
    )
    with engine.begin() as connection:
        delete.execute(connection, [(1, "a"), (2, "not b"), (3, "c")])
        left = [tuple(r) for r in connection.exec_driver_sql("SELECT id, k FROM t")]
    assert left == [(2, "b")]
