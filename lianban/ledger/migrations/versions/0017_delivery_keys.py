"""Deliveries are found by idempotency key through a table of their own, filled in sorted batches.

The key is a hash (the departments' contract), so deliveries' unique index on it sent every new delivery to a
random page: a staging chunk's 5,000 deliveries dirtied some 5,000 pages of that index once it outgrew them,
about 20 MB written to the WAL per commit, and a million rows staged in 189 s against 134 s without it. The
keys now go to ``delivery_keys`` a staging run at a time, sorted (each page written once), and any still
missing with the batch that sends it (:mod:`lianban.ledger.delivery_keys`): every delivery sent can be found by
its key.
Existing deliveries are keyed here, in key order.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: the name SQLite's unnamed unique constraint is given for batch mode to find it (PostgreSQL named it itself)
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_PG_NAME = "deliveries_idempotency_key_key"


def upgrade() -> None:
    op.create_table(
        "delivery_keys",
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO delivery_keys (idempotency_key, delivery_id) "
               "SELECT idempotency_key, id FROM deliveries ORDER BY idempotency_key")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_PG_NAME, "deliveries", type_="unique")
        return
    with op.batch_alter_table("deliveries", naming_convention=_NAMES, recreate="always") as batch_op:
        batch_op.drop_constraint("uq_deliveries_idempotency_key", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint(_PG_NAME, "deliveries", ["idempotency_key"])
    else:
        with op.batch_alter_table("deliveries", naming_convention=_NAMES, recreate="always") as batch_op:
            batch_op.create_unique_constraint("uq_deliveries_idempotency_key", ["idempotency_key"])
    op.drop_table("delivery_keys")
