"""Metrics: data points per node and time bucket, and the metrics that exist.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_data",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("metric_name", sa.String(255), primary_key=True),
        sa.Column("dimensions", sa.Text, primary_key=True),
        sa.Column("resolution", sa.Integer, primary_key=True),
        sa.Column("timestamp", sa.BigInteger, primary_key=True),
        sa.Column("node_id", sa.String(36), primary_key=True),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("sample_count", sa.Float, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("minimum", sa.Float, nullable=False),
        sa.Column("maximum", sa.Float, nullable=False),
        sa.Column("histogram", sa.JSON, nullable=False),
    )
    op.create_index("ix_metric_data_age", "metric_data", ["resolution", "timestamp"])
    op.create_table(
        "metric_names",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("metric_name", sa.String(255), primary_key=True),
        sa.Column("dimensions", sa.Text, primary_key=True),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_names")
    op.drop_index("ix_metric_data_age", "metric_data")
    op.drop_table("metric_data")
