"""The store's tables (SQLAlchemy Core). Changes to them are Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

functions = sa.Table(
    "functions",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
)

log_streams = sa.Table(
    "log_streams",
    metadata,
    sa.Column("log_group", sa.String(512), primary_key=True),
    sa.Column("log_stream", sa.String(512), primary_key=True),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("first_event_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_event_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
)

log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("log_group", sa.String(512), nullable=False),
    sa.Column("log_stream", sa.String(512), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_log_events_group_time", "log_group", "timestamp", "id"),
    sa.Index("ix_log_events_stream", "log_group", "log_stream", "id"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("function_name", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
)
