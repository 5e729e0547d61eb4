"""Event source mappings and the Leasing Service's leases.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_source_mappings",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("function_arn", sa.String(256), nullable=False),
        sa.Column("event_source_arn", sa.String(512), nullable=False, index=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.String(256), nullable=False),
        sa.Column("last_result", sa.String(256), nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("lease_key", sa.String(300), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False, index=True),
        sa.Column("shard", sa.String(128), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=True),
        sa.Column("taken_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("event_source_mappings")
