"""Functions and logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("revision_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "log_streams",
        sa.Column("log_group", sa.String(512), primary_key=True),
        sa.Column("log_stream", sa.String(512), primary_key=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("first_event_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_event_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_ingestion_time", sa.BigInteger, nullable=False),
        sa.Column("stored_bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "log_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("log_group", sa.String(512), nullable=False),
        sa.Column("log_stream", sa.String(512), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("ingestion_time", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_log_events_group_time", "log_events", ["log_group", "timestamp", "id"])
    op.create_index("ix_log_events_stream", "log_events", ["log_group", "log_stream", "id"])


def downgrade() -> None:
    op.drop_table("log_events")
    op.drop_table("log_streams")
    op.drop_table("functions")
