"""WebSocket APIs' connections, and the nodes that hold them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "websocket_connections",
        sa.Column("connection_id", sa.String(32), primary_key=True),
        sa.Column("api_id", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(36), nullable=False, index=True),
        sa.Column("connected_ms", sa.BigInteger, nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(1024), nullable=True),
    )
    op.create_table(
        "edge_nodes",
        sa.Column("node_id", sa.String(36), primary_key=True),
        sa.Column("address", sa.String(256), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("edge_nodes")
    op.drop_table("websocket_connections")
