"""The liaisons' daily summary as the ledger sees it (lianban.ledger.daily)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.ledger.daily import summaries
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.store import utcnow
from lianban.ledger.time_limits import BEIJING
from lianban.pipeline.stage import stage
from simulators.people import generate


@pytest.fixture
def beijing_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's own clock set to Beijing time, as a server in Bozhou would be."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_oldest_wait_is_counted_in_whole_days_whatever_the_machine_s_time_zone(
        seeded: Any, paths: Paths, beijing_machine: None) -> None:
    """A status reported 2 days and 2 hours ago (with its Beijing offset) has waited 2 days, on a machine whose
    local time is Beijing too (the ledger's clock is UTC)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    changed = (utcnow().replace(tzinfo=UTC) - timedelta(days=2, hours=2)).astimezone(BEIJING)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(CaseItem).where(CaseItem.department == "health", CaseItem.final.is_(False))
                  .values(status="审核中", status_at=changed.isoformat(timespec="seconds")))
    with session_factory(paths.ledger_url)() as s:
        assert s.scalar(select(CaseItem.id).where(CaseItem.department == "health")) is not None
        (health,) = summaries(s, ["health"])
    assert health.oldest_wait_days == 2


def test_an_item_no_one_has_reported_on_has_waited_since_its_case_was_staged(paths: Paths) -> None:
    """A department down since the cases were staged 3 days ago has reported nothing: its oldest item has waited
    3 days, not 0."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**a, "items": "01,14"} for a in generate(30, seed=41)
                            if len(a["phone"]) == 11 and a["employer_name"]][:3])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 3
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Case).values(staged_at=utcnow() - timedelta(days=3, hours=1)))
    with session_factory(paths.ledger_url)() as s:
        (housing,) = summaries(s, ["housing_fund"])
    assert (housing.backlog, housing.oldest_wait_days) == (3, 3)


def test_the_oldest_wait_is_found_by_the_moment_each_time_names_not_by_its_text(
        seeded: Any, paths: Paths) -> None:
    """One item reported 3 days and 1 hour ago, written in Beijing time; the others 2 days and 19 hours ago,
    written in UTC (``Z``): as text the later ones sort first (their clock reads 2 hours earlier), but the oldest
    has waited 3 days."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    now = utcnow().replace(tzinfo=UTC)
    oldest = (now - timedelta(days=3, hours=1)).astimezone(BEIJING).isoformat(timespec="seconds")
    newer = (now - timedelta(days=2, hours=19)).isoformat(timespec="seconds").replace("+00:00", "Z")
    with session_factory(paths.ledger_url).begin() as s:
        first, *rest = s.scalars(select(CaseItem.id).where(CaseItem.department == "health",
                                                           CaseItem.final.is_(False))).all()
        assert rest, "the seeded cases give health more than one item"
        s.execute(update(CaseItem).where(CaseItem.id.in_(rest)).values(status="审核中", status_at=newer))
        s.execute(update(CaseItem).where(CaseItem.id == first).values(status="审核中", status_at=oldest))
    with session_factory(paths.ledger_url)() as s:
        (health,) = summaries(s, ["health"])
    assert health.oldest_wait_days == 3


def test_a_status_reported_without_an_offset_has_waited_since_that_beijing_time(seeded: Any, paths: Paths) -> None:
    """A department reports Beijing time with no zone: a status of 2 days and 4 hours ago has waited 2 days (read
    as UTC it was 8 hours later: 1 day)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    changed = (utcnow().replace(tzinfo=UTC) - timedelta(days=2, hours=4)).astimezone(BEIJING).replace(tzinfo=None)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(CaseItem).where(CaseItem.department == "health", CaseItem.final.is_(False))
                  .values(status="审核中", status_at=changed.isoformat(timespec="seconds")))
    with session_factory(paths.ledger_url)() as s:
        (health,) = summaries(s, ["health"])
    assert health.oldest_wait_days == 2
