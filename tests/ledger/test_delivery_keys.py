"""Deliveries are found by key through delivery_keys: keyed when staging ends, or by the claim that sends them."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, inspect, select, text

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.ledger.db import alembic_config, engine_for, session_factory, upgrade
from lianban.ledger.delivery_keys import by_key, key_staged
from lianban.ledger.models import Delivery, DeliveryKey
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import delivered_keys
from lianban.pipeline.stage import stage


def _keys(url: str) -> dict[str, int]:
    with session_factory(url)() as s:
        return dict(s.execute(select(DeliveryKey.idempotency_key, DeliveryKey.delivery_id)).all())


def _deliveries(url: str) -> dict[str, int]:
    with session_factory(url)() as s:
        return dict(s.execute(select(Delivery.idempotency_key, Delivery.id)).all())


def test_a_staging_run_keys_every_delivery_it_staged(seeded: Any, ledger_url: str) -> None:
    """On SQLite and on PostgreSQL."""
    assert stage(seeded[0], ledger_url, Paths.from_env().keys_dir).deliveries
    assert _keys(ledger_url) == _deliveries(ledger_url) != {}


def test_keying_again_changes_nothing(seeded: Any, ledger_url: str) -> None:
    """On SQLite and on PostgreSQL: a key already there is left as it is, never a second row."""
    stage(seeded[0], ledger_url, Paths.from_env().keys_dir)
    with session_factory(ledger_url).begin() as s:
        key_staged(s, 0)
    assert _keys(ledger_url) == _deliveries(ledger_url)


@pytest.mark.parametrize("unkeyed", ["all", "every other"])
def test_a_delivery_left_unkeyed_is_keyed_by_the_claim_that_sends_it(seeded: Any, paths: Paths, simulation: Any,
                                                                       unkeyed: str) -> None:
    """A staging run killed before its end leaves its deliveries unkeyed: each is keyed before it is sent, so
    the department's status callbacks find it; in a batch partly keyed (a row another transaction committed
    late beside rows a run keyed), the rest."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        keys = sorted(s.scalars(select(DeliveryKey.idempotency_key)))
        s.execute(delete(DeliveryKey).where(DeliveryKey.idempotency_key.in_(keys[::1 if unkeyed == "all" else 2])))
    peer = load_department("health", department_settings("health"), paths.keys_dir)
    result = deliver(peer, paths.ledger_url, batch_size=7, keys_dir=paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        health = dict(s.execute(select(Delivery.idempotency_key, Delivery.id)
                                .where(Delivery.department == "health")).all())
        found = delivered_keys(s, "health", list(health))
    assert result.accepted == len(health) == len(found) > 0
    if unkeyed == "all":
        assert _keys(paths.ledger_url) == health  # the other departments' rows, not sent, not keyed yet
    else:
        assert health.items() <= _keys(paths.ledger_url).items()


def test_a_lookup_by_key_reads_the_key_table_not_the_deliveries(seeded: Any, paths: Paths) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    key = next(iter(_keys(paths.ledger_url)))
    query = select(Delivery.id).where(Delivery.department == "health", by_key([key]))
    with session_factory(paths.ledger_url)() as s:
        compiled = query.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "delivery_keys USING PRIMARY KEY (idempotency_key=?)" in plan and "SCAN deliveries" not in plan, plan


def test_the_migration_keys_the_deliveries_there_and_drops_their_unique_index(ledger_url: str) -> None:
    """On SQLite and on PostgreSQL: a ledger at 0016 with a delivery in it, then brought up to date."""
    command.downgrade(alembic_config(ledger_url), "0016")
    engine_for(ledger_url).dispose()
    with engine_for(ledger_url).begin() as conn:
        conn.execute(text("INSERT INTO cases (case_no, id_index, region_code, approved_at, source_seq, fingerprint,"
                          " held, staged_at) VALUES ('BZ1', 'x', '341600', '2026-01-01', 1, 'f', false, "
                          "'2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO case_items (case_id, item_code, department, final) "
                          "SELECT id, '11', 'medical', false FROM cases"))
        conn.execute(text("INSERT INTO deliveries (case_item_id, department, idempotency_key, key_id, envelope, "
                          "state, attempts, next_attempt_at, created_at) SELECT id, 'medical', 'k1', 'v', '{}', "
                          "'pending', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM case_items"))
    upgrade(ledger_url)
    engine_for(ledger_url).dispose()
    uniques = inspect(engine_for(ledger_url)).get_unique_constraints("deliveries")
    assert [u["column_names"] for u in uniques] == [["case_item_id"]]
    assert list(_keys(ledger_url)) == ["k1"]
    with session_factory(ledger_url)() as s:
        assert s.scalar(select(func.count()).select_from(Delivery).where(by_key("k1"))) == 1
