"""One case as an operator sees it (issue 9, item 9): the case list, and one case's items with their history.

A read model over ``cases``, ``case_items`` and ``status_events``; it never writes. Shapes (``as_dict``)::

    list   [{"case_no", "status"}]                        in 办件编号 order
    show   {"case_no", "status", "items": [{"item_code", "department", "status", "due_date",
            "due_date_estimated", "overdue", "history": [{"status", "at", "source", "reason", "materials"}]}]}

A case's status is the one its items' current statuses add up to (:mod:`lianban.domain.status_machine`); an
item's status is None until its department reports. History is the item's status events in the order they
were recorded; every reason is passed through :func:`lianban.domain.identity.redact_text` (a department's
free text may carry a phone number). ``materials`` names (in Chinese, from ``schemas/catalog/materials.yaml``)
the materials a 补正资料 event asked for; empty for any other event.

Time limits (压时限): ``due_date`` is the item's due date ("YYYY-MM-DD", None while its clock has not started),
``due_date_estimated`` whether it was counted Monday–Friday for want of a published holiday schedule (shown
估算), ``overdue`` whether it is past it; both from :mod:`lianban.ledger.time_limits`. :func:`due_date` and
:func:`is_overdue` are the one place they plug in, and ``--overdue`` asks the same predicate. "Today" is a
parameter (default: today in Beijing). An item at 补正资料 past its 补正 deadline (``CaseItem.supplement_due``)
is overdue too (:func:`lianban.ledger.time_limits.item_overdue`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from lianban.domain.identity import redact_text
from lianban.domain.intake import normalise_case_no
from lianban.domain.status_machine import load_status_machine
from lianban.domain.statuses import Status
from lianban.domain.supplements import material_names
from lianban.errors import ConfigError
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, PaymentRequest, StatusEvent
from lianban.ledger.time_limits import beijing_today, item_deadline, item_overdue

#: whether one case item is past its time limit
Overdue = Callable[[CaseItem], bool]


@dataclass(frozen=True)
class HistoryLine:
    """One status event of one item, as reported."""

    status: str
    at: str  # the department's own time of the change
    source: str  # the department key that reported it
    reason: str | None  # redacted
    materials: tuple[str, ...] = ()  # names of the materials asked for (补正资料)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at, "source": self.source, "reason": self.reason,
                "materials": list(self.materials)}


@dataclass(frozen=True)
class ItemView:
    """One chosen item of a case: where it stands and how it got there."""

    item_code: str
    department: str
    status: str | None  # None: no report yet
    due_date: str | None  # YYYY-MM-DD (Beijing); None: its clock has not started
    overdue: bool
    history: tuple[HistoryLine, ...]
    due_date_estimated: bool = False  # counted Monday–Friday: a year without a published holiday schedule

    def as_dict(self) -> dict[str, Any]:
        return {"item_code": self.item_code, "department": self.department, "status": self.status,
                "due_date": self.due_date, "due_date_estimated": self.due_date_estimated, "overdue": self.overdue,
                "history": [h.as_dict() for h in self.history]}


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list."""

    case_no: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"case_no": self.case_no, "status": self.status}


@dataclass(frozen=True)
class CaseView:
    """One case with its items in item-code order."""

    case_no: str
    status: str
    items: tuple[ItemView, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"case_no": self.case_no, "status": self.status, "items": [i.as_dict() for i in self.items]}


def due_date(item: CaseItem) -> str | None:
    """When `item` must be done, "YYYY-MM-DD" (Beijing); None while its clock has not started (a pushed item
    its department has not taken yet)."""
    due = item_deadline(item)
    return due.due.isoformat() if due is not None else None


def due_date_estimated(item: CaseItem) -> bool:
    """Whether `item`'s due date was counted Monday–Friday (a year the holiday schedule does not cover)."""
    due = item_deadline(item)
    return due is not None and due.estimated


def is_overdue(item: CaseItem, today: date | None = None) -> bool:
    """Whether `item` is past its time limit on `today` (default: today in Beijing): not final, due before."""
    return item_overdue(item, today)


def status_named(name: str) -> Status:
    """The unified status called `name`; ConfigError listing the seven otherwise."""
    try:
        return Status(name)
    except ValueError:
        seven = "、".join(s.value for s in Status)
        raise ConfigError(f"状态 {name!r} 不是七个统一状态之一，只能是：{seven} "
                          f"({name!r} is not one of the seven statuses: {', '.join(s.value for s in Status)})"
                          ) from None


