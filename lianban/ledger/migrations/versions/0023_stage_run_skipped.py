"""A staging run keeps the rows it skipped as known (the same row read again, or a duplicate row in the 前置库:
fate 重复行 in the reconciliation), so that its counts add up: extracted = staged + skipped + quarantined. Runs
before this one are kept with 0 (not counted then).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stage_runs") as batch:
        batch.add_column(sa.Column("skipped_known", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("stage_runs") as batch:
        batch.drop_column("skipped_known")
