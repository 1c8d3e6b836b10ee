"""Claiming outbox rows (deliveries, 补正 submissions) so that two runs never send the same row at once.

:func:`claim` takes up to `limit` due rows of one department for the calling run in one statement that moves
their next attempt a lease ahead: no other run — a retry overlapping a slow first try, a second Celery worker —
sees them as due while this one sends them; a run splitting a refused batch renews the claim on the rows it has
not settled before each call (:func:`renew`), as the split may outlast one lease. Settling a row sets its real
next attempt (or a final state); a run that dies lets its rows fall due again when the lease ends, so nothing is
lost and nothing waits forever.
PostgreSQL skips rows another claim is taking (``FOR UPDATE SKIP LOCKED``); SQLite runs the one statement under
its database write lock, which serialises claims just as well.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, select, union_all, update
from sqlalchemy.orm import Session

from lianban.ledger.db import core_rows, plain_write, write_lock
from lianban.ledger.models import Delivery
from lianban.ledger.store import utcnow

__all__ = ["LEASE", "OutboxRow", "claim", "delivery_rows", "due_count", "first_due", "renew", "write_deliveries"]

LEASE = timedelta(minutes=10)  # longer than any one batch's send, its timeouts and retries included


def _due_first(model: Any, department: str, state: str, now: datetime, limit: int) -> Select[Any]:
    """(id, next attempt) of the first `limit` rows of `model` in `state` due for `department` at `now`, the longest
    due first: the (department, state, next_attempt_at) index read for `limit` rows."""
    return (select(model.id, model.next_attempt_at)
            .where(model.department == department, model.state == state, model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id).limit(limit))


def claim(session: Session, model: Any, department: str, due_states: Collection[str], limit: int,
          lease: timedelta = LEASE) -> list[int]:
    """The ids of the rows of `model` (Delivery, Supplement) this run now holds, the longest due first (then by
    id), returned in id order (module docstring).

    Each state is asked for on its own, in the order of the (department, state, next_attempt_at) index, so that
    the database reads `limit` rows per state, never every due row: ordering the due rows of all states by id
    read and sorted them all, 0.22 s per batch with 1.2 million pending (quadratic over a backfill)."""
    now = utcnow()
    locking = session.get_bind().dialect.name == "postgresql"
    arms = []
    for state in sorted(set(due_states)):
        arm = _due_first(model, department, state, now, limit)
        arms.append((arm.with_for_update(skip_locked=True) if locking else arm).subquery().select())
    either = union_all(*arms).subquery()
    due = select(either.c.id).order_by(either.c.next_attempt_at, either.c.id).limit(limit)
    taken = session.execute(update(model).where(model.id.in_(due.scalar_subquery()))
                            .values(next_attempt_at=now + lease).returning(model.id)
                            .execution_options(synchronize_session=False))
    return sorted(taken.scalars())


def renew(session: Session, model: Any, ids: Collection[int], due_states: Collection[str],
          lease: timedelta = LEASE) -> None:
    """Hold rows `ids` of `model` that this run claimed and has not settled for another `lease` from now: a long
    split of a refused batch (lianban.pipeline.bisect) outlasts one lease. Only a row still held is renewed (its
    lease not yet over: no other run can have claimed it); the caller renews within a lease of the last time."""
    if not ids:
        return
    now = utcnow()
    session.execute(update(model).where(model.id.in_(sorted(ids)), model.state.in_(sorted(set(due_states))),
                                        model.next_attempt_at > now)
                    .values(next_attempt_at=now + lease).execution_options(synchronize_session=False))


def due_count(session: Session, model: Any, department: str, due_states: Collection[str], up_to: int) -> int:
    """How many rows of `model` are due for `department` now, counted up to `up_to`: a look at the backlog (the
    due index read for at most that many rows), not a census."""
    due = (select(model.id).where(model.department == department, model.state.in_(sorted(set(due_states))),
                                  model.next_attempt_at <= utcnow()).limit(up_to).subquery())
    return int(session.scalar(select(func.count()).select_from(due)) or 0)


def first_due(session: Session, model: Any, department: str, due_states: Collection[str]) -> int | None:
    """The id of the row of `model` a claim for `department` would take first now (:func:`claim`'s order), None
    when none is due: while a run claims, it changes from look to look; new rows, due later, never change it."""
    now = utcnow()
    heads = [head for state in sorted(set(due_states))  # as claim asks: each state on its own, one row read
             if (head := session.execute(_due_first(model, department, state, now, 1)).first()) is not None]
    return min(heads, key=lambda head: (head[1], head[0]))[0] if heads else None


_DELIVERIES = cast(Table, Delivery.__table__)
_SETTLED = ("state", "attempts", "last_error", "next_attempt_at", "sent_at", "receipt_ref")
_SETTLE = (update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("row_id"))
           .values({c: bindparam(c) for c in _SETTLED}))
_SETTLE_FROM = {"row_id": "id", **{c: c for c in _SETTLED}}  # _SETTLE's parameters: an OutboxRow's attributes


@dataclass(slots=True)
class OutboxRow:
    """One delivery's settling columns, read for a whole batch in one query and written back in one statement
    (:func:`write_deliveries`) instead of one ORM object each."""

    id: int
    department: str
    idempotency_key: str
    case_item_id: int
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    receipt_ref: str | None


def delivery_rows(session: Session, ids: Sequence[int], lock: bool = False) -> list[OutboxRow]:
    """The deliveries `ids` that exist, in that order; `lock`: each row locked until the transaction ends, in id
    order (PostgreSQL; a settle that waited for another's reads what that one wrote; on SQLite the database's
    write lock taken first, :func:`lianban.ledger.db.write_lock`)."""
    table = _DELIVERIES.c
    query = select(table.id, table.department, table.idempotency_key, table.case_item_id,
                   *(table[c] for c in _SETTLED)).where(table.id.in_(list(ids)))
    if lock:
        write_lock(session)
        query = query.order_by(table.id).with_for_update()
    by_id = {row[0]: OutboxRow(*row) for row in core_rows(session, query)}
    return [by_id[i] for i in ids if i in by_id]


def write_deliveries(session: Session, rows: Sequence[OutboxRow]) -> None:
    """The settling columns of `rows`, as they are now."""
    if rows:
        plain_write(session, _SETTLE, rows, attributes=_SETTLE_FROM)
