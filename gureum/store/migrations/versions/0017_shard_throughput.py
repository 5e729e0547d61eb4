"""A stream shard counts what is written to it and read from it each second, for
Kinesis's per-shard limits (1,000 records and 1 MiB a second in; 5 reads and 2 MiB a
second out), so that every node sharing the store counts against the same limits.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: (name, type) of each new column, all zero to begin with
_COLUMNS = (
    ("write_second", sa.BigInteger),
    ("write_records", sa.Integer),
    ("write_bytes", sa.BigInteger),
    ("read_second", sa.BigInteger),
    ("read_calls", sa.Integer),
    ("read_paid_ms", sa.BigInteger),
)


def upgrade() -> None:
    with op.batch_alter_table("kinesis_shards") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("kinesis_shards") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
