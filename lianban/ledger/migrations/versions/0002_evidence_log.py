"""evidence log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:21:18.464147
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_nos", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_hash"),
    )
    # The head anchor row exists from the start, so the first append can lock it like every other.
    watermarks = sa.table("watermarks", sa.column("name", sa.String), sa.column("value", sa.Integer),
                          sa.column("updated_at", sa.DateTime))
    op.bulk_insert(watermarks, [{"name": "evidence_head", "value": 0, "updated_at": datetime.now(UTC)
                                 .replace(tzinfo=None)}])


def downgrade() -> None:
    op.execute("DELETE FROM watermarks WHERE name = 'evidence_head'")
    op.drop_table("evidence")
