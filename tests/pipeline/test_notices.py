"""A held application tells the applicant (one 补正资料 per chosen item, plain Chinese, no personal data), and the
row corrected at the source resumes the same case: the same items continue, the pushed ones are delivered."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.clock import BEIJING
from lianban.domain.intake import read
from lianban.domain.record import RetirementRecord
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory, upgrade
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine, StatusEvent
from lianban.ledger.store import QuarantineState, record_status
from lianban.pipeline.notices import HOLD_CODE, hold_case, hold_cases
from lianban.pipeline.stage import stage
from simulators.people import generate, repair

PUSHED = {"11", "12", "13", "14"}


def _broken(paths: Paths) -> tuple[FrontendDB, dict[str, Any]]:
    """A 前置库 with one application whose ID number has a wrong check digit, choosing a pushed item."""
    app = next(a for a in generate(40, seed=3) if PUSHED & set(a["items"].split(",")))
    app = {**app, "id_number": app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")}
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    return db, app


def _events(paths: Paths, case_no: str) -> list[tuple[str, str, str, str | None, str | None]]:
    with session_factory(paths.ledger_url)() as s:
        rows = s.execute(select(CaseItem.item_code, StatusEvent.status, StatusEvent.source, StatusEvent.department_code,
                                StatusEvent.reason).join(CaseItem).join(Case).where(Case.case_no == case_no)
                         .order_by(StatusEvent.id)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_held_application_tells_every_chosen_item_once_without_personal_data(paths: Paths) -> None:
    db, app = _broken(paths)
    first = stage(db, paths.ledger_url, paths.keys_dir)
    assert (first.quarantined, first.staged, first.notified) == (1, 0, len(app["items"].split(",")))

    events = _events(paths, app["case_no"])
    assert sorted(code for code, *_ in events) == sorted(app["items"].split(","))
    for _code, status, source, code, reason in events:
        assert (status, source, code) == (Status.SUPPLEMENT.value, "hrss", HOLD_CODE)
        assert reason and "身份证" in reason and "人社窗口" in reason and "无需重新申请" in reason
        assert app["id_number"] not in reason and app["name"] not in reason and app["phone"] not in reason
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Delivery)).all() == []  # nothing wrong goes out

    db.correct(1, {"id_number": app["id_number"]})  # the same wrong row flagged again: told nothing new
    stage(db, paths.ledger_url, paths.keys_dir)
    assert len(_events(paths, app["case_no"])) == len(events)


def test_the_corrected_row_resumes_the_same_case_and_its_items_continue(paths: Paths) -> None:
    db, app = _broken(paths)
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        items_before = dict(s.execute(select(CaseItem.item_code, CaseItem.id)).all())

    db.correct(1, repair(app))  # the clerk fixes the check digit at the window
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.staged, again.resumed, again.quarantined) == (1, 1, 0)

    with session_factory(paths.ledger_url)() as s:
        case = s.scalars(select(Case)).one()
        assert not case.held and case.fingerprint
        assert dict(s.execute(select(CaseItem.item_code, CaseItem.id)).all()) == items_before  # the same items
        delivered = set(s.scalars(select(CaseItem.item_code).join(Delivery, Delivery.case_item_id == CaseItem.id)))
        assert delivered == PUSHED & set(app["items"].split(","))
        assert s.scalars(select(Quarantine.state)).one() == QuarantineState.RELEASED
        item = s.scalars(select(CaseItem).where(CaseItem.item_code.in_(delivered))).first()
        assert item is not None
        # the department's first word after the hold: 受理 (补正资料 → 受理 is the status machine's back edge)
        assert record_status(s, item, Status.ACCEPTED, item.department, code="1", reason=None,
                             changed_at="2030-01-01T09:00:00+08:00")


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a hold writes, comparable across ledgers (ids and wall-clock times left out)."""
    with session_factory(url)() as s:
        cases = s.execute(select(Case.case_no, Case.source_seq, Case.region_code, Case.id_index, Case.approved_at,
                                 Case.fingerprint, Case.held, Case.password_hash).order_by(Case.case_no)).all()
        items = s.execute(select(Case.case_no, CaseItem.item_code, CaseItem.department, CaseItem.status,
                                 CaseItem.status_at, CaseItem.reason, CaseItem.final, CaseItem.materials,
                                 CaseItem.supplement_due).join(Case).order_by(Case.case_no, CaseItem.item_code)).all()
        events = s.execute(select(Case.case_no, CaseItem.item_code, StatusEvent.status, StatusEvent.source,
                                  StatusEvent.department_code, StatusEvent.reason, StatusEvent.changed_at)
                           .join(CaseItem, StatusEvent.case_item_id == CaseItem.id).join(Case)
                           .order_by(Case.case_no, CaseItem.item_code, StatusEvent.id)).all()
    return {"cases": [tuple(r) for r in cases], "items": [tuple(r) for r in items],
            "events": [tuple(r) for r in events]}


