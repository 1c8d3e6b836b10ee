"""Overdue items by the department that must act (lianban.ledger.time_limits.overdue_by_department)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.time_limits import WINDOW_DEPARTMENT, overdue_by_department
from lianban.pipeline.stage import stage
from simulators.people import generate


def test_a_held_cases_items_past_their_supplement_deadline_count_for_the_window_not_their_departments(
        paths: Paths) -> None:
    """A held application's items wait for the applicant at the HRSS window (told 补正资料): past the deadline
    they are the window's to chase. Their departments have received nothing and are told of nothing."""
    app = next(a for a in generate(40, seed=3) if set(a["items"].split(",")) - {f"{n:02d}" for n in range(1, 11)})
    wrong = app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**app, "id_number": wrong}])
    assert stage(db, paths.ledger_url, paths.keys_dir).notified > 0
    with session_factory(paths.ledger_url)() as s:
        items = s.execute(select(CaseItem.department, CaseItem.supplement_due).join(Case)
                          .where(Case.case_no == app["case_no"])).all()
        assert {d for d, _ in items} - {WINDOW_DEPARTMENT}  # a pushed item among them
        late = max(due for _, due in items) + timedelta(days=1)
        assert overdue_by_department(s, late) == {WINDOW_DEPARTMENT: len(items)}
