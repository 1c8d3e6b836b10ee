"""Two delivery runs for one department at the same moment (a retry overlapping a slow first try, two Celery
workers) never send the same delivery twice: each run claims its rows (lianban.ledger.outbox), on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import func, select, update

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.domain.schemas import schema_path
from lianban.errors import RejectedError, RetriableError
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Delivery
from lianban.ledger.outbox import claim, due_count, first_due
from lianban.ledger.store import DUE_STATES, DeliveryState, utcnow
from lianban.pipeline.deliver import DeliverResult, _Run, deliver
from lianban.pipeline.lanes import merged
from lianban.pipeline.sealer import BatchSealer
from lianban.pipeline.stage import stage
from lianban.wire.contract import DepartmentConnector, NoProofs, Peer
from lianban.wire.settings import parse_connection

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


def test_the_backlog_counts_due_rows_up_to_a_bound_and_not_those_claimed(seeded: Any, paths: Paths,
                                                                         ledger_url: str) -> None:
    stage(seeded[0], ledger_url, paths.keys_dir)

    def due(up_to: int) -> int:
        with session_factory(ledger_url)() as session:
            return due_count(session, Delivery, DEPT, DUE_STATES, up_to)

    total = due(10_000)
    assert total > 10 and due(10) == 10
    _claim(ledger_url, 7)  # held by a run now: not due until its lease ends
    assert due(10_000) == total - 7


def test_the_next_due_delivery_is_the_one_a_claim_takes_first_and_moves_only_with_claims(
        seeded: Any, paths: Paths, ledger_url: str) -> None:
    """What a delivery run watches to tell whether another department's run is claiming (lianban.app.jobs): the
    row a claim would take next; rows falling due later (staged since, backed off) never move it."""
    stage(seeded[0], ledger_url, paths.keys_dir)

    def head() -> int | None:
        with session_factory(ledger_url)() as session:
            return first_due(session, Delivery, DEPT, DUE_STATES)

    first = head()
    assert first is not None and _claim(ledger_url, 3)[0] == first
    second = head()
    assert second is not None and second != first
    with session_factory(ledger_url).begin() as session:  # a later row backed off: due in a minute
        later = session.scalar(select(func.max(Delivery.id)).where(Delivery.department == DEPT))
        session.execute(update(Delivery).where(Delivery.id == later)
                        .values(state=DeliveryState.RETRY, next_attempt_at=utcnow() + timedelta(minutes=1)))
    assert head() == second
    _claim(ledger_url, 10_000)
    assert head() is None  # everything held or waiting: none due


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


def _peer(paths: Paths) -> Any:
    return load_department(DEPT, department_settings(DEPT), paths.keys_dir)


def test_lanes_of_one_run_send_every_delivery_exactly_once(seeded: Any, paths: Paths, simulation: Any,
                                                          ledger_url: str) -> None:
    """Three lanes (each its own connection) at once: every delivery accepted once, the counts added up."""
    stage(seeded[0], ledger_url, paths.keys_dir)
    result = deliver(_peer(paths), ledger_url, 4, paths.keys_dir, lanes=[_peer(paths), _peer(paths)])
    with session_factory(ledger_url)() as session:
        states = dict(session.execute(select(Delivery.state, func.count()).where(Delivery.department == DEPT)
                                      .group_by(Delivery.state)).all())
    assert states == {DeliveryState.ACCEPTED: result.accepted} and result.sent == result.accepted > 8
    assert result.stopped_by is None
    stats = simulation.engines[DEPT].stats()
    assert (stats["unique"], stats["duplicates"]) == (result.accepted, 0)


def _down(paths: Paths) -> Any:
    """A connection to the department on a port nobody listens on."""
    extra = {"connect_timeout": 1, "read_timeout": 2, "wsdl": str(schema_path("medical", "medical.wsdl"))}
    down = parse_connection(DEPT, json.dumps({"host": "127.0.0.1", "port": 9, "schema": "http", "login": "x",
                                              "password": "y", "extra": extra}))
    return load_department(DEPT, down, paths.keys_dir)


class _Refusing:
    """A medical connection whose every call is a transient failure, at once (a unit's stand-in)."""

    department = DEPT

    def submit(self, batch: Any, seal: Any) -> Any:
        raise RetriableError("医保局暂停受理")


def test_a_lane_that_stops_the_run_stops_the_others_after_their_batch(seeded: Any, paths: Paths, simulation: Any,
                                                                     ledger_url: str) -> None:
    """One lane's batch stops the run, the other's connection is fine: it stops after its batch, the rest wait
    for the next run."""
    stage(seeded[0], ledger_url, paths.keys_dir)
    with session_factory(ledger_url)() as session:
        total = int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.department == DEPT))
                    or 0)
    stopping = Peer(cast(DepartmentConnector, _Refusing()), NoProofs())
    result = deliver(stopping, ledger_url, 2, paths.keys_dir, lanes=[_peer(paths)])
    assert result.stopped_by == "医保局暂停受理" and result.retrying == 2  # the stopping lane's batch backs off
    assert result.accepted < total // 2  # the other lane stopped after its batch, not at the end of the outbox
    assert simulation.engines[DEPT].stats()["unique"] == result.accepted


