"""Every send of an SMS notice, whatever its version: ``attempts`` counts the sends of the version it holds now (a
notice moved to another number starts afresh there), so an operator read 0 sends of a notice texted three times to
a number the person gave up. Notices already there count the sends of their version: the earlier ones were not kept.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_notices") as batch:
        batch.add_column(sa.Column("sends", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE sms_notices SET sends = attempts")


def downgrade() -> None:
    with op.batch_alter_table("sms_notices") as batch:
        batch.drop_column("sends")
