"""Case items lose their index on ``final``: SQLite's planner chose it for "has the case an item in progress"
(the correlated subquery of staging's one-open-case-per-person check) over the (case_id, item_code) index, and
scanned every open item for each case asked about: 0.41 s per 2,000-row chunk at 100,000 records, 33 s for the
same query on that ledger; 0.015 s without it. A boolean with most rows on one side is no index to search by.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_case_items_final", table_name="case_items")


def downgrade() -> None:
    op.create_index("ix_case_items_final", "case_items", ["final"], unique=False)
