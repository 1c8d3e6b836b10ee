"""An unreadable HRSS status-log row keeps its fields, sealed, so that a later run can read it again

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parked_statuses") as batch:
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parked_statuses") as batch:
        batch.drop_column("raw")
