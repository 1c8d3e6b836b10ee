"""Two delivery runs for one department at the same moment (a retry overlapping a slow first try, two Celery
workers) never send the same delivery twice: each run claims its rows (lianban.ledger.outbox), on SQLite and on
PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.ledger.outbox import claim
from lianban.ledger.store import DUE_STATES, DeliveryState, utcnow
from lianban.pipeline.deliver import DeliverResult, deliver
from lianban.pipeline.stage import stage

DEPT = "medical"


def _claim(ledger_url: str, limit: int) -> list[int]:
    with session_factory(ledger_url).begin() as session:
        return claim(session, Delivery, DEPT, DUE_STATES, limit)


def test_concurrent_claims_never_share_a_row_and_a_lease_ends(seeded: Any, paths: Paths, ledger_url: str) -> None:
    stage(seeded[0], ledger_url, paths.keys_dir)
    with session_factory(ledger_url)() as session:
        total = int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.department == DEPT))
                    or 0)
    with ThreadPoolExecutor(6) as pool:
        taken = list(pool.map(lambda _: _claim(ledger_url, 5), range(12)))
    flat = [i for ids in taken for i in ids]
    assert len(flat) == len(set(flat)) == min(total, 60)  # no row twice
    rest = _claim(ledger_url, total)
    assert len(rest) == total - len(flat) and not set(rest) & set(flat)  # the rest, and nothing held twice
    assert _claim(ledger_url, total) == []  # everything is held now
    with session_factory(ledger_url).begin() as session:  # a run that died: its lease ends
        session.execute(update(Delivery).where(Delivery.id.in_(flat)).values(next_attempt_at=utcnow()
                                                                              - timedelta(seconds=1)))
    assert sorted(_claim(ledger_url, total)) == sorted(flat)


def test_two_runs_at_once_send_every_delivery_exactly_once(seeded: Any, paths: Paths, simulation: Any,
                                                          ledger_url: str) -> None:
    stage(seeded[0], ledger_url, paths.keys_dir)

    def run(_: int) -> DeliverResult:
        peer = load_department(DEPT, department_settings(DEPT), paths.keys_dir)
        return deliver(peer, ledger_url, 5, paths.keys_dir)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run, range(2))
    with session_factory(ledger_url)() as session:
        states = dict(session.execute(select(Delivery.state, func.count()).where(Delivery.department == DEPT)
                                      .group_by(Delivery.state)).all())
    assert states == {DeliveryState.ACCEPTED: first.accepted + second.accepted}
    assert first.accepted and second.accepted  # both worked, on different rows
    stats = simulation.engines[DEPT].stats()
    assert (stats["unique"], stats["duplicates"]) == (first.accepted + second.accepted, 0)
