"""A 前置库 row taken as a duplicate of a case already in the ledger is kept, for the reconciliation to count

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skipped_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_seq", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_seq"),
    )
    op.create_index(op.f("ix_skipped_rows_read_at"), "skipped_rows", ["read_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_skipped_rows_read_at"), table_name="skipped_rows")
    op.drop_table("skipped_rows")