def test_held_cases_entered_together_leave_the_ledger_as_one_by_one(paths: Paths, tmp_path: Path) -> None:
    """A chunk's holds written set-based: the same cases, items and 补正资料 events as hold_case for each, for a
    new case, the same case held twice, a case held before, and a row choosing no item the catalog knows."""
    catalog, key = load_catalog(), ("q1", b"q" * 32)
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(6, seed=11)))
    records = [r for r in (read(row, catalog) for row in db.pull_new(10)) if isinstance(r, RetirementRecord)]
    before, *fresh = records
    nothing = replace(fresh[-1], items=("99",))
    held = [(r, [f"第{i}条原因"], f"idx{i}") for i, r in enumerate([*fresh[:-1], fresh[0], before, nothing])]
    other = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    upgrade(other)
    for url in (paths.ledger_url, other):
        with session_factory(url).begin() as s:
            hold_case(s, before, ["先前的原因"], catalog, "idx-before", key)

    with session_factory(paths.ledger_url).begin() as s:
        together = hold_cases(s, held, catalog, key)
    with session_factory(other).begin() as s:
        one_by_one = sum(hold_case(s, r, reasons, catalog, idx, key) for r, reasons, idx in held)

    assert together == one_by_one > 0
    assert _snapshot(paths.ledger_url) == _snapshot(other)


def test_a_row_held_and_corrected_in_the_same_run_ends_released_and_delivered(paths: Paths) -> None:
    """The wrong row and, later in the same chunk, its correction (the same 办件编号): the hold written with the
    chunk is released by the correction, and the case goes out once (the 前置库 keys 办件编号 as typed: the
    correction's is in lower case, the same number once read)."""
    db, app = _broken(paths)
    db.insert_applications([{**repair(app), "case_no": app["case_no"].lower()}])
    result = stage(db, paths.ledger_url, paths.keys_dir)
    assert (result.extracted, result.quarantined, result.staged, result.resumed) == (2, 1, 1, 1)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Quarantine.state)).all() == [QuarantineState.RELEASED]
        assert not s.scalars(select(Case.held)).one()
        delivered = set(s.scalars(select(CaseItem.item_code).join(Delivery, Delivery.case_item_id == CaseItem.id)))
    assert delivered == PUSHED & set(app["items"].split(","))


