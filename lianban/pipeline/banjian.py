"""The 办件 record behind each status event, as 皖事通办 keeps it: its version and the case as it then stood.

For a batch of status events, the cases they belong to are read whole (items, deliveries) with every status
event of those cases up to the batch's last, and replayed in id order:

    DATAVER       an event's ordinal among its case's status events by id (1, 2, 3 …): it increases with
                  every change of the case, and an event read again gets the same version
    due date      the item's 承诺办结日期 (:mod:`lianban.ledger.time_limits`), once its clock has started
    case record   :class:`~lianban.wire.contract.CaseRecord` right after the event: 受理时间 (``approved_at``),
                  承诺时限 (the longest item limit, in working days), the case status its items add up to
                  (:mod:`lianban.domain.status_machine`), and once every item is final the 办结时间 (the latest
                  final status time) and how many items ended refused

Everything is derived from rows the ledger already keeps, so a re-sent event carries its own status, time and
DATAVER as it did the first time, and its case record replays the same status history; but the case's rows read
with it (whether it is held, its deliveries, which start an item's clock) are as they stand when it is sent, so a
held case released or an item delivered since can change its case record and due date. The platform keeps each
办件's newest version, so that is what it would have shown anyway. A report run reads a case over many batches
(HRSS's own statuses first, each department's later: about ten times in the status sweep); :class:`Cases` keeps,
for one run, the cases whose reading can no longer change, so only their status history is read again, and each
case's history replayed through the batch before, so that a batch reads only the events after it (the sweep's
272,931 events were read 700,000 times over; now once).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from heapq import merge
from itertools import islice
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import load_catalog
from lianban.domain.clock import moment_of
from lianban.domain.status_machine import load_status_machine
from lianban.domain.statuses import Status
from lianban.ledger.db import plain_rows
from lianban.ledger.models import Case, CaseItem, Delivery, StatusEvent
from lianban.ledger.store import DeliveryState
from lianban.ledger.time_limits import beijing_text, clock_started, due_date
from lianban.wire.contract import CaseRecord

__all__ = ["CACHED_CASES", "STATUSES", "Cases", "Version", "versions"]

#: an item's status as of some event: (the status's value, changed_at); values, not members, since a
#: StrEnum member hashes in Python (hashing members for the case status was a tenth of a report's reading)
Now = tuple[str, str]

_CASES, _ITEMS, _DELIVERIES, _EVENTS = (cast(Table, model.__table__)
                                        for model in (Case, CaseItem, Delivery, StatusEvent))
STATUSES = {status.value: status for status in Status}  # a dict lookup: Status(text) was 3 % of a report
_FINAL = frozenset(status.value for status in Status if status.is_terminal())
_COMPLETED = Status.COMPLETED.value
#: cases one report run keeps read (:class:`Cases`): about 1.9 KB each (measured over the status sweep's 22,223
#: cases, items and due dates included), so at most about 60 MB; the oldest half go when it is full
CACHED_CASES = 30_000


class Version(NamedTuple):
    """What an event carries beyond its own row: DATAVER, the item's due date, the case record after it (a
    named tuple: one per event reported)."""

    dataver: int
    due_date: str | None
    case: CaseRecord


def _moment(text: str) -> datetime:
    try:
        return moment_of(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _done(final: Sequence[Now]) -> tuple[str, int]:
    """(办结时间, items refused) of a case whose items are all final (:func:`_record` tells)."""
    refused = sum(value != _COMPLETED for value, _ in final)
    return max((at for _, at in final), key=_moment), refused


class _Item(NamedTuple):
    """What a version needs of one case item: its code and department, and when its department took it (a
    named tuple: a report run makes one per item of every case it reports, a frozen dataclass cost twice)."""

    id: int
    case_id: int
    item_code: str
    department: str
    accepted_at: datetime | None  # the accepted delivery's sent_at (None: HRSS's own, or not accepted yet)


@dataclass(slots=True)
class _Case:
    """What a version needs of one case (read as columns: ORM objects cost 17 % of a report run). Its 受理时间
    and 承诺时限 are worked out once, when its items are all in (:meth:`settle`): plain attributes, since
    ``cached_property`` takes a lock on every read (a sixth of a batch's reading)."""

    id: int
    case_no: str
    region_code: str
    approved_at: datetime
    held: bool
    items: list[_Item]
    accepted_at: str = ""  # 受理时间 in Beijing time, as the case record carries it
    time_limit_days: int = 0  # 承诺时限: the longest limit of its items, in working days
    dues: dict[int, str | None] = field(default_factory=dict)  # item id → its due date, once worked out

    def settle(self) -> _Case:
        self.accepted_at = beijing_text(self.approved_at)
        self.time_limit_days = max(load_catalog().item(i.item_code).time_limit_days for i in self.items)
        return self

    @property
    def final(self) -> bool:
        """Nothing read of it can change any more: not held (a held case corrected at the source gets a new 受理
        time, region and items, :func:`lianban.pipeline.notices.resume`; it is never held again) and every
        item's clock started (:func:`~lianban.ledger.time_limits.clock_start`: a pushed item's once its
        department took it, and an accepted delivery is final). Its items' due dates are then fixed too."""
        return not self.held and all(clock_started(i.department, i.accepted_at) for i in self.items)

    def due(self, item: _Item) -> str | None:
        """`item`'s due date (the same for each of its events: worked out once)."""
        if item.id not in self.dues:
            deadline = due_date(item.item_code, item.department, self.approved_at, item.accepted_at)
            self.dues[item.id] = sys.intern(deadline.due.isoformat()) if deadline else None  # days repeat
        return self.dues[item.id]


@dataclass(slots=True)
class _Replayed:
    """A case's status history replayed up to some event: each item's status then, and how many events it had."""

    state: dict[int, Now] = field(default_factory=dict)  # item id → its status as of the event
    count: int = 0

    def apply(self, item_id: int, status: str, changed_at: str) -> int:
        self.state[item_id] = (status, changed_at)
        self.count += 1
        return self.count


class Cases:
    """What one report run has read so far: the cases whose reading cannot change (:attr:`_Case.final`), by id,
    with their items' owners, so that a later batch reads only their status history; and each case's history
    replayed as of the last event id the run has read through (:attr:`through`), so that a later batch replays
    only the events after it (:func:`versions`). At most `limit` of each (0: none kept); when full, the oldest
    half go."""

    def __init__(self, limit: int = CACHED_CASES) -> None:
        self._cases: dict[int, _Case] = {}
        self._owners: dict[int, int] = {}  # item id → case id, for every item of a kept case
        self._limit = limit
        self.replayed: dict[int, _Replayed] = {}  # case id → its history replayed through `through`
        self.through: int | None = None  # every event up to this id is in `replayed` for each case held there

    def replay_from(self, after: int | None) -> dict[int, _Replayed]:
        """The histories replayed through `after`: those kept if the run read through exactly that id, else none
        (a first batch, a batch read elsewhere before: the reader thread took over from its process)."""
        if after is None or self.through != after:
            self.replayed.clear()
        return self.replayed

    def keep_replayed(self, fresh: dict[int, _Replayed], through: int) -> None:
        if self._limit:
            for case_id, replayed in fresh.items():
                for old in self._full(self.replayed):
                    del self.replayed[old]
                self.replayed[case_id] = replayed
            self.through = through

    def _full(self, kept: dict[int, Any]) -> list[int]:
        """The ids to let go before one more is kept in `kept`: its oldest half once it holds `limit`, else none."""
        return list(islice(kept, self._limit // 2 or 1)) if len(kept) >= self._limit else []

    def __len__(self) -> int:
        return len(self._cases)

    def split(self, item_ids: Iterable[int]) -> tuple[dict[int, _Case], set[int]]:
        """(the kept cases owning some of `item_ids`, by id; the item ids whose case is not kept)."""
        kept: dict[int, _Case] = {}
        missing: set[int] = set()
        for item_id in item_ids:
            case_id = self._owners.get(item_id)
            if case_id is None:
                missing.add(item_id)
            else:
                kept[case_id] = self._cases[case_id]
        return kept, missing

    def keep(self, cases: Iterable[_Case]) -> None:
        for case in cases:
            if not self._limit or not case.final:
                continue
            for old in self._full(self._cases):
                for item in self._cases.pop(old).items:
                    del self._owners[item.id]
            self._cases[case.id] = case
            self._owners.update((item.id, case.id) for item in case.items)


@lru_cache(maxsize=4096)
def _case_status(values: tuple[str | None, ...]) -> Status:
    """The case status its items' statuses (by value) add up to, by tuple (cheaper to key than the machine's
    set)."""
    return load_status_machine().case_status(tuple(STATUSES[v] if v is not None else None for v in values))


def _record(case: _Case, state: dict[int, Now], dataver: int) -> CaseRecord:
    now = [state.get(item.id) for item in case.items]
    values = tuple([s[0] if s else None for s in now])  # a list made into a tuple: a generator cost twice
    done_at, refused = _done([s for s in now if s]) if _FINAL.issuperset(values) else (None, 0)  # all final
    return CaseRecord(case.case_no, case.region_code, case.accepted_at, case.time_limit_days, _case_status(values),
                      dataver, done_at, refused)


def _cases(session: Session, item_ids: set[int], kept: Cases) -> dict[int, _Case]:
    """The cases owning `item_ids`, each with all its items (in id order), by case id: those `kept` as they
    are, the others read (and offered to `kept`)."""
    cases, missing = kept.split(item_ids)
    if missing:
        read = _read_cases(session, missing)
        kept.keep(read.values())
        cases.update(read)
    return cases


def _read_cases(session: Session, item_ids: set[int]) -> dict[int, _Case]:
    """The cases owning `item_ids`, each with all its items (in id order), by case id: two queries (Core, read
    as tuples: the ORM's loading of column rows was a sixth of a report's reading)."""
    owners = select(_ITEMS.c.case_id).where(_ITEMS.c.id.in_(item_ids))
    cases = {case_id: _Case(case_id, case_no, region_code, approved_at, held, [])
             for case_id, case_no, region_code, approved_at, held in session.execute(
                 select(_CASES.c.id, _CASES.c.case_no, _CASES.c.region_code, _CASES.c.approved_at, _CASES.c.held)
                 .where(_CASES.c.id.in_(owners)))}
    accepted = and_(_DELIVERIES.c.case_item_id == _ITEMS.c.id, _DELIVERIES.c.state == DeliveryState.ACCEPTED)
    rows = session.execute(select(_ITEMS.c.id, _ITEMS.c.case_id, _ITEMS.c.item_code, _ITEMS.c.department,
                                  _DELIVERIES.c.sent_at).select_from(_ITEMS.outerjoin(_DELIVERIES, accepted))
                           .where(_ITEMS.c.case_id.in_(list(cases))).order_by(_ITEMS.c.id)).all()
    for row in rows:
        item_id, case_id, code, department, accepted_at = row  # codes shared, not one string per row kept
        cases[case_id].items.append(_Item(item_id, case_id, sys.intern(code), sys.intern(department), accepted_at))
    return {case_id: case.settle() for case_id, case in cases.items()}


def versions(session: Session, events: Sequence[tuple[int, int]], kept: Cases | None = None,
             after: int | None = None) -> dict[int, Version]:
    """Event id → :class:`Version` for every event in `events`, (event id, case item id) pairs (module
    docstring); `kept`: the cases the report run has read already (:class:`Cases`), none by default; `after`:
    the event id the batch `events` comes after, every event up to its last committed already (a report run
    reads up to its settled id): where `kept` has read through exactly `after`, only the events after it are
    read and replayed for the cases it holds."""
    if not events:
        return {}
    wanted, last = {event_id for event_id, _ in events}, max(event_id for event_id, _ in events)
    run = Cases(0) if kept is None else kept
    cases = _cases(session, {item_id for _, item_id in events}, run)
    items = {item.id: item for case in cases.values() for item in case.items}
    replayed = run.replay_from(after)
    fresh = {case_id: _Replayed() for case_id in cases if case_id not in replayed}
    out: dict[int, Version] = {}
    for event_id, item_id, case_id, status, changed_at in _history(session, fresh, replayed, after, last):
        history = fresh.get(case_id) or replayed.get(case_id)
        if history is None:  # an event past `after` of a case the run does not hold: not replayed
            continue
        count = history.apply(item_id, status, changed_at)
        if event_id in wanted:
            case, item = cases[case_id], items[item_id]
            out[event_id] = Version(count, case.due(item), _record(case, history.state, count))
    run.keep_replayed(fresh, last)
    return out


def _history(session: Session, fresh: dict[int, _Replayed], replayed: dict[int, _Replayed], after: int | None,
             last: int) -> list[tuple[int, int, int, str, str]]:
    """(event id, item id, case id, status, changed_at) in id order: every event up to `last` of the `fresh`
    cases, and, when any history is `replayed` through `after`, every event after it up to `last`."""
    e, i = _EVENTS.c, _ITEMS.c
    columns = (e.id, e.case_item_id, i.case_id, e.status, e.changed_at)
    joined = _EVENTS.join(_ITEMS, e.case_item_id == i.id)
    rows: list[tuple[int, int, int, str, str]] = []
    if fresh:
        rows += plain_rows(session, select(*columns).select_from(joined)
                           .where(i.case_id.in_(list(fresh)), e.id <= last).order_by(e.id))
    if replayed and after is not None:
        newer = plain_rows(session, select(*columns).select_from(joined)
                           .where(e.id > after, e.id <= last).order_by(e.id))
        rows = list(merge(rows, (row for row in newer if row[2] not in fresh)))  # both in id order
    return rows
