"""Alembic environment for the ledger; the URL comes from lianban.ledger.db.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from lianban.ledger.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # the wait every other connection gives a SQLite writer (lianban.ledger.db), and never a statement's
    # parameters in an error
    waits = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    engine = create_engine(url, hide_parameters=True, **waits)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
