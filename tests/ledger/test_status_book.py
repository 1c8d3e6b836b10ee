"""Status moves written set-based (lianban.ledger.status_book) leave the ledger exactly as recording them one
ORM object at a time does: same item columns, same events in the same order, same illegal moves kept once."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, IllegalTransition, StatusEvent
from lianban.ledger.status_book import StatusBook, item_rows
from lianban.ledger.store import record_status, utcnow
from lianban.pipeline.stage import stage
from simulators.people import generate, make_id_number

Report = tuple[int, Status, str, str, str | None, tuple[str, ...], str | None]
# item index, status, source, at, reason, materials, result (as sealed: any text)

reports = st.lists(st.tuples(
    st.integers(0, 1), st.sampled_from(list(Status)), st.sampled_from(["health", "hrss"]),
    st.sampled_from([f"2026-12-0{d}T10:00:00+08:00" for d in (1, 2, 3)]),
    st.sampled_from([None, "材料不全", "复核"]), st.sampled_from([(), ("M01",), ("M01", "M02")]),
    st.sampled_from([None, "R1", "R2"])), max_size=12)


@pytest.fixture
def two_items(paths: Paths) -> list[int]:
    """Two items of one staged case (item 13 among them: only HRSS may complete it)."""
    app = next(a for a in generate(60, seed=13) if "13" in a["items"].split(",") and len(a["items"]) > 2)
    FrontendDB(paths.frontend_url).insert_applications([app])
    stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        ids = list(s.scalars(select(CaseItem.id).order_by(CaseItem.item_code.desc())))
    return ids[:2]


def _snapshot(session: Session) -> dict[str, Any]:
    session.flush()
    items = session.execute(select(CaseItem.id, CaseItem.status, CaseItem.status_at, CaseItem.reason,
                                   CaseItem.final, CaseItem.materials, CaseItem.supplement_due)
                            .order_by(CaseItem.id)).all()
    events = session.execute(select(StatusEvent.case_item_id, StatusEvent.status, StatusEvent.source,
                                    StatusEvent.reason, StatusEvent.materials, StatusEvent.changed_at,
                                    StatusEvent.result)
                             .order_by(StatusEvent.id)).all()
    illegal = session.execute(select(IllegalTransition.case_item_id, IllegalTransition.from_status,
                                     IllegalTransition.to_status, IllegalTransition.changed_at)
                              .order_by(IllegalTransition.id)).all()
    return {"items": items, "events": events, "illegal": illegal}


def _one_by_one(session: Session, ids: list[int], page: list[Report]) -> list[bool]:
    said = []
    for index, status, source, at, reason, materials, result in page:
        item = session.get(CaseItem, ids[index])
        assert item is not None
        said.append(record_status(session, item, status, source, code=None, reason=reason, changed_at=at,
                                  materials=materials, result=result))
    return said


def _as_a_page(session: Session, ids: list[int], page: list[Report]) -> list[bool]:
    items, book = item_rows(session, ids), StatusBook(session)
    said = [book.record(items[ids[index]], status, source, code=None, reason=reason, changed_at=at,
                        materials=materials, result=result)
            for index, status, source, at, reason, materials, result in page]
    book.write()
    return said


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=reports)
def test_a_page_written_together_equals_the_reports_recorded_one_by_one(paths: Paths, two_items: list[int],
                                                                        page: list[Report]) -> None:
    sessions = session_factory(paths.ledger_url)
    outcomes = []
    for apply in (_one_by_one, _as_a_page):
        with sessions() as session:
            said = apply(session, two_items, page)
            outcomes.append((said, _snapshot(session)))
            session.rollback()
    assert outcomes[0] == outcomes[1]
    assert sum(outcomes[1][0]) == len(outcomes[1][1]["events"])  # True exactly when an event was appended


def test_the_events_of_a_page_are_recorded_at_one_moment_and_the_next_page_at_its_own(
        paths: Paths, two_items: list[int]) -> None:
    sessions = session_factory(paths.ledger_url)
    with sessions.begin() as session:
        items, book = item_rows(session, two_items), StatusBook(session)
        before = utcnow()
        for item_id in two_items:
            book.record(items[item_id], Status.ACCEPTED, "health", code=None, reason=None,
                        changed_at="2026-12-01T10:00:00+08:00")
        book.write()
        time.sleep(0.01)
        book.record(items[two_items[0]], Status.UNDER_REVIEW, "health", code=None, reason=None,
                    changed_at="2026-12-02T10:00:00+08:00")
        book.write()
        after = utcnow()
    with sessions() as session:
        first, second, third = session.scalars(select(StatusEvent.recorded_at).order_by(StatusEvent.id))
    assert before <= first == second < third <= after


def test_a_push_arriving_while_a_poll_judges_the_same_change_waits_and_records_nothing_twice(
        paths: Paths, two_items: list[int]) -> None:
    """A poll reads an item (locked while judged); a department's push of the same change comes meanwhile in its
    own transaction. On SQLite too it waits for the poll, then finds the change recorded: one event, not two."""
    import threading

    item, sessions = two_items[0], session_factory(paths.ledger_url)

    def judge_and_write(session: Session) -> bool:
        book = StatusBook(session)
        moved = book.record(item_rows(session, {item}, lock=True)[item], Status.UNDER_REVIEW, "health", code="SHZ",
                            reason=None, changed_at="2026-12-02T10:00:00+08:00")
        book.write()
        return moved

    pushed: list[bool] = []

    def push() -> None:
        with sessions.begin() as session:
            pushed.append(judge_and_write(session))

    with sessions.begin() as poll:
        rows = item_rows(poll, {item}, lock=True)
        other = threading.Thread(target=push)
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive()  # the push waits for the poll's transaction
        book = StatusBook(poll)
        assert book.record(rows[item], Status.UNDER_REVIEW, "health", code="SHZ", reason=None,
                           changed_at="2026-12-02T10:00:00+08:00")
        book.write()
    other.join(timeout=30)
    assert pushed == [False]
    with sessions() as s:
        events = s.scalars(select(StatusEvent).where(StatusEvent.case_item_id == item,
                                                     StatusEvent.status == Status.UNDER_REVIEW.value)).all()
    assert len(events) == 1


@pytest.mark.parametrize("written", ["申请人 {id}（电话 13812345678）信息不一致",
                                     "申请人ID{id}，电话+8613812345678，信息不一致",  # found by a search for leaks
                                     "申请人 {id6} {id8} {id4}，电话 138-1234-5678，信息不一致"])
def test_a_departments_words_are_kept_with_id_and_mobile_numbers_masked(paths: Paths, two_items: list[int],
                                                                        written: str) -> None:
    """Polled, pushed or on a receipt, a status's reason is stored masked (the item, its event, an illegal move):
    also an ID number next to letters or grouped, and a mobile number after +86 or grouped."""
    id_number = make_id_number("341602", date(1965, 3, 1), 7, male=True)
    said = written.format(id=id_number, id6=id_number[:6], id8=id_number[6:14], id4=id_number[14:])
    with session_factory(paths.ledger_url).begin() as s:
        items, book = item_rows(s, two_items), StatusBook(s)
        book.record(items[two_items[0]], Status.NOT_ACCEPTED, "health", code="BYSL", reason=said,
                    changed_at="2026-12-01T10:00:00+08:00")
        book.record(items[two_items[0]], Status.ACCEPTED, "health", code="SL", reason=said,
                    changed_at="2026-12-02T10:00:00+08:00")  # after a final status: illegal, kept with its words
        book.write()
    with session_factory(paths.ledger_url)() as s:
        kept = [s.scalars(select(CaseItem.reason).where(CaseItem.id == two_items[0])).one(),
                *s.scalars(select(StatusEvent.reason)), *s.scalars(select(IllegalTransition.reason))]
    assert len(kept) == 3
    assert all(id_number[6:14] not in r and "1234" not in r for r in kept)
    assert all(f"{id_number[:6]}********{id_number[-4:]}" in r and "138****5678" in r for r in kept)
