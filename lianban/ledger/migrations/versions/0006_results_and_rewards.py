"""results and rewards: sealed results on status events, payment requests to HRSS, cases held for correction

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_events") as batch:
        batch.add_column(sa.Column("result", sa.Text(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_item_id", sa.Integer(), sa.ForeignKey("case_items.id"), nullable=False),
        sa.Column("request_no", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_item_id"),
        sa.UniqueConstraint("request_no"),
    )


def downgrade() -> None:
    op.drop_table("payment_requests")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("held")
    with op.batch_alter_table("status_events") as batch:
        batch.drop_column("result")
