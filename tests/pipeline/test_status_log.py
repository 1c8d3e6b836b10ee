"""HRSS's status log (lianban.pipeline.status_log): against the other writers of the same items, a final status
stays final whichever commits first; a row waiting for its case keeps no personal data in plaintext."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from exchange_kit import RecordingPlatform
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.frontend import status_log as log_table
from connectors.hrss.mapping import STATUS_COLUMNS as S
from connectors.hrss.statuses import CODES, STATUSES
from lianban.app.config import Paths
from lianban.domain.catalog import window
from lianban.domain.clock import BEIJING
from lianban.domain.statuses import Status
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.log_gaps import GAP_GRACE_SECONDS
from lianban.ledger.models import Case, CaseItem, IllegalTransition, ParkedStatus, StatusEvent, Watermark
from lianban.ledger.results import result_summary
from lianban.ledger.store import ParkedState, utcnow
from lianban.pipeline import notices, status_log
from lianban.pipeline.report import report
from lianban.pipeline.stage import stage
from lianban.wire.contract import NoProofs, Peer, StatusSink
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


def _soon() -> str:
    """A time of HRSS's a minute ahead of now (later than anything the test recorded before), within the allowance."""
    return (datetime.now(BEIJING) + timedelta(minutes=1)).isoformat()


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
    db.append_status(case_no, code, CODES[Status.COMPLETED], at=_soon())
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
    db.append_status(case_no, code, CODES[Status.COMPLETED], at=_soon())
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
    run = status_log._Run(status_log.FeedbackResult(window()), load_ring(paths.keys_dir, VAULT))
    status_log._page(session_factory(paths.ledger_url), db, run, status_log.PAGE)
    status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert _statuses(paths.ledger_url, app["case_no"], code) == ([Status.ACCEPTED.value, Status.UNDER_REVIEW.value],
                                                                 Status.UNDER_REVIEW.value)


