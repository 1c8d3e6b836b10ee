"""The evidence log's ``kind`` holds 32 characters, not 16: an operator's quarantine decision is logged as
``quarantine-overridden`` or ``quarantine-rejected`` (21 and 19 characters), which PostgreSQL refused, so on
PostgreSQL ``lianban quarantine release`` and ``reject`` rolled back. SQLite does not enforce a VARCHAR's length:
there the column is left as it is (widening it would copy the whole log into a new table).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("evidence", "kind", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("evidence", "kind", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
