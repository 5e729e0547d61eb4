"""Kinesis streams: streams, their shards and their records.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kinesis_streams",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("retention_hours", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("next_shard_index", sa.Integer, nullable=False),
    )
    op.create_table(
        "kinesis_shards",
        sa.Column("stream_name", sa.String(128), primary_key=True),
        sa.Column("shard_index", sa.Integer, primary_key=True),
        sa.Column("parent_index", sa.Integer, nullable=True),
        sa.Column("adjacent_parent_index", sa.Integer, nullable=True),
        sa.Column("hash_start", sa.String(39), nullable=False),
        sa.Column("hash_end", sa.String(39), nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("last_arrival_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("closed_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "kinesis_records",
        sa.Column("stream_name", sa.String(128), primary_key=True),
        sa.Column("shard_index", sa.Integer, primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("partition_key", sa.String(256), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("arrival_ms", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_kinesis_records_arrival",
        "kinesis_records",
        ["stream_name", "shard_index", "arrival_ms"],
    )


def downgrade() -> None:
    op.drop_index("ix_kinesis_records_arrival", "kinesis_records")
    op.drop_table("kinesis_records")
    op.drop_table("kinesis_shards")
    op.drop_table("kinesis_streams")