def test_rows_waiting_for_many_cases_are_placed_a_page_of_cases_at_a_time_each_case_in_log_order(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill can leave more cases waiting than one query may name (PostgreSQL takes 65,535 parameters a
    statement, and every case and item was one): the waiting rows are placed CASES_PER_PAGE cases at a time, each
    case's rows in one page and in log order, and rows of cases still not staged are not read at all."""
    apps = [a for a in generate(80, seed=3) if HRSS_OWN & set(a["items"].split(","))][:6]
    db = FrontendDB(paths.frontend_url)
    for minute, status in ((0, Status.ACCEPTED), (5, Status.UNDER_REVIEW)):
        for app in apps:
            db.append_status(app["case_no"], min(HRSS_OWN & set(app["items"].split(","))), CODES[status],
                             at=f"2026-12-01T09:0{minute}:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).waiting == 12
    db.insert_applications(apps[:5])  # the sixth stays unstaged: its rows keep waiting
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 5
    asked: list[int] = []
    of = status_log._Staged.of

    def counted(session: Session, case_nos: Collection[str]) -> status_log._Staged:
        asked.append(len(case_nos))
        return of(session, case_nos)

    monkeypatch.setattr(status_log, "CASES_PER_PAGE", 2)
    monkeypatch.setattr(status_log._Staged, "of", counted)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 10
    assert asked[:3] == [2, 2, 1]  # five staged cases, two a page; the unstaged sixth never asked for
    for app in apps[:5]:
        code = min(HRSS_OWN & set(app["items"].split(",")))
        assert _statuses(paths.ledger_url, app["case_no"], code) == (
            [Status.ACCEPTED.value, Status.UNDER_REVIEW.value], Status.UNDER_REVIEW.value)
    with session_factory(paths.ledger_url)() as s:
        still = s.scalars(select(ParkedStatus.case_no).where(ParkedStatus.state == ParkedState.WAITING)).all()
    assert set(still) == {apps[5]["case_no"]} and len(still) == 2


def _report(paths: Paths, platform: RecordingPlatform) -> int:
    return report(Peer(cast(StatusSink, platform), NoProofs()), paths.ledger_url, paths.keys_dir).changed


def _parked(paths: Paths) -> ParkedStatus:
    with session_factory(paths.ledger_url)() as s:
        return s.scalars(select(ParkedStatus)).one()


def test_a_row_parked_for_an_unknown_code_is_read_again_once_the_table_has_it_and_reported_once(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS logs a 办理状态 code its table does not have yet (its words quoting the applicant): the row is parked,
    and the ledger keeps none of it in plaintext. Once the code is added to ``connectors/hrss/statuses.py``, the
    next collection reads the parked row again and applies it, and 皖事通办 hears of it once; the row was lost
    until HRSS wrote it anew."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    db = FrontendDB(paths.frontend_url)
    case_no, code = _staged_hrss_item(paths, db)
    platform = RecordingPlatform()
    _report(paths, platform)
    db.append_status(case_no, code, "7", reason=f"{app['name']}（{app['id_number']}，{app['phone']}）材料已审",
                     at="2026-12-01T09:00:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).parked == 1
    engine_for(paths.ledger_url).dispose()
    raw = b"".join(p.read_bytes() for p in paths.home.glob("ledger.db*"))
    for field in ("id_number", "phone", "name"):
        assert app[field].encode() not in raw, f"{field} stored in plaintext"

    monkeypatch.setitem(STATUSES, "7", Status.UNDER_REVIEW)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 1
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 0
    assert _statuses(paths.ledger_url, case_no, code) == ([Status.UNDER_REVIEW.value], Status.UNDER_REVIEW.value)
    parked = _parked(paths)
    assert (parked.state, parked.raw) == (ParkedState.APPLIED, None) and parked.resolved_at is not None
    platform.pushed.clear()
    assert _report(paths, platform) == 1 and _report(paths, platform) == 0
    (told,) = platform.pushed
    assert (told.case_no, told.item_code, told.status) == (case_no, code, Status.UNDER_REVIEW)
    assert app["id_number"] not in (told.reason or "") and "材料已审" in (told.reason or "")


def test_a_row_stamped_a_day_ahead_of_the_hubs_clock_is_parked_saying_so_and_applied_once_its_time_has_come(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS's clock (or a row's zone) a day wrong: the row would have outranked every real later report of the
    item until that day; it is parked with the reason, and read again each run until its time has come."""
    db = FrontendDB(paths.frontend_url)
    case_no, code = _staged_hrss_item(paths, db)
    ahead = datetime.now(BEIJING) + timedelta(days=1)
    db.append_status(case_no, code, CODES[Status.UNDER_REVIEW], at=ahead.isoformat())
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).parked == 1
    assert "办理时间晚于中枢当前时间超过 5 分钟" in str(_parked(paths).reasons)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 0  # still ahead

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(days=2)

    monkeypatch.setattr("lianban.domain.clock.datetime", Later)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 1
    assert _statuses(paths.ledger_url, case_no, code) == ([Status.UNDER_REVIEW.value], Status.UNDER_REVIEW.value)
    assert _parked(paths).state == ParkedState.APPLIED


def test_a_parked_row_read_again_older_than_the_items_status_changes_nothing_and_one_still_unreadable_stays(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """受理, then 审核中 under a code HRSS had not told (parked), then 审核通过. Read again once the code is known, the
    审核中 is older than the item's 审核通过: stale, as a late row just read would be, so the item stays approved.
    A row that also names a material the catalog does not know stays parked, with only that reason now."""
    db = FrontendDB(paths.frontend_url)
    case_no, code = _staged_hrss_item(paths, db)
    db.append_status(case_no, code, CODES[Status.ACCEPTED], at="2026-12-01T09:00:00+08:00")
    db.append_status(case_no, code, "7", at="2026-12-01T09:05:00+08:00")
    db.append_status(case_no, code, CODES[Status.APPROVED], at="2026-12-01T09:10:00+08:00")
    db.append_status(case_no, code, "7", at="2026-12-01T09:15:00+08:00", materials=("M01", "M99"))
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).parked == 2
    monkeypatch.setitem(STATUSES, "7", Status.UNDER_REVIEW)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 0
    assert _statuses(paths.ledger_url, case_no, code) == ([Status.ACCEPTED.value, Status.APPROVED.value],
                                                          Status.APPROVED.value)
    with session_factory(paths.ledger_url)() as s:
        read, still = s.scalars(select(ParkedStatus).order_by(ParkedStatus.source_seq)).all()
    assert read.state == ParkedState.APPLIED and read.resolved_at is not None
    assert still.state == ParkedState.PARKED and still.raw is not None and still.resolved_at is None
    (reason,) = json.loads(still.reasons)
    assert "M99" in reason and "'7'" not in reason


def test_a_parked_row_that_reads_now_waits_behind_its_cases_waiting_rows_and_all_apply_in_log_order(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """HRSS logs 受理 under a code not told yet (parked) and 审核中 before the application reaches the 前置库 (it
    waits). The case is staged and the code added: the next run reads the 受理 again and applies it before the
    审核中, in log order; applied after it, the 受理 was stale and never reached 皖事通办."""
    app = next(a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(",")))
    code = min(HRSS_OWN & set(app["items"].split(",")))
    db = FrontendDB(paths.frontend_url)
    db.append_status(app["case_no"], code, "7", at="2026-12-01T09:00:00+08:00")
    db.append_status(app["case_no"], code, CODES[Status.UNDER_REVIEW], at="2026-12-01T09:05:00+08:00")
    collected = status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert (collected.parked, collected.waiting) == (1, 1)
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    monkeypatch.setitem(STATUSES, "7", Status.ACCEPTED)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 2
    assert _statuses(paths.ledger_url, app["case_no"], code) == ([Status.ACCEPTED.value, Status.UNDER_REVIEW.value],
                                                                 Status.UNDER_REVIEW.value)
    with session_factory(paths.ledger_url)() as s:
        assert set(s.scalars(select(ParkedStatus.state))) == {ParkedState.APPLIED}


def test_a_log_row_about_another_department_s_item_is_kept_aside_and_alerted_not_applied(paths: Paths) -> None:
    """HRSS's log holds its own items' statuses and its payment confirmations of item 13 (connectors/hrss/README.md).
    A row about any other department's item moved it all the same: HRSS's 审核不通过 closed housing fund's item 14
    (its own reports refused ever after), HRSS's 不予受理 closed health's item 13 before health decided. Such a row
    is kept with HRSS's words as an illegal report and alerted, and the item is left to its department; HRSS's
    已办结 of item 13 still completes it."""
    app = next(a for a in generate(80, seed=3)
               if {"13", "14"} <= set(a["items"].split(",")) and HRSS_OWN & set(a["items"].split(",")))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    case_no, own = app["case_no"], min(HRSS_OWN & set(app["items"].split(",")))
    db.append_status(case_no, "14", CODES[Status.REJECTED], reason="不符合提取条件", at="2026-12-01T09:00:00+08:00")
    db.append_status(case_no, "13", CODES[Status.NOT_ACCEPTED], at="2026-12-01T09:01:00+08:00")
    db.append_status(case_no, own, CODES[Status.ACCEPTED], at="2026-12-01T09:02:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 1
    now = _statuses_now(paths.ledger_url, case_no)
    assert (now["14"], now["13"], now[own]) == (None, None, Status.ACCEPTED.value)
    with session_factory(paths.ledger_url)() as s:
        kept = s.execute(select(IllegalTransition.to_status, IllegalTransition.source, IllegalTransition.reason)
                         .order_by(IllegalTransition.id)).all()
    assert [tuple(k) for k in kept] == [(Status.REJECTED.value, "hrss", "不符合提取条件"),
                                        (Status.NOT_ACCEPTED.value, "hrss", None)]
    db.append_status(case_no, "13", CODES[Status.COMPLETED], at="2026-12-02T09:00:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 1
    assert _statuses_now(paths.ledger_url, case_no)["13"] == Status.COMPLETED.value


def test_a_status_row_for_an_item_not_chosen_is_skipped_without_quoting_a_name(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """事项编码 holding the applicant's name: the row is skipped as an item the case did not choose, and the log
    line saying so shows the code masked (it quoted the name whole)."""
    caplog.set_level(logging.DEBUG)  # no log line, at any level
    app = next(iter(generate(40, seed=3)))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    db.append_status(app["case_no"], "欧阳" + app["name"], "1")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).skipped == 1
    assert "未选择事项" in caplog.text and app["name"] not in caplog.text


def test_a_row_with_a_name_in_its_item_code_waiting_for_its_case_keeps_no_name_and_is_skipped_when_it_applies(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """事项编码 holding the applicant's name in a row that comes before its application: the row waits, kept
    without the name (it was kept whole in the ledger, the reason beside it masked); once the case is staged it
    is skipped as an item not chosen, as it would have been had the case been there."""
    caplog.set_level(logging.DEBUG)  # no log line, at any level
    app = next(iter(generate(40, seed=3)))
    db = FrontendDB(paths.frontend_url)
    db.append_status(app["case_no"], app["name"], "1", at="2026-12-01T09:00:00+08:00")
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).waiting == 1
    with session_factory(paths.ledger_url)() as s:
        kept = s.scalars(select(ParkedStatus.change)).one() or ""
    assert app["name"] not in kept
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).skipped == 1
    assert app["name"] not in caplog.text


def test_a_row_with_a_name_in_its_item_code_and_a_result_is_skipped_without_quoting_the_name(
        paths: Paths, caplog: pytest.LogCaptureFixture) -> None:
    """事项编码 holding the applicant's name on a row that also reports a 办理结果: the result is not taken (no item
    has that code) and the alert saying so names the code masked, as the skip line does (it quoted the name)."""
    caplog.set_level(logging.DEBUG)  # no log line, at any level
    app = next(iter(generate(40, seed=3)))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)
    db.append_status(app["case_no"], app["name"], "1", result={"amount": "3000.00", "paid_on": "2026-12-01"})
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).skipped == 1
    assert "办理结果未采纳" in caplog.text and app["name"] not in caplog.text
