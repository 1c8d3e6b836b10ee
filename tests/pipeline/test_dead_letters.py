"""Dead letters and stuck 补正 submissions as operators requeue them (lianban.pipeline.dead_letters): each
requeued once, however many operators requeue at once."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select, update

from lianban.app.config import Paths
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.models import Delivery, Supplement
from lianban.ledger.store import DeliveryState, SupplementState, utcnow
from lianban.pipeline.dead_letters import list_dead, requeue, requeue_supplements
from lianban.pipeline.stage import stage


def _one_dead(paths: Paths, seeded: Any) -> int:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        first = s.scalars(select(Delivery.id).order_by(Delivery.id)).first()
        assert first is not None
        s.execute(update(Delivery).where(Delivery.id == first)
                  .values(state=DeliveryState.REFUSED, attempts=1, last_error="部门拒收：字段不合规"))
    return first


def test_a_dead_letter_requeued_by_another_operator_meanwhile_is_requeued_once(seeded: Any, paths: Paths) -> None:
    """Another operator's requeue of the same dead letter is committing while this one reads it: this one waits,
    then finds it due already and leaves it alone (not requeued twice, its reason not wrapped twice)."""
    dead, sessions, counted = _one_dead(paths, seeded), session_factory(paths.ledger_url), []
    with sessions.begin() as other:
        write_lock(other)
        row = other.get(Delivery, dead)
        assert row is not None
        row.state, row.attempts, row.next_attempt_at = DeliveryState.PENDING, 0, utcnow()
        row.last_error = f"操作员重新排队 (requeued by an operator); was: {row.last_error}"
        other.flush()
        mine = threading.Thread(target=lambda: counted.append(requeue(paths.ledger_url)))
        mine.start()
        mine.join(timeout=0.5)
    mine.join(timeout=30)
    assert counted == [0] and list_dead(paths.ledger_url) == []
    with sessions() as s:
        row = s.get(Delivery, dead)
        assert row is not None and row.state == DeliveryState.PENDING
        assert row.last_error == "操作员重新排队 (requeued by an operator); was: 部门拒收：字段不合规"


def test_a_supplement_requeued_by_another_operator_meanwhile_is_requeued_once(paths: Paths) -> None:
    """The same for 补正 submissions (``lianban supplements retry`` twice at once)."""
    now, sessions, counted = utcnow(), session_factory(paths.ledger_url), []
    with sessions.begin() as s:
        s.add(Supplement(source="hrss", source_seq=1, case_no="BZ1", item_code="14", department="housing_fund",
                         supplement_id="S1", materials='["M01"]', state=SupplementState.DEAD, attempts=20,
                         next_attempt_at=now, last_error="RETRY: 连接被拒绝", created_at=now))
    with sessions.begin() as other:
        write_lock(other)
        other.execute(update(Supplement).values(state=SupplementState.PENDING, attempts=0))
        mine = threading.Thread(target=lambda: counted.append(requeue_supplements(paths.ledger_url)))
        mine.start()
        mine.join(timeout=0.5)
    mine.join(timeout=30)
    assert counted == [0]
    with sessions() as s:
        assert s.scalars(select(Supplement.last_error)).one() == "RETRY: 连接被拒绝"


def test_ten_requeues_keep_the_newest_error_once_and_bounded(seeded: Any, paths: Paths) -> None:
    """Each requeue wrapped last_error in one more "requeued; was: …": ten requeues of a row with a department's
    100 KB reason kept it ten times over, growing without end."""
    dead, sessions = _one_dead(paths, seeded), session_factory(paths.ledger_url)
    with sessions.begin() as s:
        s.execute(update(Delivery).where(Delivery.id == dead)
                  .values(last_error="部门拒收：字段不合规" + "。" * 100_000))
    for _ in range(10):
        assert requeue(paths.ledger_url) == 1
        with sessions.begin() as s:  # it went out again and was given up on again, its reason the same
            s.execute(update(Delivery).where(Delivery.id == dead).values(state=DeliveryState.DEAD))
    with sessions() as s:
        kept = s.get(Delivery, dead)
    assert kept is not None and kept.last_error and len(kept.last_error) <= 500
    assert kept.last_error.startswith("操作员重新排队 (requeued by an operator); was: 部门拒收：字段不合规")
    assert kept.last_error.count("操作员重新排队") == 1 and kept.last_error.endswith("…（已截断）")
