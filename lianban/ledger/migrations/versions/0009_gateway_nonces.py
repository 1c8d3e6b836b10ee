"""Department callbacks: the gateway's nonce memory, shared by every worker of the hub's API

Revision ID: 0009
Revises: 0008
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
        "gateway_nonces",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "nonce"),
    )
    op.create_index("ix_gateway_nonces_seen_at", "gateway_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_nonces_seen_at", table_name="gateway_nonces")
    op.drop_table("gateway_nonces")
