"""The 办件 record behind each status event (lianban.pipeline.banjian), read from a real ledger.

Eight synthetic approvals are staged through the real stage step and one case's items are moved the way the
feedback steps move them (:func:`lianban.ledger.store.record_status`). Checked: the version counts the case's
changes and is the same when read again, and the case record after each change says what the platform should
show — its status, and once every item is final when it ended and how many items were refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.store import record_status
from lianban.ledger.time_limits import item_deadline
from lianban.pipeline.banjian import Version, versions
from lianban.pipeline.stage import stage
from simulators.people import generate

S = Status


@pytest.fixture
def case_no(paths: Paths) -> str:
    """A staged case with at least two items."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(8, seed=5)))
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        return next(c.case_no for c in s.scalars(select(Case)) if len(c.items) >= 2)


def move(paths: Paths, case_no: str, steps: list[tuple[int, Status]]) -> None:
    """Apply (item index, status) in order, one minute apart."""
    with session_factory(paths.ledger_url).begin() as s:
        items = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no).order_by(CaseItem.id)).all()
        for n, (index, status) in enumerate(steps):
            at = (datetime(2025, 3, 3, 9, tzinfo=UTC) + timedelta(minutes=n)).isoformat()
            assert record_status(s, items[index], status, items[index].department, code=None,
                                 reason="经审核，申请人不符合办理条件" if status is S.REJECTED else None, changed_at=at)


def read(paths: Paths, case_no: str) -> list[tuple[StatusEvent, Version]]:
    with session_factory(paths.ledger_url)() as s:
        events = list(s.scalars(select(StatusEvent).join(CaseItem).join(Case).where(Case.case_no == case_no)
                                .order_by(StatusEvent.id)))
        known = versions(s, events)
        return [(e, known[e.id]) for e in events]


def test_versions_count_the_cases_changes_and_are_the_same_when_read_again(paths: Paths, case_no: str) -> None:
    move(paths, case_no, [(0, S.ACCEPTED), (1, S.ACCEPTED), (0, S.UNDER_REVIEW)])
    first = read(paths, case_no)
    assert [v.dataver for _, v in first] == [1, 2, 3]
    assert [v for _, v in read(paths, case_no)] == [v for _, v in first]


def test_the_case_record_follows_the_items_until_every_one_is_final(paths: Paths, case_no: str) -> None:
    with session_factory(paths.ledger_url)() as s:
        case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        count, approved = len(case.items), case.approved_at
        limit = max(load_catalog().item(i.item_code).time_limit_days for i in case.items)
        due_dates = {i.id: item_deadline(i) for i in case.items}
    steps = [(0, S.ACCEPTED), (0, S.UNDER_REVIEW), (0, S.REJECTED)]
    steps += [step for n in range(1, count) for step in ((n, S.ACCEPTED), (n, S.UNDER_REVIEW), (n, S.APPROVED),
                                                       (n, S.COMPLETED))]
    move(paths, case_no, steps)
    records = [v.case for _, v in read(paths, case_no)]
    assert records[0].status is S.ACCEPTED and records[0].done_at is None
    assert records[1].status is S.UNDER_REVIEW and records[-2].done_at is None
    last = records[-1]
    assert (last.status, last.refused_items, last.dataver) == (S.COMPLETED, 1, len(steps))
    assert last.done_at == (datetime(2025, 3, 3, 9, tzinfo=UTC) + timedelta(minutes=len(steps) - 1)).isoformat()
    beijing = approved.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=8)))
    assert (last.accepted_at, last.time_limit_days) == (beijing.isoformat(timespec="seconds"), limit)
    first_event, first_version = read(paths, case_no)[0]
    due = due_dates[first_event.case_item_id]
    assert first_version.due_date == (due.due.isoformat() if due else None)
