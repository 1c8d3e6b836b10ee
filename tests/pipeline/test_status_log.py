"""HRSS's status log (lianban.pipeline.status_log): against the other writers of the same items, a final status
stays final whichever commits first; a row waiting for its case keeps no personal data in plaintext."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.frontend import status_log as log_table
from connectors.hrss.mapping import STATUS_COLUMNS as S
from connectors.hrss.statuses import CODES
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.log_gaps import GAP_GRACE_SECONDS
from lianban.ledger.models import Case, CaseItem, ParkedStatus, StatusEvent, Watermark
from lianban.ledger.results import result_summary
from lianban.ledger.store import ParkedState, utcnow
from lianban.pipeline import notices, status_log
from lianban.pipeline.stage import stage
from simulators.people import generate
from tests.conftest import own_postgres

HRSS_OWN = {f"{n:02d}" for n in range(1, 11)}


def _held_with_hrss_item(paths: Paths, ledger_url: str) -> tuple[FrontendDB, str, str]:
    """A 前置库 whose one application (a wrong ID check digit) is held, told 补正资料; its 办件编号 and one of
    HRSS's own items it chose."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    app = {**app, "id_number": app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")}
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, ledger_url, paths.keys_dir).quarantined == 1
    return db, app["case_no"], min(HRSS_OWN & set(app["items"].split(",")))


def _statuses(ledger_url: str, case_no: str, code: str) -> tuple[list[str], str]:
    """The item's events' statuses in order, and its status now."""
    with session_factory(ledger_url)() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no, CaseItem.item_code == code)).one()
        events = s.scalars(select(StatusEvent.status).where(StatusEvent.case_item_id == item.id)
                           .order_by(StatusEvent.id)).all()
        return list(events), item.status


def _statuses_now(ledger_url: str, case_no: str) -> dict[str, str]:
    with session_factory(ledger_url)() as s:
        return dict(s.execute(select(CaseItem.item_code, CaseItem.status).join(Case)  # type: ignore[arg-type]
                              .where(Case.case_no == case_no)).all())


def _refuse(ledger_url: str, case_no: str) -> None:
    """An operator refuses the held case (as ``lianban quarantine reject`` does, without its evidence entry)."""
    with session_factory(ledger_url).begin() as session:
        notices.refuse(session, case_no, "材料不实")


