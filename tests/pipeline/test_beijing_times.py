"""A time without a UTC offset that arrives from outside the hub is Beijing time (北京时间): HRSS's Oracle DATE
columns and the departments keep local time with no zone. Read as UTC it was 8 hours off: an approval at 20:30
Beijing landed on the next day, moving its 时限."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.statuses import CODES
from connectors.wanshi_tong.mapping import beijing_time
from lianban.app.config import Paths
from lianban.domain.clock import BEIJING
from lianban.domain.statuses import Status
from lianban.domain.supplements import supplement_due
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.applicant_view import ItemProgress, case_progress
from lianban.ledger.cases import show_case
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case
from lianban.ledger.time_limits import due_date
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss
from simulators.people import generate

HRSS_OWN = {f"{n:02d}" for n in range(1, 11)}


def _valid_with_own_item() -> dict[str, Any]:
    """A synthetic application choosing an item HRSS handles itself (its clock starts at the 审批时间)."""
    return next(a for a in generate(60, seed=11) if HRSS_OWN & set(a["items"].split(",")))


def test_an_approval_without_offset_is_beijing_time_and_its_item_is_due_from_that_beijing_day(paths: Paths) -> None:
    app = {**_valid_with_own_item(), "approved_at": "2026-12-01T20:30:00"}  # as HRSS's DATE column gives it
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1

    item = next(i for i in show_case(paths.ledger_url, app["case_no"]).items if i.department == "hrss")
    expected = due_date(item.item_code, "hrss", datetime(2026, 12, 1, 20, 30, tzinfo=BEIJING), None)
    assert expected is not None and item.due_date == expected.due.isoformat()  # counted from Tuesday 1 December


def _staged_with_own_item(paths: Paths) -> tuple[FrontendDB, str, str]:
    app = _valid_with_own_item()
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    return db, app["case_no"], min(HRSS_OWN & set(app["items"].split(",")))


def _progress(paths: Paths, case_no: str, item_code: str) -> ItemProgress:
    """The item as the applicant's progress query answers it."""
    with session_factory(paths.ledger_url)() as s:
        case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        items = case_progress(s, load_ring(paths.keys_dir, VAULT), case).items
    return next(i for i in items if i.item_code == item_code)


def test_a_supplement_asked_in_hrss_log_at_an_evening_hour_is_due_from_that_beijing_day(paths: Paths) -> None:
    db, case_no, code = _staged_with_own_item(paths)
    db.append_status(case_no, code, CODES[Status.SUPPLEMENT], "请补交材料", at="2026-12-01T20:30:00",
                     materials=("M01",))
    collect_hrss(db, paths.ledger_url, paths.keys_dir)

    item = _progress(paths, case_no, code)
    assert item.changed_at == "2026-12-01T20:30:00+08:00"
    assert item.supplement_due == supplement_due("2026-12-01T20:30:00+08:00").isoformat()  # from Tuesday 1 December


def test_a_date_alone_in_hrss_log_is_that_beijing_day_in_case_show_and_for_wanshi_tong(paths: Paths) -> None:
    db, case_no, code = _staged_with_own_item(paths)
    db.append_status(case_no, code, CODES[Status.ACCEPTED], at="2026-12-01")
    collect_hrss(db, paths.ledger_url, paths.keys_dir)

    item = next(i for i in show_case(paths.ledger_url, case_no).items if i.item_code == code)
    assert [h.at for h in item.history] == ["2026-12-01T00:00:00+08:00"]
    assert beijing_time(item.history[0].at) == "2026-12-01T00:00:00+08:00"  # NODETIME, not 08:00

