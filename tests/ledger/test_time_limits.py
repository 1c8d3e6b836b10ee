"""Overdue items by the department that must act (lianban.ledger.time_limits.overdue_by_department)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.time_limits import WINDOW_DEPARTMENT, overdue_by_department


def test_a_held_cases_items_past_their_supplement_deadline_count_for_the_window_not_their_departments(
        paths: Paths, held_case: str) -> None:
    """A held application's items wait for the applicant at the HRSS window (told 补正资料): past the deadline
    they are the window's to chase. Their departments have received nothing and are told of nothing."""
    with session_factory(paths.ledger_url)() as s:
        items = s.execute(select(CaseItem.department, CaseItem.supplement_due).join(Case)
                          .where(Case.case_no == held_case)).all()
        assert {d for d, _ in items} - {WINDOW_DEPARTMENT}  # a pushed item among them
        late = max(due for _, due in items) + timedelta(days=1)
        assert overdue_by_department(s, late) == {WINDOW_DEPARTMENT: len(items)}
