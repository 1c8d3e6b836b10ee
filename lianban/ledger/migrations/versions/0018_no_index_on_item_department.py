"""Case items lose their index on ``department``: no query searches items by department (the backlog counts of
``lianban status``, the dashboard and the daily report group every open item by it, and SQLite's planner read the
whole index and each item's row for that: 85–123 ms at 100,000 records, against 81–89 ms reading the table), while
every item staged paid for an entry in it: staging 100,000 records took 0.0–0.5 s less without it (about 2 %, six
runs each, in turn), and the index held 7.5 MB.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_case_items_department", table_name="case_items")


def downgrade() -> None:
    op.create_index("ix_case_items_department", "case_items", ["department"], unique=False)
