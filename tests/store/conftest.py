"""A store per test, on SQLite and (when GUREUM_TEST_POSTGRES_URL is set) on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gureum.store import Store, open_store

POSTGRES_URL = os.environ.get("GUREUM_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        yield opened
        opened.close()
        return
    if not POSTGRES_URL:
        pytest.skip("GUREUM_TEST_POSTGRES_URL is not set")
    # A database of its own, so tests never meet each other's rows.
    name = f"gureum_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    opened = open_store(url.render_as_string(hide_password=False))
    try:
        yield opened
    finally:
        opened.close()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
