"""Time limits (压时限, issue 9 item 6): each case item's due date, whether it is overdue, how many are.

The clock starts on the day the department that handles the item accepted it:

* an item HRSS handles itself (department ``hrss``): the case's 受理 at the window, ``Case.approved_at``;
* a pushed item: the day the department took the delivery, ``Delivery.sent_at`` of the *accepted* delivery
  (pending, retrying, refused or dead: no clock, no due date).

The due date is that day plus the item's ``time_limit_days`` (``schemas/catalog/items.yaml``) in working days
(:mod:`lianban.domain.working_days`: day 1 is the next working day). Days are Beijing days: the ledger stores
naive UTC, so a 受理 at 2025-03-03 01:00 Beijing (2025-03-02 17:00 UTC) starts on 2025-03-03. An item is
overdue when it is not final and today (Beijing) is after its due date. "Today" is a parameter everywhere
(default: the real Beijing date), so a test or a what-if passes its own.

An item whose department has done its part, another party completing it (item 13 at 审核通过, HRSS paying), is
on that party's clock from then (:func:`clock`): the item's ``completion_days`` from the day the hub asked it
(``PaymentRequest.requested_at``; no clock before), and overdue for that party past it.

An item at 补正资料 is overdue too once today is after its 补正 deadline (``CaseItem.supplement_due``: the
applicant's, :func:`lianban.domain.supplements.supplement_due`), whatever its own due date says.

An item whose code the catalog no longer has (taken out of ``schemas/catalog/items.yaml`` while cases still
hold it) has no time limit to count: no clock, never overdue, never handed on; ``lianban status`` lists such
items by code (:func:`items_not_in_catalog`).

A due date beyond the years the State Council has published is counted Monday–Friday and marked estimated
(``Deadline.estimated``; the operator view shows 估算).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import Item, load_catalog, window
from lianban.domain.clock import BEIJING
from lianban.domain.statuses import Status
from lianban.domain.working_days import Deadline, deadline
from lianban.ledger.models import Case, CaseItem, Delivery, PaymentRequest
from lianban.ledger.store import DeliveryState


def beijing_date(utc: datetime) -> date:
    """The Beijing calendar day of `utc` (naive UTC as the ledger stores it, or aware)."""
    aware = utc if utc.tzinfo is not None else utc.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).date()


def beijing_text(utc: datetime) -> str:
    """`utc` (naive UTC as the ledger stores it, or aware) in Beijing time, ISO 8601 to the second with its offset:
    how a ledger time is shown to an operator or sent to the platform."""
    aware = utc if utc.tzinfo is not None else utc.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).isoformat(timespec="seconds")


def beijing_midnight(day: date) -> datetime:
    """The moment Beijing day `day` begins, as the ledger stores times (naive UTC)."""
    return datetime.combine(day, time(), BEIJING).astimezone(UTC).replace(tzinfo=None)


def beijing_today() -> date:
    """Today in Beijing."""
    return datetime.now(BEIJING).date()


def clock_start(department: str, approved_at: datetime, accepted_at: datetime | None) -> date | None:
    """The Beijing day the item's clock starts: 受理 (`approved_at`) for HRSS's own items, the day its
    department took the delivery (`accepted_at`, None while it has not) for a pushed item."""
    if department == window():
        return beijing_date(approved_at)
    return beijing_date(accepted_at) if accepted_at is not None else None


def clock_started(department: str, accepted_at: datetime | None) -> bool:
    """Whether :func:`clock_start` has a day for such an item (told without working the day out)."""
    return department == window() or accepted_at is not None


def _known(item_code: str) -> Item | None:
    """The catalog's item `item_code`; None once it has been taken out of the catalog."""
    return load_catalog().items.get(item_code)


def _deadline(item_code: str, start: date | None) -> Deadline | None:
    item = _known(item_code)
    return None if start is None or item is None else deadline(start, item.time_limit_days)


def _accepted_at(item: CaseItem) -> datetime | None:
    d = item.delivery
    return d.sent_at if d is not None and d.state == DeliveryState.ACCEPTED else None


def due_date(item_code: str, department: str, approved_at: datetime, accepted_at: datetime | None) -> Deadline | None:
    """The due date of an item of `department` whose case was 受理 at `approved_at` and which its department
    took at `accepted_at` (None: not yet); None while its clock has not started."""
    return _deadline(item_code, clock_start(department, approved_at, accepted_at))


def clock(item_code: str, department: str, status: str | None, approved_at: datetime, accepted_at: datetime | None,
          asked_at: datetime | None) -> tuple[str, Deadline | None]:
    """Who an open item waits on, and its due date (None while that clock has not started): its department by its
    time limit (:func:`due_date`) or, once that department has handed it on (:func:`handed_on`), the party
    completing it by the item's ``completion_days`` from the day the hub asked it (`asked_at`)."""
    if not handed_on(item_code, department, status):
        return department, due_date(item_code, department, approved_at, accepted_at)
    item = load_catalog().item(item_code)  # handed on: the catalog has it
    if asked_at is None or item.completion_days is None:
        return item.completer, None
    return item.completer, deadline(beijing_date(asked_at), item.completion_days)


