"""intake and parking: a fingerprint per case (a re-read row is recognised), status rows parked with their
reasons (unreadable, or waiting for their case), status events parked when 皖事通办 refuses them

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
    with op.batch_alter_table("status_events") as batch_op:
        batch_op.add_column(sa.Column("parked_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("parked_at", sa.DateTime(), nullable=True))
    op.create_table(
        "parked_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_seq", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_seq"),
    )
    op.create_index("ix_parked_statuses_state", "parked_statuses", ["state"])


def downgrade() -> None:
    op.drop_index("ix_parked_statuses_state", table_name="parked_statuses")
    op.drop_table("parked_statuses")
    with op.batch_alter_table("status_events") as batch_op:
        batch_op.drop_column("parked_at")
        batch_op.drop_column("parked_reason")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("fingerprint")
