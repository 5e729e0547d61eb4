"""Tables: DynamoDB-style tables, their items and index entries, their streams.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ddb_tables",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("table_id", sa.String(36), nullable=False, unique=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ddb_items",
        sa.Column("table_id", sa.String(36), primary_key=True),
        sa.Column("index_name", sa.String(255), primary_key=True),
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("hash", sa.LargeBinary, primary_key=True),
        sa.Column("range", sa.LargeBinary, primary_key=True),
        sa.Column("pk", sa.LargeBinary, primary_key=True),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_ddb_items_expires", "ddb_items", ["table_id", "expires"])
    op.create_table(
        "ddb_streams",
        sa.Column("arn", sa.String(400), primary_key=True),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("table_id", sa.String(36), nullable=False),
        sa.Column("view_type", sa.String(32), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("ended_ms", sa.BigInteger, nullable=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("key_schema", sa.JSON, nullable=False),
    )
    op.create_table(
        "ddb_stream_records",
        sa.Column("stream_arn", sa.String(400), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_ddb_stream_records_created", "ddb_stream_records", ["created_ms"])
    op.create_table(
        "ddb_transaction_tokens",
        sa.Column("token", sa.String(36), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ddb_transaction_tokens")
    op.drop_index("ix_ddb_stream_records_created", "ddb_stream_records")
    op.drop_table("ddb_stream_records")
    op.drop_table("ddb_streams")
    op.drop_index("ix_ddb_items_expires", "ddb_items")
    op.drop_table("ddb_items")
    op.drop_table("ddb_tables")
