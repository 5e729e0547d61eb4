"""Alembic's environment: migrations run on the connection the Store hands over."""

from __future__ import annotations

from alembic import context

from gureum.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    # No alembic.ini and no engine of its own: the schema belongs to Store.migrate().
    raise RuntimeError("gureum's migrations run through gureum.store.Store.migrate()")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
