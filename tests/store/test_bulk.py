"""One statement per batch on both engines, row by row where JSON would change a value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gureum.store import bulk
from tests.conftest import store_settings

metadata = sa.MetaData()
t = sa.Table(
    "t",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("s", sa.String(20), nullable=True),
    sa.Column("n", sa.BigInteger, nullable=True),
    sa.Column("i", sa.Integer, nullable=True),
    sa.Column("f", sa.Float, nullable=True),
    sa.Column("j", sa.JSON, nullable=True),
    sa.Column("b", sa.LargeBinary, nullable=True),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    with store_settings(request.param) as settings:
        url = settings.get("database_url") or f"sqlite:///{tmp_path / 'b.db'}"
        made = sa.create_engine(url)
        metadata.create_all(made)
        yield made
        made.dispose()


def test_rows_come_back_as_they_went_in(engine: sa.Engine) -> None:
    insert = bulk.insert(engine.dialect.name, t, ("s", "n", "i", "f", "j", "b"))
    assert insert.json_sql is not None
    json_rows = [
        ('é " \\ \n 한', 2**62, -(2**31), 0.5, '{"a": [1, "x"]}', None),
        ("", -1, 0, 1e-9, None, None),
        (None, 0, 7, 2.0, "null", None),
    ]
    nul_rows = [("a\x00b" if engine.dialect.name == "sqlite" else "a", 1, 1, 1.0, None, None)]
    blob_rows = [("x", 1, 1, 1.0, None, b"\x00\xff")]  # JSON has no bytes
    with engine.begin() as connection:
        for rows in (json_rows, nul_rows, blob_rows):
            insert.execute(connection, rows)
        insert.execute(connection, [])
        got = [
            tuple(r)
            for r in connection.execute(
                sa.select(t.c.s, t.c.n, t.c.i, t.c.f, sa.cast(t.c.j, sa.Text), t.c.b).order_by(
                    t.c.id
                )
            )
        ]
    # JSON comes back as the database keeps it (PostgreSQL's json keeps the text)
    assert [row[:4] + row[5:] for row in got] == [
        row[:4] + row[5:] for row in json_rows + nul_rows + blob_rows
    ]
    assert [type(v) for v in got[0][1:4]] == [int, int, float]
    assert got[0][4].replace(" ", "") == '{"a":[1,"x"]}'
    assert got[1][4] is None


def test_a_string_too_long_for_its_column_is_refused_not_cut(engine: sa.Engine) -> None:
    insert = bulk.insert(engine.dialect.name, t, ("s",))
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(sa.exc.DataError), engine.begin() as connection:
        insert.execute(connection, [("x" * 21,)])


def test_a_delete_matches_whole_rows(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(t.insert(), [{"s": "a"}, {"s": "b"}, {"s": "c"}])
    delete = bulk.BulkStatement(
        engine.dialect.name,
        "DELETE FROM t WHERE id = ? AND s = ?",
        {
            "sqlite": "DELETE FROM t WHERE id IN (SELECT t.id FROM {rows} "
            "JOIN t ON t.id = j.value->>0 AND t.s = j.value->>1)",
            "postgresql": "DELETE FROM t USING {rows} "
            "WHERE t.id = (j.value->>0)::integer AND t.s = j.value->>1",
        },
    )
    with engine.begin() as connection:
        delete.execute(connection, [(1, "a"), (2, "not b"), (3, "c")])
        left = [tuple(r) for r in connection.execute(sa.select(t.c.id, t.c.s))]
    assert left == [(2, "b")]
