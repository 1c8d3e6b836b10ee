"""A chunk's new cases written set-based: cases, their items and their outbox rows in three statements.

Staging (:mod:`lianban.pipeline.stage`) decides each row's fate in Python and hands every case it enters to a
:class:`NewCases` (so do held cases, :mod:`lianban.pipeline.notices`); :meth:`NewCases.write` then inserts them
with one driver executemany per table (:func:`lianban.ledger.db.plain_write`) — the cases, then the case items,
then the deliveries, the new ids read back in between by their unique keys (办件编号; case and item) — instead
of one ORM object and flush per row (measured: 6.5 flushes per case were 60 % of staging's time; the ORM's own
bulk insert of the mapped classes then still cost a fifth; an insert returning the ids in parameter order ran
one statement per row on SQLite, a fifth of staging again at 100,000 rows).
What is written is exactly what the ORM path wrote: the same columns, the same defaults (an item not final, a
delivery pending with no attempt), sealed envelopes and blind indexes only, in the caller's transaction.

Until :meth:`NewCases.write`, nothing of the chunk's new cases is in the database: the caller must not query
for them before (staging keeps what it needs to know about them in memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from lianban.ledger.db import plain_rows, plain_write
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.new_items import DELIVERY_FIELDS, NewDelivery, NewItem
from lianban.ledger.store import DeliveryState

__all__ = ["NewCases", "NewDelivery", "NewItem"]

_CASES, _ITEMS, _DELIVERIES = (cast(Table, model.__table__) for model in (Case, CaseItem, Delivery))
_ADD_CASES, _ADD_ITEMS, _ADD_DELIVERIES = insert(_CASES), insert(_ITEMS), insert(_DELIVERIES)
#: the values of a new item's and a new delivery's rows, in the order the tuples handed to the driver hold them
#: (a delivery's sealed payload: a NewDelivery's values, in its order)
_ITEM_COLUMNS = ("case_id", "item_code", "department", "final")
_DELIVERY_COLUMNS = ("case_item_id", "department", *DELIVERY_FIELDS, "created_at", "state", "attempts",
                     "next_attempt_at")


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
        """Insert every case, item and delivery added (three executemany statements, and two queries for the
        new ids), then forget them; each item's new id with the item, in the order added.

        The deliveries go in one department after another (each department's in the order added), so that a
        department's rows lie together: its deliveries are claimed and settled a batch at a time in id order,
        and each rewrites its rows. Interleaved case by case, a batch of 1,000 rows of one department was spread
        over the pages of some 1,500 (medical) to 12,000 rows (health; about 7 rows to a page), each page written
        twice (measured at 100,000 records: housing fund alone wrote 312 MB to the write-ahead log, 120 MB
        grouped)."""
        if not self.cases:
            return []
        plain_write(session, _ADD_CASES, self.cases)
        case_ids = _case_ids(session, [case["case_no"] for case in self.cases])
        rows = [(case_ids[case["case_no"]], item) for case, items in zip(self.cases, self.items, strict=True)
                for item in items]
        plain_write(session, _ADD_ITEMS, [(case_id, code, department, False)
                                          for case_id, (code, department, _) in rows], columns=_ITEM_COLUMNS)
        item_ids = _item_ids(session, list(case_ids.values()))
        written = [(item_ids[(case_id, item[0])], item) for case_id, item in rows]  # item[0]: its item code
        now, pending = self.now, DeliveryState.PENDING
        deliveries = [(item_id, department, *delivery, now, pending, 0, now)
                      for item_id, (_, department, delivery) in written if delivery is not None]
        deliveries.sort(key=itemgetter(1))  # by department, stable
        plain_write(session, _ADD_DELIVERIES, deliveries, columns=_DELIVERY_COLUMNS)
        self.cases, self.items = [], []
        return written


def _case_ids(session: Session, case_nos: list[str]) -> dict[str, int]:
    """The ids of the cases just inserted, by 办件编号 (unique): read back in one query, since an insert that
    returned them in order ran one statement per row on SQLite (a fifth of staging's time at 100,000 rows)."""
    query = select(_CASES.c.case_no, _CASES.c.id).where(_CASES.c.case_no.in_(case_nos))
    return dict(plain_rows(session, query))


def _item_ids(session: Session, case_ids: list[int]) -> dict[tuple[int, str], int]:
    """The ids of the new cases' items (just inserted: a new case has no others), by case and item (unique)."""
    query = select(_ITEMS.c.case_id, _ITEMS.c.item_code, _ITEMS.c.id).where(_ITEMS.c.case_id.in_(case_ids))
    return {(case_id, item_code): item_id for case_id, item_code, item_id in plain_rows(session, query)}