def test_every_lane_down_backs_off_one_batch_each(seeded: Any, paths: Paths, ledger_url: str) -> None:
    """The department down: each lane's batch backs off, and no lane goes on claiming after the run stopped."""
    stage(seeded[0], ledger_url, paths.keys_dir)
    peers = [_down(paths) for _ in range(2)]
    result = deliver(peers[0], ledger_url, 3, paths.keys_dir, lanes=peers[1:])
    assert result.stopped_by and 3 <= result.retrying == result.sent <= 6  # one batch per lane at most
    with session_factory(ledger_url)() as session:
        retrying = session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.department == DEPT, Delivery.state == DeliveryState.RETRY))
    assert retrying == result.retrying


def test_lanes_add_up_their_counts_and_keep_the_first_stop() -> None:
    one = DeliverResult("medical", sent=5, accepted=4, refused=1, split=1)
    two = DeliverResult("medical", sent=3, retrying=3, stopped_by="医保局暂不可用")
    total = merged([one, two])
    assert (total.sent, total.accepted, total.refused, total.retrying, total.split) == (8, 4, 1, 3, 1)
    assert total.stopped_by == "医保局暂不可用" and merged([two, one]).stopped_by == "医保局暂不可用"


class _Outlived:
    """A run that outlives its lease: while its batch is out, its lease ends (its worker taken for dead), a later
    run claims the same rows and delivers them, and then this run's own call times out."""

    department = DEPT

    def __init__(self, paths: Paths, ledger_url: str) -> None:
        self.paths, self.ledger_url, self.later = paths, ledger_url, DeliverResult(DEPT)

    def submit(self, batch: Any, seal: Any) -> Any:
        with session_factory(self.ledger_url).begin() as session:
            session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        self.later = deliver(_peer(self.paths), self.ledger_url, 100, self.paths.keys_dir)
        raise RetriableError("请求超时，稍后重试（ReadTimeout）")


def test_a_run_that_outlived_its_lease_never_undoes_what_a_later_run_settled(seeded: Any, paths: Paths,
                                                                            simulation: Any, ledger_url: str) -> None:
    stage(seeded[0], ledger_url, paths.keys_dir)
    outlived = _Outlived(paths, ledger_url)
    stale = deliver(Peer(cast(DepartmentConnector, outlived), NoProofs()), ledger_url, 3, paths.keys_dir)
    with session_factory(ledger_url)() as session:
        states = dict(session.execute(select(Delivery.state, func.count()).where(Delivery.department == DEPT)
                                      .group_by(Delivery.state)).all())
    assert outlived.later.accepted > 3 and states == {DeliveryState.ACCEPTED: outlived.later.accepted}
    assert stale.retrying == 0 and stale.stopped_by  # its timeout changed nothing the later run had settled
    assert simulation.engines[DEPT].stats()["unique"] == outlived.later.accepted


class _SlowRefusing:
    """A medical connection that refuses every batch for something in it (so it is split down to single items),
    each call taking four minutes of the ledger's clock; after each call another run tries to claim rows."""

    department = DEPT

    def __init__(self, ledger_url: str, ahead: list[timedelta]) -> None:
        self.ledger_url, self.ahead, self.rival = ledger_url, ahead, list[int]()

    def submit(self, batch: Any, seal: Any) -> Any:
        self.ahead[0] += timedelta(minutes=4)
        self.rival += _claim(self.ledger_url, 1000)
        raise RejectedError("部门拒收", "E_ITEM", "数据项不符合规范")


def test_a_long_split_keeps_its_rows_claimed_until_it_has_settled_them(seeded: Any, paths: Paths,
                                                                      ledger_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused batch of 8 is split down to single items: 15 calls, an hour at four minutes each, past the
    10-minute lease. Its rows stayed claimed only for the lease, so another run claimed and sent the rows this
    one had not reached yet; the split now renews the claim on its unsettled rows before each call."""
    from lianban.ledger import outbox

    stage(seeded[0], ledger_url, paths.keys_dir)
    ahead = [timedelta()]
    monkeypatch.setattr(outbox, "utcnow", lambda: utcnow() + ahead[0])
    mine = _claim(ledger_url, 8)
    slow = _SlowRefusing(ledger_url, ahead)
    with session_factory(ledger_url).begin() as session:  # the others are someone else's, not due for the rival
        session.execute(update(Delivery).where(Delivery.id.not_in(mine)).values(next_attempt_at=utcnow()
                                                                                 + timedelta(days=1)))
    run = _Run(Peer(cast(DepartmentConnector, slow), NoProofs()), session_factory(ledger_url),
               BatchSealer.load(paths.keys_dir, DEPT), EvidenceLog.load(paths.keys_dir), DeliverResult(DEPT))
    assert run.deliver_batch(mine) is False  # every item refused on its own: not theirs, backed off
    assert ahead[0] > timedelta(minutes=50) and run.result.split == 7
    assert slow.rival == []
