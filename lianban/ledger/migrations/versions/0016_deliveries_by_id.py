"""Deliveries get an index on (department, state, id): a poll reads a department's accepted deliveries a page at
a time in id order past the last page's, and with only the (department, state, next_attempt_at) index SQLite
read every accepted delivery of the department and sorted them for each page (60 ms a page of 1,000 with
37,713 accepted at medical; a million-record backlog would have cost seconds a page, the whole poll growing
with the square of it). With this one a page reads its own rows, already in order (3 ms).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_by_id", "deliveries", ["department", "state", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_by_id", table_name="deliveries")
