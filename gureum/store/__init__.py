"""The store: functions and logs in SQLite (WAL) or PostgreSQL, through SQLAlchemy Core."""

from gureum.store.store import FunctionRow, LogEvent, Store, open_store

__all__ = ["FunctionRow", "LogEvent", "Store", "open_store"]
