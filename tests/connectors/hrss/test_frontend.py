"""The HRSS 前置库 source: incremental pull by 同步标志, never twice, never missed; the status log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.mapping import IN_LIST_LIMIT
from connectors.hrss.statuses import CODES, STATUSES
from lianban.app.config import Paths
from lianban.domain.intake import Unreadable
from lianban.domain.statuses import Status
from lianban.domain.supplements import SupplementSubmission
from lianban.wire.contract import PaymentOrder
from simulators.people import generate
from tests.conftest import own_postgres


def test_pull_takes_each_row_once_in_order(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(25))
    seen: list[int] = []
    while batch := db.pull_new(10):
        seen += [r.seq for r in batch]
        db.mark(batch, "taken")
    assert seen == list(range(1, 26))


def test_rows_written_during_a_pull_are_not_missed(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(5))
    first = db.pull_new(100)
    db.insert_applications(generate(3, seed=7, start_seq=6))
    db.mark(first, "taken")
    assert [r.seq for r in db.pull_new(100)] == [6, 7, 8]


def test_a_pull_after_a_seq_reads_the_untaken_rows_past_it_before_those_pulled_are_flagged(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(9))
    first = db.pull_new(4)
    db.mark([first[1]], "taken")
    assert [r.seq for r in db.pull_new(4, after=first[-1].seq)] == [5, 6, 7, 8]
    assert [r.seq for r in db.pull_new(100, after=0)] == [1, 3, 4, 5, 6, 7, 8, 9]
    assert db.pull_new(4, after=9) == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def frontend(request: pytest.FixtureRequest, paths: Paths) -> FrontendDB:
    """The 前置库 on SQLite (the embedded default) and on a real PostgreSQL (LIANBAN_TEST_PG_URL), empty."""
    if request.param == "sqlite":
        return FrontendDB(paths.frontend_url)
    db = FrontendDB(own_postgres())
    db.create()
    return db


def test_a_row_changed_since_it_was_read_is_not_flagged_and_is_read_again_as_it_is_now(frontend: FrontendDB) -> None:
    db = frontend
    db.insert_applications(generate(3))
    read = db.pull_new(10)
    db.correct(2, {"phone": "13900000000"})  # HRSS, after the hub read it
    assert db.mark(read, "taken") == [2]
    again = db.pull_new(10)
    assert [r.seq for r in again] == [2] and again[0].values["phone"] == "13900000000"
    assert db.mark(again, "quarantined") == []
    assert db.pull_new(10) == [] and [r.seq for r in db.quarantined()] == [2]


def test_a_changed_row_is_found_where_returning_comes_back_through_the_result(
        frontend: FrontendDB, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle's RETURNING rows reach SQLAlchemy's result, not the driver's cursor (out-parameters): the path any
    dialect but SQLite's and PostgreSQL's takes, run here on those."""
    monkeypatch.setattr("connectors.hrss.frontend.CURSOR_RETURNING", frozenset())
    test_a_row_changed_since_it_was_read_is_not_flagged_and_is_read_again_as_it_is_now(frontend)


def test_a_row_flagged_meanwhile_is_left_as_it_is(frontend: FrontendDB) -> None:
    db = frontend
    db.insert_applications(generate(2))
    read = db.pull_new(10)
    assert db.mark(read[:1], "quarantined") == []
    assert db.mark(read, "taken") == []  # the first was quarantined meanwhile: not flagged taken over it
    assert [r.seq for r in db.quarantined()] == [1] and db.pull_new(10) == []


@pytest.fixture
def in_lists(paths: Paths) -> Iterator[tuple[FrontendDB, list[int]]]:
    """The 前置库 and the length of every ``IN (…)`` list sent to it, as the statements went out."""
    db, lengths = FrontendDB(paths.frontend_url), []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        lengths.extend(found.count("?") for found in re.findall(r"IN \(([^)]*)\)", statement))

    event.listen(db.engine, "before_cursor_execute", seen)
    yield db, lengths
    event.remove(db.engine, "before_cursor_execute", seen)