def case_status(items: Sequence[CaseItem]) -> str:
    """The case status `items` add up to (the status machine's case rules)."""
    statuses = [Status(i.status) if i.status is not None else None for i in items]
    return load_status_machine().case_status(statuses).value


def list_cases(ledger_url: str, had_status: Status | None = None, overdue_only: bool = False,
               overdue: Overdue | None = None, today: date | None = None) -> list[CaseSummary]:
    """Every case in 办件编号 order; `had_status`: only cases some item of which was ever in that status (any
    of its status events); `overdue_only`: only cases with an item `overdue` (default: :func:`is_overdue` on
    `today`, itself defaulting to today in Beijing) says is past its time limit."""
    overdue = overdue or partial(is_overdue, today=today or beijing_today())  # one today for every item
    items = selectinload(Case.items)
    query = select(Case).options(items.selectinload(CaseItem.delivery).load_only(Delivery.state, Delivery.sent_at),
                                 items.selectinload(CaseItem.payment).load_only(PaymentRequest.requested_at))
    query = query.order_by(Case.case_no)
    if had_status is not None:
        query = query.where(exists().where(StatusEvent.case_item_id == CaseItem.id, CaseItem.case_id == Case.id,
                                           StatusEvent.status == had_status.value))
    with session_factory(ledger_url)() as session:
        cases = session.scalars(query).all()
        return [CaseSummary(c.case_no, case_status(c.items)) for c in cases
                if not overdue_only or any(overdue(i) for i in c.items)]


def unknown_case(typed: str, why: str = "") -> ConfigError:
    """The operator's sentence for a 办件编号 the ledger does not hold (`typed` redacted and shortened)."""
    shown = redact_text(typed if len(typed) <= 60 else typed[:60] + "…")  # echoed to a terminal and logs
    return ConfigError(f"台账中没有办件 {shown!r}{('：' + why) if why else ''}，请检查办件编号 "
                       f"(no case {shown!r} in the ledger{': ' + why if why else ''})")


def canonical_case_no(typed: str) -> str:
    """The 办件编号 `typed` names (NFKC, trimmed, upper case); ConfigError with the reason when it is not one."""
    try:
        return normalise_case_no(typed)
    except ValueError as exc:
        raise unknown_case(typed, str(exc)) from None


def show_case(ledger_url: str, typed_case_no: str, overdue: Overdue | None = None,
              today: date | None = None) -> CaseView:
    """The case `typed_case_no` names (any near-duplicate spelling), items in item-code order, each with its
    history, its due date and whether `overdue` (default: :func:`is_overdue` on `today`, itself defaulting to
    today in Beijing) says it is past its time limit; ConfigError in one sentence when there is no such case."""
    overdue = overdue or partial(is_overdue, today=today or beijing_today())  # one today for every item
    case_no = canonical_case_no(typed_case_no)
    with session_factory(ledger_url)() as session:
        case = session.scalars(select(Case).where(Case.case_no == case_no)).one_or_none()
        if case is None:
            raise unknown_case(case_no)
        items = sorted(case.items, key=lambda i: i.item_code)
        history = _history(session, [i.id for i in items])
        views = tuple(_item_view(i, history[i.id], overdue) for i in items)
        return CaseView(case.case_no, case_status(items), views)


def _history(session: Session, item_ids: list[int]) -> dict[int, list[HistoryLine]]:
    events = session.scalars(select(StatusEvent).where(StatusEvent.case_item_id.in_(item_ids))
                             .order_by(StatusEvent.id))
    lines: dict[int, list[HistoryLine]] = defaultdict(list)
    for e in events:
        reason = redact_text(e.reason) if e.reason is not None else None
        names = material_names(json.loads(e.materials)) if e.materials else ()
        lines[e.case_item_id].append(HistoryLine(e.status, e.changed_at, e.source, reason, names))
    return lines


def _item_view(item: CaseItem, history: list[HistoryLine], overdue: Overdue) -> ItemView:
    return ItemView(item.item_code, item.department, item.status, due_date(item), overdue(item), tuple(history),
                    due_date_estimated(item))
