"""Layers: each layer's newest version number, and its published versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "layers",
        sa.Column("name", sa.String(140), primary_key=True),
        sa.Column("last_version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "layer_versions",
        sa.Column("name", sa.String(140), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("unzipped_size", sa.BigInteger, nullable=False),
        sa.Column("policy", sa.JSON, nullable=True),
        sa.Column("policy_revision", sa.String(36), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("layer_versions")
    op.drop_table("layers")