def test_a_chunk_of_rows_is_flagged_in_lists_oracle_accepts(in_lists: tuple[FrontendDB, list[int]]) -> None:
    """HRSS's 前置库 runs on Oracle, which refuses an IN list of more than 1,000 (ORA-01795): staging flags
    2,000 rows a chunk."""
    db, lengths = in_lists
    db.insert_applications(generate(2300))
    read = db.pull_new(5000)
    db.correct(2100, {"phone": "13900000000"})  # changed after the read: flagged back, in a list of its own
    assert db.mark(read[:2200], "taken") == [2100] and db.mark(read[2200:], "quarantined") == []
    assert [r.seq for r in db.pull_new(5000)] == [2100] and len(db.quarantined()) == 100
    assert lengths and max(lengths) <= IN_LIST_LIMIT


def test_payment_requests_are_asked_and_taken_in_lists_oracle_accepts(in_lists: tuple[FrontendDB, list[int]]) -> None:
    db, lengths = in_lists
    orders = [PaymentOrder(f"Q{n:05d}", f"BJ{n:05d}", "13", "100.00") for n in range(1500)]
    db.request_payments(orders[:600])
    db.request_payments(orders)  # the first 600 already there: not asked twice
    assert [o.request_no for o in db.new_payment_requests()] == [o.request_no for o in orders]
    db.take_payment_requests([o.request_no for o in orders])
    assert db.new_payment_requests() == [] and max(lengths) <= IN_LIST_LIMIT


def test_unflagged_rows_come_back_after_a_crash(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(4))
    assert len(db.pull_new(100)) == 4
    assert len(db.pull_new(100)) == 4  # nothing flagged yet: the next run reads them again


def test_record_fields_map_from_pinyin_columns(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    app = next(generate(1))
    db.insert_applications([app])
    (row,) = db.pull_new(1)
    assert row.seq == 1 and {k: row.values[k] for k in app} == app
    assert app["id_number"] not in repr(row) and app["name"] not in repr(row)


def test_a_status_row_with_an_unknown_code_comes_back_with_its_reason(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.append_status("BZ1", "01", "7")
    (row,) = db.status_changes_since(0, 10)
    assert isinstance(row, Unreadable) and row.seq == 1
    assert any("'7'" in r and "connectors/hrss/statuses.py" in r for r in row.reasons)


def test_status_log_reads_past_a_watermark(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.append_status("BZ1", "01", CODES[Status.ACCEPTED])
    db.append_status("BZ1", "01", CODES[Status.UNDER_REVIEW])
    first = db.status_changes_since(0, 10)
    assert [getattr(c, "status", None) for c in first] == [Status.ACCEPTED, Status.UNDER_REVIEW]
    assert db.status_changes_since(first[-1].seq, 10) == []


def test_every_hrss_code_maps_both_ways() -> None:
    assert set(STATUSES.values()) == set(Status)
    assert all(STATUSES[CODES[s]] is s for s in Status)


def test_a_supplement_status_carries_its_materials_and_an_unknown_code_is_unreadable(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.append_status("BZ1", "01", CODES[Status.SUPPLEMENT], "请补正", materials=("M01", "M07"))
    db.append_status("BZ1", "02", CODES[Status.SUPPLEMENT], "请补正", materials=("M77",))
    asked, unknown = db.status_changes_since(0, 10)
    assert not isinstance(asked, Unreadable) and asked.materials == ("M01", "M07")
    assert isinstance(unknown, Unreadable) and any("M77" in r and "材料目录" in r for r in unknown.reasons)


def test_supplement_submissions_read_past_a_watermark_or_by_flag(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    first = db.record_supplement("BZ1", "14", ["M02"], at="2025-03-04T09:00:00+08:00")
    second = db.record_supplement("BZ2", "01", ["M01", "M03"])
    assert [r.seq for r in db.supplements_since(0, 10)] == [first, second]
    assert [r.seq for r in db.supplements_since(first, 10)] == [second]
    assert db.supplements_since(0, 10)[0] == SupplementSubmission(first, "BZ1", "14", ("M02",),
                                                                   "2025-03-04T09:00:00+08:00")
    db.mark_supplements([first])
    assert [r.seq for r in db.pull_new_supplements(10)] == [second]
