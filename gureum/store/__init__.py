"""The store: SQLAlchemy Core over SQLite (WAL) or PostgreSQL, its schema and migrations.

The SQL of each concept lives beside the concept (functions here; queues, traces and
logs in their own packages); what differs between the engines stays here.
"""

from gureum.store.store import FunctionRow, Store, open_store

__all__ = ["FunctionRow", "Store", "open_store"]
