"""A chunk's new cases written set-based: cases, their items and their outbox rows in three statements.

Staging (:mod:`lianban.pipeline.stage`) decides each row's fate in Python and hands every case it enters to a
:class:`NewCases` (so do held cases, :mod:`lianban.pipeline.notices`); :meth:`NewCases.write` then inserts them
with SQLAlchemy Core ``insert()`` executemany on the tables — the cases (their ids returned in parameter order),
the case items (likewise), the deliveries — instead of one ORM object and flush per row (measured: 6.5 flushes
per case were 60 % of staging's time; the ORM's own bulk insert of the mapped classes then still cost a fifth).
What is written is exactly what the ORM path wrote: the same columns, the same defaults (an item not final, a
delivery pending with no attempt), sealed envelopes and blind indexes only, in the caller's transaction.

Until :meth:`NewCases.write`, nothing of the chunk's new cases is in the database: the caller must not query
for them before (staging keeps what it needs to know about them in memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from lianban.ledger.db import plain_write
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.store import DeliveryState

_CASES, _ITEMS, _DELIVERIES = (cast(Table, model.__table__) for model in (Case, CaseItem, Delivery))
_ADD_DELIVERIES = insert(_DELIVERIES)


@dataclass(frozen=True)
class NewDelivery:
    """One sealed payload for one department (the outbox row of one item)."""

    idempotency_key: str
    key_id: str
    envelope: str  # sealed JSON, see lianban.crypto.vault


@dataclass(frozen=True)
class NewItem:
    """One chosen item of a new case; `delivery` None for an item the hub does not push (HRSS's own)."""

    item_code: str
    department: str
    delivery: NewDelivery | None = None


@dataclass
class NewCases:
    """The new cases of one chunk, written together by :meth:`write` (at `now`: staged and due)."""

    now: datetime
    cases: list[dict[str, Any]] = field(default_factory=list)
    items: list[list[NewItem]] = field(default_factory=list)

    def add(self, case: Mapping[str, Any], items: Sequence[NewItem], held: bool = False) -> None:
        """One case (``Case`` column values but id, held and staged_at) and its items; `held`: entered held
        for correction (:mod:`lianban.pipeline.notices`), its items without deliveries."""
        self.cases.append({**case, "held": held, "staged_at": self.now})
        self.items.append(list(items))

    def write(self, session: Session) -> list[tuple[int, NewItem]]:
        """Insert every case, item and delivery added (three statements), then forget them; each item's new id
        with the item, in the order added."""
        if not self.cases:
            return []
        case_ids = _inserted(session, _CASES, self.cases)
        rows = [(case_id, item) for case_id, items in zip(case_ids, self.items, strict=True) for item in items]
        item_ids = _inserted(session, _ITEMS, [{"case_id": case_id, "item_code": item.item_code,
                                                   "department": item.department, "final": False}
                                                  for case_id, item in rows])
        written = [(item_id, item) for item_id, (_, item) in zip(item_ids, rows, strict=True)]
        deliveries = [self._delivery(item_id, item) for item_id, item in written if item.delivery is not None]
        plain_write(session, _ADD_DELIVERIES, deliveries)
        self.cases, self.items = [], []
        return written

    def _delivery(self, item_id: int, item: NewItem) -> dict[str, Any]:
        sealed = item.delivery
        assert sealed is not None
        return {"case_item_id": item_id, "department": item.department, "idempotency_key": sealed.idempotency_key,
                "key_id": sealed.key_id, "envelope": sealed.envelope, "created_at": self.now,
                "state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": self.now}


def _inserted(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` into `table` in one executemany; their new ids, in the order of `rows`."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))
