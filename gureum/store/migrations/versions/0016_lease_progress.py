"""A stream shard's lease records its reader's progress: what was handed to the
function, the duplicates after a takeover, the iterator age, and a tumbling window.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("delivered", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("iterator_age_ms", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("window", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("window")
        batch.drop_column("iterator_age_ms")
        batch.drop_column("duplicates")
        batch.drop_column("delivered")
