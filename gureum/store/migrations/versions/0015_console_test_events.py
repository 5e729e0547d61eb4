"""The console's saved test events: named events per function, shared by every node.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
# (0014 is being added on another branch; this is re-chained after it at merge)
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_test_events",
        sa.Column("function_name", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(25), primary_key=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_test_events")
