"""The HRSS 前置库 source: incremental pull by 同步标志, never twice, never missed; the status log."""

from __future__ import annotations

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.statuses import CODES, STATUSES
from lianban.app.config import Paths
from lianban.domain.intake import Unreadable
from lianban.domain.statuses import Status
from simulators.people import generate


def test_pull_takes_each_row_once_in_order(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(25))
    seen: list[int] = []
    while batch := db.pull_new(10):
        seen += [r.seq for r in batch]
        db.mark([r.seq for r in batch], "taken")
    assert seen == list(range(1, 26))


def test_rows_written_during_a_pull_are_not_missed(paths: Paths) -> None:
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(generate(5))
    first = db.pull_new(100)
    db.insert_applications(generate(3, seed=7, start_seq=6))
    db.mark([r.seq for r in first], "taken")
    assert [r.seq for r in db.pull_new(100)] == [6, 7, 8]


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
