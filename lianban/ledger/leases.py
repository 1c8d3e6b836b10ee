"""Leases: one run at a time for work that tells someone outside, where a database lock cannot be held.

Telling a liaison (an e-mail, an SMS) takes seconds and cannot be rolled back, so the alerts check and the daily
summary send outside any transaction, and mark what they told afterwards. Two runs at once (the DAG's and an
operator's ``lianban alerts check``) would both tell the same thing, or one would mark as told what the other was
still sending. A lease is a row in ``watermarks`` (``lease:<name>``): ``updated_at`` when a run took it (also the
run's mark: no other run's is the same) and ``value`` for how many seconds (0: given back). :func:`held` takes it
when it is free or has run out (a run that died frees it once its time is up) and gives it back when the block
ends. The run renews it as its work goes on (:meth:`Lease.renew`, between one message and the next): ``value``
grows, so the lease runs out `seconds` after the run's last sign of life, not after its start (before, a run
whose sending outlasted its first term was taken over by the next, and both told the same thing). A run that
finds it renews too late (another run holds the lease now) stops.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lianban.ledger.db import write_lock
from lianban.ledger.models import Watermark
from lianban.ledger.store import utcnow

__all__ = ["Lease", "held"]


def _take(sessions: sessionmaker[Session], name: str, seconds: int) -> datetime | None:
    """When this run took the lease (its mark: no other run's is the same), or None when another run holds it."""
    taken = utcnow()
    try:
        with sessions.begin() as session:
            write_lock(session)
            row = session.get(Watermark, name, with_for_update=True)
            if row is not None and row.updated_at + timedelta(seconds=row.value) > taken:
                return None
            if row is None:  # PostgreSQL: another run inserting it first ends this one at the commit
                session.add(Watermark(name=name, value=seconds, updated_at=taken))
            else:
                row.value, row.updated_at = seconds, taken
    except IntegrityError:
        return None
    return taken


def _give_back(sessions: sessionmaker[Session], name: str, taken: datetime) -> None:
    with sessions.begin() as session:
        write_lock(session)
        row = session.get(Watermark, name, with_for_update=True)
        if row is not None and row.updated_at == taken:  # still ours (not run out and taken by another run)
            row.value, row.updated_at = 0, utcnow()


@dataclass(frozen=True)
class Lease:
    """A lease this run holds, taken at `taken` (its mark) for `seconds` at a time."""

    sessions: sessionmaker[Session]
    name: str
    seconds: int
    taken: datetime

    def renew(self) -> bool:
        """Whether this run still holds the lease; when it does, the lease now runs `seconds` from now (when it
        does not, another run took it over once it had run out, and this run should stop)."""
        now = utcnow()
        with self.sessions.begin() as session:
            write_lock(session)
            row = session.get(Watermark, self.name, with_for_update=True)
            if row is None or row.updated_at != self.taken:
                return False
            row.value = math.ceil((now - self.taken).total_seconds()) + self.seconds
        return True


@contextmanager
def held(sessions: sessionmaker[Session], name: str, seconds: int) -> Iterator[Lease | None]:
    """Hold lease `name` for `seconds` (renewed by :meth:`Lease.renew`) over the block; yields it, or None when
    another run holds it (the block should do nothing)."""
    taken = _take(sessions, f"lease:{name}", seconds)
    try:
        yield None if taken is None else Lease(sessions, f"lease:{name}", seconds, taken)
    finally:
        if taken is not None:
            _give_back(sessions, f"lease:{name}", taken)
