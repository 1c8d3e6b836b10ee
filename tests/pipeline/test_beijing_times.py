"""A time without a UTC offset that arrives from outside the hub is Beijing time (北京时间): HRSS's Oracle DATE
columns and the departments keep local time with no zone. Read as UTC it was 8 hours off: an approval at 20:30
Beijing landed on the next day, moving its 时限."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.clock import BEIJING
from lianban.ledger.cases import show_case
from lianban.ledger.time_limits import due_date
from lianban.pipeline.stage import stage
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
