"""Two runs reading HRSS's status log at once (``lianban run collect`` by hand while the DAG's runs): each page's
watermark is read under the ledger's write lock (SQLite; the watermark row's lock on PostgreSQL), so a run that
read it before the other committed pages past it does not write it back behind them."""

from __future__ import annotations

import threading

from exchange_kit import sqlite_ledger, write_lock_free
from sqlalchemy import func, select

from connectors.hrss.frontend import FrontendDB
from connectors.hrss.statuses import CODES
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import ParkedStatus
from lianban.ledger.store import get_watermark
from lianban.pipeline import status_log
from lianban.pipeline.stage import stage
from simulators.people import generate

HRSS_OWN = {f"{n:02d}" for n in range(1, 11)}


class _Overlapped:
    """HRSS's log as the first run reads it: at its first read the other run starts, and is given a moment."""

    def __init__(self, db: FrontendDB, other: threading.Thread) -> None:
        self.db, self.other = db, other

    def status_changes_since(self, seq: int, limit: int) -> list[object]:
        if not self.other.is_alive() and self.other.ident is None:
            self.other.start()
            self.other.join(timeout=1.0)
        return list(self.db.status_changes_since(seq, limit))

    def read_row(self, row: object) -> object:
        return self.db.read_row(row)  # type: ignore[arg-type]


def test_a_run_that_read_the_watermark_before_another_moved_it_does_not_move_it_back(paths: Paths) -> None:
    apps = [a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(","))]
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(apps[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    code = min(HRSS_OWN & set(apps[0]["items"].split(",")))
    db.append_status(apps[0]["case_no"], code, CODES[Status.ACCEPTED], at="2026-12-01T09:00:00+08:00")
    db.append_status(apps[0]["case_no"], code, CODES[Status.UNDER_REVIEW], at="2026-12-01T09:05:00+08:00")
    db.append_status(apps[1]["case_no"], code, CODES[Status.ACCEPTED], at="2026-12-01T09:10:00+08:00")  # waits
    failed: list[BaseException] = []

    def other() -> None:
        try:
            status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=2)
        except BaseException as exc:  # reported by the test
            failed.append(exc)

    runner = threading.Thread(target=other)
    status_log.collect_hrss(_Overlapped(db, runner), paths.ledger_url, paths.keys_dir, limit=2)  # type: ignore[arg-type]
    runner.join()
    assert failed == []
    status_log.collect_hrss(db, paths.ledger_url, paths.keys_dir, limit=2)  # the next run goes on
    with session_factory(paths.ledger_url)() as s:
        assert get_watermark(s, status_log.HRSS_WATERMARK) == 3
        assert s.scalar(select(func.count()).select_from(ParkedStatus)) == 1


class _Probing:
    """HRSS's log that, at each read, tries the ledger's write lock from a connection of its own (no waiting)."""

    def __init__(self, db: FrontendDB, ledger: str) -> None:
        self.db, self.ledger = db, ledger
        self.lock_free: list[bool] = []

    def status_changes_since(self, seq: int, limit: int) -> list[object]:
        self.lock_free.append(write_lock_free(self.ledger))
        return list(self.db.status_changes_since(seq, limit))

    def read_row(self, row: object) -> object:
        return self.db.read_row(row)  # type: ignore[arg-type]


def test_hrss_rows_are_read_before_the_ledgers_write_lock_is_taken(paths: Paths) -> None:
    """The polls write the ledger too: they need not wait while a page of HRSS's log is fetched and parsed."""
    ledger = sqlite_ledger(paths.ledger_url)
    apps = [a for a in generate(40, seed=3) if HRSS_OWN & set(a["items"].split(","))]
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(apps[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    code = min(HRSS_OWN & set(apps[0]["items"].split(",")))
    for minute, status in ((0, Status.ACCEPTED), (5, Status.UNDER_REVIEW), (10, Status.APPROVED)):
        db.append_status(apps[0]["case_no"], code, CODES[status], at=f"2026-12-01T09:{minute:02d}:00+08:00")
    source = _Probing(db, ledger)
    result = status_log.collect_hrss(source, paths.ledger_url, paths.keys_dir, limit=2)  # type: ignore[arg-type]
    assert result.read == 3 and source.lock_free == [True, True]
    with session_factory(paths.ledger_url)() as s:
        assert get_watermark(s, status_log.HRSS_WATERMARK) == 3
