"""The ledger schema is owned by Alembic: up, down and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from lianban.ledger.db import alembic_config, engine_for, upgrade

TABLES = {"cases", "case_items", "deliveries", "status_events", "quarantine", "watermarks", "evidence",
          "evidence_anchor", "parked_statuses", "illegal_transitions", "payment_requests", "supplements",
          "query_attempts", "gateway_nonces", "incidents", "health_checks", "task_failures", "sms_notices",
          "stage_runs", "delivery_keys", "alembic_version"}


def test_migrations_go_up_down_and_up_again(ledger_url: str) -> None:
    upgrade(ledger_url)  # idempotent on an up-to-date ledger
    assert set(inspect(engine_for(ledger_url)).get_table_names()) == TABLES
    command.downgrade(alembic_config(ledger_url), "base")
    engine_for(ledger_url).dispose()
    assert set(inspect(engine_for(ledger_url)).get_table_names()) <= {"alembic_version"}
    upgrade(ledger_url)
    engine_for(ledger_url).dispose()
    assert set(inspect(engine_for(ledger_url)).get_table_names()) == TABLES
