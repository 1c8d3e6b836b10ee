"""A held application tells the applicant (one 补正资料 per chosen item, plain Chinese, no personal data), and the
row corrected at the source resumes the same case: the same items continue, the pushed ones are delivered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine, StatusEvent
from lianban.ledger.store import QuarantineState, record_status
from lianban.pipeline.notices import HOLD_CODE
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
