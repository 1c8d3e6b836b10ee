"""keyed evidence chain: chain key id per entry, a MACed head anchor

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.add_column(sa.Column("chain_kid", sa.String(length=64), nullable=True))
    anchor = op.create_table(
        "evidence_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("head_id", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_kid", sa.String(length=64), nullable=True),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(anchor, [{"id": 1, "head_id": 0, "head_hash": "0" * 64, "chain_kid": None, "mac": ""}])
    op.execute("DELETE FROM watermarks WHERE name = 'evidence_head'")


def downgrade() -> None:
    op.drop_table("evidence_anchor")
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.drop_column("chain_kid")