def _asked_at(item: CaseItem) -> datetime | None:
    return item.payment.requested_at if item.payment is not None else None


def item_deadline(item: CaseItem) -> Deadline | None:
    """`item`'s due date (and whether it is estimated): its department's promise to the applicant (承诺办结日期,
    what 皖事通办 shows); None while its clock has not started."""
    return due_date(item.item_code, item.department, item.case.approved_at, _accepted_at(item))


def handed_on(item_code: str, department: str, status: str | None) -> bool:
    """Whether `department` has done its part of the item at `status`, another party completing it (item 13 at
    审核通过: HRSS's payment after it is on HRSS's clock, :func:`clock`)."""
    item = _known(item_code)
    return status is not None and not Status(status).is_terminal() and item is not None and \
        item.settled(department, Status(status))


def past_due(final: bool, due: Deadline | None, today: date | None = None) -> bool:
    """Overdue: not final, a due date, and `today` (default: Beijing today) after it."""
    return not final and due is not None and (today or beijing_today()) > due.due


def supplement_overdue(status: str | None, supplement_due: date | None, today: date | None = None) -> bool:
    """At 补正资料 and `today` (default: Beijing today) after the 补正 deadline."""
    return status == Status.SUPPLEMENT and supplement_due is not None and (today or beijing_today()) > supplement_due


def item_overdue(item: CaseItem, today: date | None = None) -> bool:
    """Whether `item` is past the clock it is on (:func:`clock`: its time limit, or its completing party's), or its
    补正 deadline, on `today` (default: Beijing today)."""
    due = clock(item.item_code, item.department, item.status, item.case.approved_at, _accepted_at(item),
                _asked_at(item))[1]
    return past_due(item.final, due, today) or supplement_overdue(item.status, item.supplement_due, today)


def items_not_in_catalog(session: Session) -> dict[str, int]:
    """Open items whose code the catalog no longer has, counted by that code (only codes with any): they have no
    time limit here until the item is put back or they are settled."""
    rows = session.execute(select(CaseItem.item_code, func.count()).where(CaseItem.final.is_(False))
                           .group_by(CaseItem.item_code)).all()
    return {code: int(n) for code, n in rows if _known(code) is None}


def overdue_items(session: Session, today: date | None = None) -> int:
    """How many case items are overdue on `today` (default: Beijing today); reads columns only."""
    return sum(overdue_by_department(session, today).values())


def handling_party() -> ColumnElement[str]:
    """SQL: the party an open item waits on, for a query joining its Case: its department, or the HRSS window
    while its case is held (the application waits for correction there; the department has not received it)."""
    return case((Case.held.is_(True), literal(window())), else_=CaseItem.department)


def open_items_on_clocks() -> Select[str, str, str | None, datetime, datetime | None, datetime, date | None, str, str]:
    """SQL: every open item with what its clocks read (:func:`clock`, :func:`supplement_overdue`) and its
    :func:`handling_party`: item code, department, status, 受理, accepted, asked, 补正 deadline, party, 办件编号."""
    return (select(CaseItem.item_code, CaseItem.department, CaseItem.status, Case.approved_at, Delivery.sent_at,
                   PaymentRequest.requested_at, CaseItem.supplement_due, handling_party(), Case.case_no)
            .join(Case, Case.id == CaseItem.case_id)
            .outerjoin(Delivery, and_(Delivery.case_item_id == CaseItem.id, Delivery.state == DeliveryState.ACCEPTED))
            .outerjoin(PaymentRequest, PaymentRequest.case_item_id == CaseItem.id)
            .where(CaseItem.final.is_(False)))


def lateness(row: Sequence[Any], today: date) -> tuple[str, date] | None:
    """For a row of :func:`open_items_on_clocks`: the party it is late with and the day it was due (the earlier
    of its clock's due date and its 补正 deadline, when both passed), or None when it is not overdue."""
    code, department, status, approved, sent, asked, supplement_due, party = row[:8]
    owner, due = clock(code, department, status, approved, sent, asked)
    missed = [due.due] if due is not None and past_due(False, due, today) else []
    if supplement_due is not None and supplement_overdue(status, supplement_due, today):
        missed.append(supplement_due)
    return ((owner if party == department else party), min(missed)) if missed else None


def overdue_by_department(session: Session, today: date | None = None) -> dict[str, int]:
    """Overdue case items on `today` (default: Beijing today) by the party they wait on (only those with any):
    the department handling them, or the party completing an item handed on (:func:`clock`); reads columns only.
    An item of a held case (its application waiting for correction at the HRSS window, its 补正 deadline
    running) counts for the window: its department has not received it."""
    today = today or beijing_today()
    late = (lateness(row, today) for row in session.execute(open_items_on_clocks()))
    return dict(Counter(party for party, _ in filter(None, late)))
