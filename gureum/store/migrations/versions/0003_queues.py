"""Built-in queues (SQS-compatible) and their messages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("purged_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "queue_messages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("message_attributes", sa.JSON, nullable=True),
        sa.Column("sent_ms", sa.BigInteger, nullable=False),
        sa.Column("visible_ms", sa.BigInteger, nullable=False),
        sa.Column("receive_count", sa.Integer, nullable=False),
        sa.Column("first_receive_ms", sa.BigInteger, nullable=True),
        sa.Column("receipt", sa.String(32), nullable=True),
    )
    op.create_index("ix_queue_messages_queue", "queue_messages", ["queue", "id", "visible_ms"])


def downgrade() -> None:
    op.drop_index("ix_queue_messages_queue", "queue_messages")
    op.drop_table("queue_messages")
    op.drop_table("queues")
