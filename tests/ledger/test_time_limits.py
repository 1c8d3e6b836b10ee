"""Overdue items by the department that must act (lianban.ledger.time_limits.overdue_by_department)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.app.dashboard.queries import overdue as dashboard_overdue
from lianban.domain.catalog import window
from lianban.domain.statuses import Status
from lianban.ledger.cases import due_date, is_overdue, list_cases
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, PaymentRequest
from lianban.ledger.store import DeliveryState
from lianban.ledger.time_limits import overdue_by_department
from lianban.pipeline.stage import stage


def test_a_held_cases_items_past_their_supplement_deadline_count_for_the_window_not_their_departments(
        paths: Paths, held_case: str) -> None:
    """A held application's items wait for the applicant at the HRSS window (told 补正资料): past the deadline
    they are the window's to chase. Their departments have received nothing and are told of nothing."""
    with session_factory(paths.ledger_url)() as s:
        items = s.execute(select(CaseItem.department, CaseItem.supplement_due).join(Case)
                          .where(Case.case_no == held_case)).all()
        assert {d for d, _ in items} - {window()}  # a pushed item among them
        late = max(due for _, due in items) + timedelta(days=1)
        assert overdue_by_department(s, late) == {window(): len(items)}


def _approve_item_13(paths: Paths, frontend: FrontendDB) -> None:
    """The seeded cases staged and delivered on 2026-11-02 (Beijing), item 13 approved by health (the only item
    health has), every other item accepted."""
    stage(frontend, paths.ledger_url, paths.keys_dir)
    sent = datetime(2026, 11, 2, 2, 0)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).values(state=DeliveryState.ACCEPTED, sent_at=sent))
        s.execute(update(Case).values(held=False))
        s.execute(update(CaseItem).where(CaseItem.item_code == "13")
                  .values(status=Status.APPROVED.value, status_at="2026-11-03T09:00:00+08:00"))
        s.execute(update(CaseItem).where(CaseItem.item_code != "13")
                  .values(status=Status.ACCEPTED.value, status_at="2026-11-02T10:00:00+08:00"))
        approved = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).all()
        assert approved and s.scalar(select(func.count()).select_from(CaseItem)
                                     .where(CaseItem.department == "health", CaseItem.item_code != "13")) == 0


def test_item_13_approved_by_health_is_not_overdue_while_hrss_pays_it(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Item 13's limit is health's eligibility check up to 审核通过; HRSS's payment after it is not on this clock
    (schemas/catalog/items.yaml). An approved item 13 was overdue all the same, counted against health, which had
    done its part (an overdue incident for health's liaison, "督促责任部门办理"), everywhere overdue is shown."""
    _approve_item_13(paths, seeded[0])
    late = date(2027, 3, 1)
    with session_factory(paths.ledger_url)() as s:
        assert "health" not in overdue_by_department(s, late) and overdue_by_department(s, late)
        assert not [r for r in dashboard_overdue(s, late) if r["item_code"] == "13"]
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).first()
        assert item is not None and not is_overdue(item, late)


def test_a_reward_hrss_was_asked_to_pay_is_overdue_for_hrss_past_its_completion_days(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """A reward HRSS was asked to pay and never confirmed waited for ever: no due date, no overdue count, no alert
    to HRSS's liaison, the applicant told 待人社部门发放 with no end. It is now on HRSS's clock: item 13's
    completion_days (10 working days) from the day of the payment request."""
    _approve_item_13(paths, seeded[0])
    asked = datetime(2026, 11, 4, 2, 0)  # Wednesday 2026-11-04, 10:00 Beijing: due 2026-11-18, 10 working days on
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(CaseItem).where(CaseItem.item_code != "13").values(final=True))
        rewards = s.scalars(select(CaseItem.id).where(CaseItem.item_code == "13")).all()
        s.add_all(PaymentRequest(case_item_id=i, request_no=f"JL{i}", requested_at=asked) for i in rewards)
    with session_factory(paths.ledger_url)() as s:
        assert overdue_by_department(s, date(2026, 11, 18)) == {}
        assert overdue_by_department(s, date(2026, 11, 19)) == {window(): len(rewards)}
        listed = [r for r in dashboard_overdue(s, date(2026, 11, 19)) if r["item_code"] == "13"]
        assert len(listed) == len(rewards)
        assert {(r["department"], r["due"], r["days_late"]) for r in listed} == {(window(), "2026-11-18", 1)}
        item = s.scalars(select(CaseItem).where(CaseItem.item_code == "13")).first()
        assert item is not None and is_overdue(item, date(2026, 11, 19)) and not is_overdue(item, date(2026, 11, 18))
        assert due_date(item) == "2026-11-16"  # health's promise to the applicant, as 皖事通办 shows it, stays
    overdue_cases = list_cases(paths.ledger_url, overdue_only=True, today=date(2026, 11, 19))
    assert len(overdue_cases) == len(rewards)  # the case list reads the request with the items, not one by one
