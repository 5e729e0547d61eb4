"""The store fixture (SQLite, and PostgreSQL when configured) for the queue tests."""

from tests.store.conftest import store

__all__ = ["store"]
