"""Status moves for many items at once, without the ORM's unit of work.

The steps that take statuses by the thousand (delivery receipts, polls, departments' pushes, HRSS's log) read the status
columns of a page's items in one query, judge every report in memory by the very rules of
:func:`lianban.ledger.store.move_status` (an item reported twice in a page moves twice, in order), and write the
moved items and their new events in two statements when the page is done. Writing them one ORM object at a time
cost more than everything else in those steps together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from lianban.domain.statuses import Status
from lianban.ledger.db import core_rows, plain_write, write_lock
from lianban.ledger.models import CaseItem, StatusEvent
from lianban.ledger.store import ItemRow, move_status, utcnow

_ITEMS = cast(Table, CaseItem.__table__)
_EVENTS = cast(Table, StatusEvent.__table__)
_COLUMNS = ("status", "status_at", "reason", "final", "materials", "supplement_due")
_MOVE = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values({c: bindparam(c) for c in _COLUMNS})
_MOVE_FROM = {"item_id": "id", **{c: c for c in _COLUMNS}}  # _MOVE's parameters: an ItemRow's attributes
_APPEND = insert(_EVENTS)


def item_rows(session: Session, ids: Collection[int], lock: bool = False) -> dict[int, ItemRow]:
    """Items `ids` by id, in one query; `lock`: each row locked until the transaction ends (PostgreSQL; on SQLite
    the database's write lock taken first, :func:`lianban.ledger.db.write_lock`)."""
    query: Select[Any] = select(_ITEMS.c.id, _ITEMS.c.item_code, *(_ITEMS.c[c] for c in _COLUMNS))
    query = query.where(_ITEMS.c.id.in_(set(ids))).order_by(_ITEMS.c.id)
    if lock:
        write_lock(session)
        query = query.with_for_update()
    return {row[0]: ItemRow(*row) for row in core_rows(session, query)}


@dataclass
class StatusBook:
    """Status moves judged one by one and written together by :meth:`write` (before the transaction ends). The
    events written together are recorded at one moment, when the first of them was judged (a time of its own
    for each, made and converted for SQLite, was 2 % of a delivery run's CPU)."""

    session: Session
    _moved: dict[int, ItemRow] = field(default_factory=dict)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _now: datetime | None = None
    _results: set[tuple[int, str]] = field(default_factory=set)  # (item, status) of moves here with a result

    def record(self, item: ItemRow, status: Status, source: str, *, code: str | None, reason: str | None,
               changed_at: str, materials: Sequence[str] = (), result: str | None = None) -> bool:
        """As :func:`lianban.ledger.store.record_status`: False (no event) when nothing changed."""
        if self._now is None:
            self._now = utcnow()
        event = move_status(self.session, item, status, source, code=code, reason=reason, changed_at=changed_at,
                            materials=materials, result=result, now=self._now, results_here=self._results)
        if event is None:
            return False
        self._moved[item.id] = item
        self._events.append(event)
        if result is not None:
            self._results.add((item.id, status.value))
        return True

    def write(self) -> None:
        """The moved items' new status columns, and the events in the order they were recorded."""
        if self._moved:
            plain_write(self.session, _MOVE, list(self._moved.values()), attributes=_MOVE_FROM)
        plain_write(self.session, _APPEND, self._events)
        self._moved, self._events, self._now, self._results = {}, [], None, set()
