"""The API gateway: APIs, and their routes, integrations, stages and deployments.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_apis",
        sa.Column("api_id", sa.String(16), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "gateway_parts",
        sa.Column("api_id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("part_id", sa.String(128), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_parts")
    op.drop_table("gateway_apis")
