"""The applicant's progress query: the 查询密码's hash on each case, and failed query attempts (rate limit)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.create_table(
        "query_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_query_attempts_scope_at", "query_attempts", ["scope", "at"])


def downgrade() -> None:
    op.drop_index("ix_query_attempts_scope_at", table_name="query_attempts")
    op.drop_table("query_attempts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("password_hash")
