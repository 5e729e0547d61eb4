"""REST APIs (apigateway's) beside HTTP APIs (apigatewayv2's): which service an API is.

REST APIs share ``gateway_apis`` and ``gateway_parts`` with HTTP APIs, so that the two
kinds share one id space (an invoke URL's id names one API, whichever kind it is);
``service`` tells them apart. Rows written before it are apigatewayv2's.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_apis") as batch:
        batch.add_column(
            sa.Column("service", sa.String(16), nullable=False, server_default="apigatewayv2")
        )


def downgrade() -> None:
    with op.batch_alter_table("gateway_apis") as batch:
        batch.drop_column("service")
