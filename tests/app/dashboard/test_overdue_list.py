"""The dashboard's overdue list names the party that must act, as ``lianban status`` counts it
(lianban.ledger.time_limits.overdue_by_department)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from lianban.app.config import Paths
from lianban.app.dashboard.queries import overdue
from lianban.domain.catalog import window
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.time_limits import overdue_by_department


def test_a_held_cases_overdue_items_are_listed_under_the_window_as_the_status_counts_them(
        paths: Paths, held_case: str) -> None:
    """A held application's items were never delivered: past their 补正 deadline they are the HRSS window's to
    chase, in the list as in the count, not under departments that received nothing."""
    with session_factory(paths.ledger_url)() as s:
        dues = s.scalars(select(CaseItem.supplement_due).join(Case).where(Case.case_no == held_case)).all()
        late = max(d for d in dues if d is not None) + timedelta(days=1)
        listed = overdue(s, late)
        assert Counter(row["department"] for row in listed) == overdue_by_department(s, late)
        assert {row["department"] for row in listed} == {window()}


def test_a_held_cases_open_items_wait_on_the_window_in_the_backlog_the_status_and_the_daily_summary(
        paths: Paths, held_case: str) -> None:
    """The overdue figures put a held application's items under the HRSS window; the backlog chart, `lianban
    status`'s open_by_department and the liaisons' daily 待办 still blamed departments that never received
    them."""
    from lianban.app.dashboard.queries import backlog
    from lianban.ledger.daily import summaries
    from lianban.ledger.progress import progress

    with session_factory(paths.ledger_url)() as s:
        chosen = len(s.scalars(select(CaseItem.id).join(Case).where(Case.case_no == held_case)).all())
        assert {row["department"]: row["open"] for row in backlog(s)} == {window(): chosen}
        departments = sorted(set(s.scalars(select(CaseItem.department))))
        daily = {d.party: d.backlog for d in summaries(s, departments) if d.backlog}
    assert progress(paths.ledger_url).open_by_department == {window(): chosen}
    assert daily == {window(): chosen}
