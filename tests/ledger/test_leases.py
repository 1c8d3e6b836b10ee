"""Leases (lianban.ledger.leases): one run at a time, on SQLite and PostgreSQL, and a dead run's taken over."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from lianban.ledger.db import session_factory
from lianban.ledger.leases import held
from lianban.ledger.models import Watermark
from lianban.ledger.store import utcnow


def test_one_run_holds_a_lease_at_a_time_and_gives_it_back(ledger_url: str) -> None:
    sessions = session_factory(ledger_url)
    with held(sessions, "work", 60) as first, held(sessions, "work", 60) as second, \
            held(sessions, "other", 60) as elsewhere:
        assert (first, second, elsewhere) == (True, False, True)
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