def test_an_operator_refusing_while_a_log_page_is_judged_waits_and_the_completed_item_stays_completed(
        paths: Paths, ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS completes its item (已办结) while an operator refuses the held case (不予受理): the refusal waits for
    the page and then leaves the completed item alone; it does not become refused after being completed."""
    db, case_no, code = _held_with_hrss_item(paths, ledger_url)
    others = set(_statuses_now(ledger_url, case_no)) - {code}
    db.append_status(case_no, code, CODES[Status.COMPLETED], at="2030-01-01T09:00:00+08:00")
    judged, go, real = threading.Event(), threading.Event(), status_log._Staged.of

    def paused(session: Session, case_nos: Collection[str]) -> Any:
        staged = real(session, case_nos)
        if case_no in case_nos:  # the page (not the waiting rows retried before it)
            judged.set()
            go.wait(20)
        return staged

    monkeypatch.setattr(status_log._Staged, "of", staticmethod(paused))
    collect = threading.Thread(target=status_log.collect_hrss, args=(db, ledger_url, paths.keys_dir))
    collect.start()
    assert judged.wait(20)
    refusing = threading.Thread(target=_refuse, args=(ledger_url, case_no))
    refusing.start()
    refusing.join(timeout=1)
    waited = refusing.is_alive()
    go.set()
    collect.join(timeout=60)
    refusing.join(timeout=60)
    assert _statuses(ledger_url, case_no, code) == ([Status.SUPPLEMENT.value, Status.COMPLETED.value],
                                                    Status.COMPLETED.value)
    assert waited  # the refusal waited for the page that was judging the item
    assert _statuses_now(ledger_url, case_no) == {c: Status.NOT_ACCEPTED.value for c in others} | {
        code: Status.COMPLETED.value}  # the rest of the case is refused all the same


def test_a_log_page_judged_while_an_operator_refuses_waits_and_the_refused_item_stays_refused(
        paths: Paths, ledger_url: str) -> None:
    """The other order: the refusal is being written when HRSS's 已办结 is read; the page waits for it, then
    finds the item refused (final) and does not complete it on top."""
    db, case_no, code = _held_with_hrss_item(paths, ledger_url)
    db.append_status(case_no, code, CODES[Status.COMPLETED], at="2030-01-01T09:00:00+08:00")
    collect = threading.Thread(target=status_log.collect_hrss, args=(db, ledger_url, paths.keys_dir))
    with session_factory(ledger_url).begin() as refusing:
        assert notices.refuse(refusing, case_no, "材料不实") >= 1
        collect.start()
        collect.join(timeout=1)
        waited = collect.is_alive()
    collect.join(timeout=60)
    assert _statuses(ledger_url, case_no, code) == ([Status.SUPPLEMENT.value, Status.NOT_ACCEPTED.value],
                                                    Status.NOT_ACCEPTED.value)
    assert waited  # the page waited for the refusal's transaction


def test_a_row_waiting_for_its_case_keeps_its_reason_masked_and_its_result_sealed_and_applies_as_reported(
        paths: Paths) -> None:
    """HRSS reports paying item 13 (with the applicant's ID and mobile numbers in its words, and the amount paid)
    before the application reaches the 前置库: the row waits with neither in plaintext; once the case is staged,
    the item completes with the words masked and the payment the applicant reads."""
    app = next(a for a in generate(60, seed=13) if "13" in a["items"].split(","))
    db = FrontendDB(paths.frontend_url)
    db.append_status(app["case_no"], "13", CODES[Status.COMPLETED], reason=f"申请人{app['id_number']}，电话"
                     f"{app['phone']}，已发放", at="2026-12-01T09:00:00+08:00",
                     result={"amount": "3000.00", "paid_on": "2026-12-01"})
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).waiting == 1
    with session_factory(paths.ledger_url)() as s:
        kept = s.scalars(select(ParkedStatus.change)).one() or ""
    assert app["id_number"] not in kept and app["phone"] not in kept and "3000.00" not in kept
    assert app["id_number"][-4:] in kept and "已发放" in kept  # masked, not dropped

    db.insert_applications([app])
    _completed_as_paid(paths, db, app)


def _completed_as_paid(paths: Paths, db: FrontendDB, app: dict[str, Any]) -> None:
    """`app` staged now, the waiting row applies: item 13 completed, the words masked, the payment readable."""
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 1
    with session_factory(paths.ledger_url)() as s:
        event = s.scalars(select(StatusEvent).join(CaseItem).join(Case).where(
            Case.case_no == app["case_no"], CaseItem.item_code == "13")).one()
    assert event.status == Status.COMPLETED.value and event.reason and "已发放" in event.reason
    assert app["id_number"] not in event.reason and app["phone"] not in event.reason
    summary = result_summary(load_ring(paths.keys_dir, VAULT), app["case_no"], "13", event.result)
    assert summary == "一次性奖励3000.00元已于2026-12-01发放"


def test_a_row_kept_waiting_as_reported_before_this_release_still_applies_with_its_result(paths: Paths) -> None:
    """A waiting row kept by an earlier release (its reason and result as HRSS reported them) applies as before."""
    app = next(a for a in generate(60, seed=13) if "13" in a["items"].split(","))
    change = {"seq": 1, "case_no": app["case_no"], "item_code": "13", "status": Status.COMPLETED.value,
              "department_code": CODES[Status.COMPLETED], "changed_at": "2026-12-01T09:00:00+08:00",
              "reason": f"申请人{app['id_number']}，电话{app['phone']}，已发放",
              "result": {"amount": "3000.00", "paid_on": "2026-12-01"}, "materials": []}
    with session_factory(paths.ledger_url).begin() as s:
        s.add(ParkedStatus(source="hrss", source_seq=1, case_no=app["case_no"], state=ParkedState.WAITING,
                           reasons="[]", change=json.dumps(change, ensure_ascii=False), created_at=utcnow()))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    _completed_as_paid(paths, db, app)


def _staged_hrss_item(paths: Paths, db: FrontendDB) -> tuple[str, str]:
    """One application staged from `db`: its 办件编号 and one of HRSS's own items it chose."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    return app["case_no"], min(HRSS_OWN & set(app["items"].split(",")))


def _row(case_no: str, code: str, status: Status, at: str, seq: int | None = None) -> dict[str, Any]:
    """A status log row as HRSS writes it (with `seq`: its 序号 given, as a sequence handed it out)."""
    row = {S["case_no"]: case_no, S["item_code"]: code, S["status_code"]: CODES[status], S["changed_at"]: at}
    return row if seq is None else {**row, S["seq"]: seq}


@pytest.mark.postgres
def test_a_log_row_committing_after_a_later_one_is_read_and_applied_in_order(paths: Paths) -> None:
    """On a PostgreSQL 前置库 HRSS's 受理 row takes 序号 1 and commits only after its 审核中 row (序号 2): the hub
    reading in between takes nothing past the missing 1, and then both, in order. Moving the watermark past 2
    lost the 受理 for good."""
    db = FrontendDB(own_postgres())
    db.create()
    case_no, code = _staged_hrss_item(paths, db)
    with db.engine.connect() as slow, slow.begin():
        slow.execute(insert(log_table), [_row(case_no, code, Status.ACCEPTED, "2026-12-01T09:00:00+08:00")])
        with db.engine.begin() as quick:
            quick.execute(insert(log_table), [_row(case_no, code, Status.UNDER_REVIEW,
                                                    "2026-12-01T09:05:00+08:00")])
        assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 0
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 2
    assert _statuses(paths.ledger_url, case_no, code) == ([Status.ACCEPTED.value, Status.UNDER_REVIEW.value],
                                                          Status.UNDER_REVIEW.value)


def test_a_log_number_that_never_commits_holds_the_rows_past_it_only_through_the_grace(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """序号 2 was handed out and rolled back: 3 waits for it through the grace, then is read, with a warning."""
    db = FrontendDB(paths.frontend_url)
    case_no, code = _staged_hrss_item(paths, db)
    with db.engine.begin() as conn:
        conn.execute(insert(log_table), [_row(case_no, code, Status.ACCEPTED, "2026-12-01T09:00:00+08:00", 1),
                                          _row(case_no, code, Status.UNDER_REVIEW, "2026-12-01T09:05:00+08:00", 3)])
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 1
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 0
    with session_factory(paths.ledger_url).begin() as s:
        seen = s.get(Watermark, "hrss_status_log.gap")
        assert seen is not None and seen.value == 2
        seen.updated_at -= timedelta(seconds=GAP_GRACE_SECONDS)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).read == 1
    assert _statuses(paths.ledger_url, case_no, code)[1] == Status.UNDER_REVIEW.value
    assert any("人社状态日志第 2 条已缺失" in r.getMessage() for r in caplog.records)


def test_a_row_behind_one_still_waiting_for_its_case_waits_too_and_both_apply_in_order(paths: Paths) -> None:
    """HRSS logs 受理 before the application reaches the 前置库 (it waits), then 审核中; the case is staged while a
    collect run is past its retry of waiting rows (stage and collect run on their own schedules). The 审核中 row
    waits behind the 受理 one, and the next run applies both in log order: applied at once, it made the 受理 (older)
    stale when retried, a change never recorded nor reported."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    code = min(HRSS_OWN & set(app["items"].split(",")))
    db = FrontendDB(paths.frontend_url)
    db.append_status(app["case_no"], code, CODES[Status.ACCEPTED], at="2026-12-01T09:00:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).waiting == 1
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1  # committed after the run's retry
    db.append_status(app["case_no"], code, CODES[Status.UNDER_REVIEW], at="2026-12-01T09:05:00+08:00")
    run = status_log._Run(status_log.FeedbackResult(status_log.HRSS), load_ring(paths.keys_dir, VAULT))
    status_log._page(session_factory(paths.ledger_url), db, run, status_log.PAGE)
    status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert _statuses(paths.ledger_url, app["case_no"], code) == ([Status.ACCEPTED.value, Status.UNDER_REVIEW.value],
                                                                 Status.UNDER_REVIEW.value)
