"""补正 loop: materials on status events and case items, the 补正 deadline, and the supplements table

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_events") as batch:
        batch.add_column(sa.Column("materials", sa.Text(), nullable=True))
    with op.batch_alter_table("case_items") as batch:
        batch.add_column(sa.Column("materials", sa.Text(), nullable=True))
        batch.add_column(sa.Column("supplement_due", sa.Date(), nullable=True))
    op.create_table(
        "supplements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_seq", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=4), nullable=True),
        sa.Column("case_item_id", sa.Integer(), sa.ForeignKey("case_items.id"), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("supplement_id", sa.String(length=64), nullable=True),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("supplied_at", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_seq"),
        sa.UniqueConstraint("supplement_id"),
    )
    op.create_index("ix_supplements_due", "supplements", ["department", "state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_supplements_due", table_name="supplements")
    op.drop_table("supplements")
    with op.batch_alter_table("case_items") as batch:
        batch.drop_column("supplement_due")
        batch.drop_column("materials")
    with op.batch_alter_table("status_events") as batch:
        batch.drop_column("materials")
