"""The message log indexed by its time (``evidence.at``): the monthly archive finds a month's first and last entry
through it (:mod:`lianban.ledger.evidence_archive`). Without it each month looked for read the whole log, and a
month with no entry (the hub idle, or before the first archive) was looked for, and the log read, every day.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.create_index(batch.f("ix_evidence_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_index(batch.f("ix_evidence_at"))
