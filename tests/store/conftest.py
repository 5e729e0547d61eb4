"""A store per test, on SQLite and (when GUREUM_TEST_POSTGRES_URL is set) on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gureum.store import Store, open_store
from tests.conftest import store_settings


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    # On PostgreSQL, a database of its own, so tests never meet each other's rows.
    with store_settings(request.param) as overrides:
        opened = open_store(overrides.get("database_url") or f"sqlite:///{tmp_path / 'store.db'}")
        try:
            yield opened
        finally:
            opened.close()
