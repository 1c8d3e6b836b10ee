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
from lianban.domain.catalog import load_catalog, window
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, StatusEvent
from lianban.ledger.store import DeliveryState, record_status
from lianban.ledger.time_limits import item_deadline
from lianban.pipeline.banjian import Cases, Version, versions
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


def read(paths: Paths, case_no: str, kept: Cases | None = None) -> list[tuple[StatusEvent, Version]]:
    with session_factory(paths.ledger_url)() as s:
        events = list(s.scalars(select(StatusEvent).join(CaseItem).join(Case).where(Case.case_no == case_no)
                                .order_by(StatusEvent.id)))
        known = versions(s, [(e.id, e.case_item_id) for e in events], kept)
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


def dues(paths: Paths, case_no: str, kept: Cases | None = None) -> list[tuple[int, str | None]]:
    """(DATAVER, due date) of each of the case's events, with the case record they carry compared too."""
    read_ = read(paths, case_no, kept)
    assert len({v.case.case_no for _, v in read_}) == 1
    return [(v.dataver, v.due_date) for _, v in read_] + [(0, repr(v.case)) for _, v in read_]


@pytest.fixture
def pushed_case(paths: Paths, case_no: str) -> str:
    """A staged case with an item pushed to a department (its delivery pending) and at least two items."""
    with session_factory(paths.ledger_url)() as s:
        return next(c.case_no for c in s.scalars(select(Case).order_by(Case.id))
                    if len(c.items) >= 2 and any(i.department != window() for i in c.items))


def accept(paths: Paths, case_no: str, held: bool = False) -> None:
    """Every pushed item of the case taken by its department (its delivery accepted); the case `held` or not."""
    with session_factory(paths.ledger_url).begin() as s:
        s.scalars(select(Case).where(Case.case_no == case_no)).one().held = held
        for d in s.scalars(select(Delivery).join(CaseItem).join(Case).where(Case.case_no == case_no)):
            d.state, d.sent_at = DeliveryState.ACCEPTED, datetime(2025, 3, 4, 1)


def test_a_run_keeps_a_case_read_only_once_nothing_read_of_it_can_change(paths: Paths, pushed_case: str) -> None:
    """A department takes an item while a report run goes on: the run has read the case before, and its next
    batch still gives the item the due date its acceptance starts (read again, not kept)."""
    with session_factory(paths.ledger_url)() as s:
        items = s.scalars(select(CaseItem).join(Case).where(Case.case_no == pushed_case).order_by(CaseItem.id))
        pushed = next(n for n, item in enumerate(items) if item.department != window())
    move(paths, pushed_case, [(pushed, S.ACCEPTED)])
    kept = Cases()
    before = dues(paths, pushed_case, kept)
    assert len(kept) == 0  # a delivery pending: the case is read afresh by every batch
    accept(paths, pushed_case)
    after = dues(paths, pushed_case, kept)
    assert len(kept) == 1
    assert after == dues(paths, pushed_case)  # what a run that never kept it reads
    assert before[0][1] is None and after[0][1] is not None  # the pushed item's clock started
    assert dues(paths, pushed_case, kept) == after  # read from what was kept: the same


def test_a_held_case_is_never_kept(paths: Paths, pushed_case: str) -> None:
    """Its correction at the source gives it a new 受理 time, region and items (notices.resume)."""
    move(paths, pushed_case, [(0, S.ACCEPTED)])
    accept(paths, pushed_case, held=True)
    kept = Cases()
    read(paths, pushed_case, kept)
    assert len(kept) == 0


def test_a_full_run_cache_lets_the_oldest_half_go(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(8, seed=5)))
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        cases = list(s.scalars(select(Case).order_by(Case.id)))
    for case in cases:
        move(paths, case.case_no, [(0, S.ACCEPTED)])
        accept(paths, case.case_no)
    kept = Cases(limit=4)
    whole = {c.case_no: dues(paths, c.case_no, kept) for c in cases}
    assert 0 < len(kept) <= 4
    assert whole == {c.case_no: dues(paths, c.case_no) for c in cases}


def _batches(paths: Paths, kept: Cases, size: int, reported: set[int]) -> dict[int, Version]:
    """Every unreported event's version read as a report run reads them: `size` at a time after the last."""
    out: dict[int, Version] = {}
    with session_factory(paths.ledger_url)() as s:
        rows = s.execute(select(StatusEvent.id, StatusEvent.case_item_id).order_by(StatusEvent.id)).all()
        batch: list[tuple[int, int]] = []
        after = 0
        for event_id, item_id in rows:
            if event_id not in reported:
                batch.append((event_id, item_id))
            if len(batch) == size:
                out.update(versions(s, batch, kept, after))
                after, batch = batch[-1][0], []
        out.update(versions(s, batch, kept, after))
    return out


def test_a_run_replays_each_cases_history_only_past_the_batch_before_and_reads_the_same(paths: Paths) -> None:
    """Each batch read every event of its cases again (a case spans several batches: 700,000 rows read for the
    sweep's 272,931 events); now only the events after the batch before, whether reported, parked or not, are
    replayed onto what the run holds. Versions and records are those read afresh, however few cases are held."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(8, seed=5)))
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        cases = [c.case_no for c in s.scalars(select(Case).order_by(Case.id)) if len(c.items) >= 2]
    assert len(cases) >= 3
    for step in ((0, S.ACCEPTED), (1, S.ACCEPTED), (0, S.UNDER_REVIEW), (1, S.REJECTED), (0, S.APPROVED)):
        for case in cases:  # the cases' events interleaved, as the collectors write them
            move(paths, case, [step])
    with session_factory(paths.ledger_url)() as s:
        every = s.execute(select(StatusEvent.id, StatusEvent.case_item_id).order_by(StatusEvent.id)).all()
        afresh = versions(s, [(e, i) for e, i in every])
        owner = dict(s.execute(select(StatusEvent.id, CaseItem.case_id).join(CaseItem)).all())
    reported = {event_id for n, (event_id, _) in enumerate(every) if n % 4 == 1}  # between and within batches
    moved = {owner[event_id] for event_id, _ in every if event_id not in reported}  # the cases batches hold
    for limit in (0, 2, 100):
        kept = Cases(limit)
        assert _batches(paths, kept, 3, reported) == {e: v for e, v in afresh.items() if e not in reported}
        assert len(kept.replayed) == min(limit, len(moved)) and kept.through == (every[-1][0] if limit else None)
