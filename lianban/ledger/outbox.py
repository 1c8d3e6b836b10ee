"""Claiming outbox rows (deliveries, 补正 submissions) so that two runs never send the same row at once.

:func:`claim` takes up to `limit` due rows of one department for the calling run in one statement that moves
their next attempt a lease ahead: no other run — a retry overlapping a slow first try, a second Celery worker —
sees them as due while this one sends them. Settling a row sets its real next attempt (or a final state); a run
that dies lets its rows fall due again when the lease ends, so nothing is lost and nothing waits forever.
PostgreSQL skips rows another claim is taking (``FOR UPDATE SKIP LOCKED``); SQLite runs the one statement under
its database write lock, which serialises claims just as well.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lianban.ledger.store import utcnow

__all__ = ["LEASE", "claim"]

LEASE = timedelta(minutes=10)  # longer than any one batch's send, its timeouts and retries included


def claim(session: Session, model: Any, department: str, due_states: Collection[str], limit: int,
          lease: timedelta = LEASE) -> list[int]:
    """The ids of the rows of `model` (Delivery, Supplement) this run now holds, in order (module docstring)."""
    now = utcnow()
    due = (select(model.id).where(model.department == department, model.state.in_(list(due_states)),
                                  model.next_attempt_at <= now).order_by(model.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    taken = session.execute(update(model).where(model.id.in_(due.scalar_subquery()))
                            .values(next_attempt_at=now + lease).returning(model.id)
                            .execution_options(synchronize_session=False))
    return sorted(taken.scalars())