def test_an_item_the_corrected_row_no_longer_chooses_is_closed_not_left_at_supplement(paths: Paths) -> None:
    """The clerk's correction drops an item (a conflicting pair, an item chosen by mistake): that item is told
    不予受理 from the window with the reason, once; it no longer keeps the case at 补正资料 (nor the person's next
    application held as a second open case), and the items still chosen continue."""
    db = FrontendDB(paths.frontend_url)
    app = next(a for a in generate(60, seed=5)
               if len(a["items"].split(",")) >= 2 and PUSHED & set(a["items"].split(",")))
    chosen = app["items"].split(",")
    kept = [c for c in chosen if c in PUSHED][:1]
    dropped = sorted(set(chosen) - set(kept))
    app = {**app, "id_number": app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")}
    db.insert_applications([app])
    stage(db, paths.ledger_url, paths.keys_dir)

    db.correct(1, {**repair(app), "items": ",".join(kept)})
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.staged, again.resumed) == (1, 1)
    stage(db, paths.ledger_url, paths.keys_dir)  # a later run tells nothing again

    with session_factory(paths.ledger_url)() as s:
        items = {code: (status, final) for code, status, final in s.execute(
            select(CaseItem.item_code, CaseItem.status, CaseItem.final))}
    assert {code: items[code] for code in dropped} == {code: (Status.NOT_ACCEPTED.value, True) for code in dropped}
    assert items[kept[0]] == (Status.SUPPLEMENT.value, False)  # its department's 受理 comes next
    told = [(code, reason) for code, status, _, _, reason in _events(paths, app["case_no"])
            if status == Status.NOT_ACCEPTED.value]
    assert sorted(code for code, _ in told) == dropped
    assert all(reason and "未再选择本事项" in reason for _, reason in told)


def test_a_resumed_case_keeps_no_supplement_deadline_of_its_hold(paths: Paths) -> None:
    """The hold's 补正 deadline is the applicant's; once the row is corrected nothing is left to supply: the items
    that continue no longer carry it, so a hold that lasted longer than the 补正 period does not count the items
    as overdue against the departments that have only now been sent them."""
    from datetime import date

    from lianban.ledger.time_limits import overdue_by_department

    db, app = _broken(paths)
    db.correct(1, {"approved_at": "2026-03-02T09:00:00+08:00"})  # held in March, corrected much later
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        assert all(s.scalars(select(CaseItem.supplement_due)))
    db.correct(1, {**repair(app), "approved_at": "2026-03-02T09:00:00+08:00"})
    assert stage(db, paths.ledger_url, paths.keys_dir).resumed == 1

    with session_factory(paths.ledger_url)() as s:
        assert set(s.scalars(select(CaseItem.supplement_due))) == {None}
        late = overdue_by_department(s, date(2026, 6, 1))
    assert not set(late) & {"medical", "health", "housing_fund"}


def test_a_held_case_keeps_no_name_typed_into_the_id_number_column(paths: Paths) -> None:
    """The ID number column holding the applicant's name (columns swapped at the source): the row is held and its
    case entered held, with no region code rather than the name's first characters in the clear."""
    app = next(a for a in generate(40, seed=3) if PUSHED & set(a["items"].split(",")))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**app, "id_number": "欧阳" + app["name"]}])
    assert stage(db, paths.ledger_url, paths.keys_dir).notified > 0
    with session_factory(paths.ledger_url)() as s:
        case = s.scalars(select(Case)).one()
    assert case.held and case.region_code == ""


def test_a_held_case_whose_own_items_hrss_completed_resumes_when_corrected_not_refused(paths: Paths) -> None:
    """A held application choosing only HRSS's own items, which HRSS works (and completes) meanwhile: corrected at
    the source, it resumes. It was held again as CASE_REFUSED (已被退回，申请人已被告知), which no operator had
    decided and none could release, and the case stayed held for good."""
    from connectors.hrss.statuses import CODES
    from lianban.pipeline import status_log

    app = next(iter(generate(40, seed=3)))
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**app, "items": "01", "phone": "12345"}])
    assert stage(db, paths.ledger_url, paths.keys_dir).notified == 1
    for n, status in enumerate((Status.ACCEPTED, Status.UNDER_REVIEW, Status.APPROVED, Status.COMPLETED), start=1):
        db.append_status(app["case_no"], "01", CODES[status], at=(datetime.now(BEIJING) + timedelta(seconds=n))
                         .isoformat())  # after the hold, within the minutes a status time may run ahead
    assert status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir).changed == 4
    db.correct(1, {"phone": app["phone"]})
    again = stage(db, paths.ledger_url, paths.keys_dir)
    assert (again.staged, again.resumed, again.quarantined) == (1, 1, 0)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalars(select(Case.held)).one() is False
        assert s.scalars(select(Quarantine.state)).one() == QuarantineState.RELEASED
