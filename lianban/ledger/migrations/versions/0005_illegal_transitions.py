"""illegal transitions: a status report the status machine refuses is kept with the sender's words

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "illegal_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_item_id", sa.Integer(), sa.ForeignKey("case_items.id"), nullable=False),
        sa.Column("from_status", sa.String(length=8), nullable=True),
        sa.Column("to_status", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("department_code", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_item_id", "to_status", "changed_at", "source"),
    )


def downgrade() -> None:
    op.drop_table("illegal_transitions")
