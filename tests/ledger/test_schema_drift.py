"""The models and the migrations agree: a ledger migrated to head holds what lianban.ledger.models declares, so
Alembic's autogenerate finds nothing to write (a column, index or constraint added to one and not the other
fails here)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lianban.ledger.db import engine_for, upgrade
from lianban.ledger.models import Base

#: differences left on purpose, by dialect: SQLite does not enforce a VARCHAR's length, so 0019 widens evidence.kind
#: on PostgreSQL only (widening it on SQLite would copy the whole log)
KNOWN = {"sqlite": {("modify_type", "evidence", "kind")}}


def test_autogenerate_finds_no_drift_between_models_and_migrations(ledger_url: str) -> None:
    upgrade(ledger_url)
    engine = engine_for(ledger_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        found = [_named(d) for d in compare_metadata(context, Base.metadata)]
    assert [d for d in found if d not in KNOWN.get(engine.dialect.name, set())] == []


def _named(difference: object) -> object:
    """A difference as (kind, table, column) when it is about one column, else as Alembic gives it."""
    if isinstance(difference, list) and len(difference) == 1 and difference[0][0].startswith("modify_"):
        kind, _schema, table, column = difference[0][:4]
        return kind, table, column
    return difference
