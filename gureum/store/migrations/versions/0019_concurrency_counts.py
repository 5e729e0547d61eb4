"""Each node's count of the invocations it runs now of each function with reserved
concurrency, so that nodes sharing a store share the reservation (a function reserved
to 1 runs one invocation at a time across all of them, not one on each).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concurrency_counts",
        sa.Column("function", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(36), primary_key=True),
        sa.Column("running", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("concurrency_counts")
