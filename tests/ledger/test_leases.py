"""Leases (lianban.ledger.leases): one run at a time, on SQLite and PostgreSQL, and a dead run's taken over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from lianban.ledger import leases
from lianban.ledger.db import session_factory
from lianban.ledger.leases import held
from lianban.ledger.models import Watermark
from lianban.ledger.store import utcnow


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[timedelta]:
    """The leases' clock, moved on by the test (a run working for minutes)."""
    start, moved = utcnow(), [timedelta()]
    monkeypatch.setattr(leases, "utcnow", lambda: start + moved[0])
    return moved


def test_one_run_holds_a_lease_at_a_time_and_gives_it_back(ledger_url: str) -> None:
    sessions = session_factory(ledger_url)
    with held(sessions, "work", 60) as first, held(sessions, "work", 60) as second, \
            held(sessions, "other", 60) as elsewhere:
        assert (bool(first), bool(second), bool(elsewhere)) == (True, False, True)
    with held(sessions, "work", 60) as again:
        assert again


def test_a_lease_past_its_time_is_taken_over_and_the_late_run_does_not_free_the_new_one(ledger_url: str) -> None:
    sessions = session_factory(ledger_url)
    late = held(sessions, "work", 60)
    assert late.__enter__()
    with sessions.begin() as s:  # the run holding it stopped answering long ago
        s.execute(update(Watermark).where(Watermark.name == "lease:work")
                  .values(updated_at=utcnow() - timedelta(seconds=61)))
    with held(sessions, "work", 60) as taken:
        assert taken
        late.__exit__(None, None, None)  # the old run wakes up and ends: what it held is no longer its
        with held(sessions, "work", 60) as third:
            assert not third


def test_a_holder_that_renews_keeps_its_lease_past_its_first_term(ledger_url: str, clock: list[timedelta]) -> None:
    """A run still sending 100 s into a 60 s lease, having renewed it 50 s in: another run is busy. Before, the
    lease ran out 60 s after it was taken whatever the run was doing, and the other run told the same things."""
    sessions = session_factory(ledger_url)
    with held(sessions, "work", 60) as lease:
        assert lease is not None
        clock[0] += timedelta(seconds=50)
        assert lease.renew()
        clock[0] += timedelta(seconds=50)
        with held(sessions, "work", 60) as other:
            assert other is None
        assert lease.renew()


def test_a_holder_that_stopped_renewing_is_taken_over_and_its_renewal_says_so(ledger_url: str,
                                                                               clock: list[timedelta]) -> None:
    sessions = session_factory(ledger_url)
    with held(sessions, "work", 60) as late:
        assert late is not None and late.renew()
        clock[0] += timedelta(seconds=61)  # silent for longer than the lease: taken for dead
        with held(sessions, "work", 60) as taken:
            assert taken is not None
            assert not late.renew()  # it wakes up: no longer its lease, and it stays the other run's
            assert taken.renew()
