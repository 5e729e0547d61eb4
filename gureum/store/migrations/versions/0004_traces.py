"""Traces: segment documents, per-trace summaries, their annotations; sampling rules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_segments",
        sa.Column("trace_id", sa.String(35), primary_key=True),
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("parent_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=True),
        sa.Column("subsegment", sa.Boolean, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(35), primary_key=True),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("segment_count", sa.Integer, nullable=False),
        sa.Column("limit_exceeded", sa.Boolean, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_traces_start_time", "traces", ["start_time"])
    op.create_table(
        "trace_annotations",
        sa.Column("trace_id", sa.String(35), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("string_value", sa.String(1000), nullable=True),
        sa.Column("number_value", sa.Float, nullable=True),
        sa.Column("start_time", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_trace_annotations_string",
        "trace_annotations",
        ["key", "string_value", "start_time"],
    )
    op.create_index(
        "ix_trace_annotations_number",
        "trace_annotations",
        ["key", "number_value", "start_time"],
    )
    op.create_index("ix_trace_annotations_trace", "trace_annotations", ["trace_id"])
    op.create_table(
        "sampling_rules",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("rule", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sampling_rules")
    op.drop_table("trace_annotations")
    op.drop_table("traces")
    op.drop_table("trace_segments")
