"""The reconciliation report (对账): what became of every 前置库 row the hub read, with totals that must add up.

Each row read (its 序号, once however often it was re-read or corrected in place; where HRSS numbered two
applications with one 序号, its sequence restarted, each of them) has one fate::

    staged       its case was entered and its items routed (a held row corrected at the source, or released by an
                 operator, is staged: it is not counted as quarantined as well)
    quarantined  held now: waiting for a fix at the source or an operator's decision (the reasons are listed)
    rejected     an operator refused the application (the applicant was told 不予受理)
    replaced     held, then corrected by HRSS under a new 序号 (the same 办件编号): its case was entered from the
                 correcting row, whose own fate says what became of it (counting it staged too would count the
                 case twice)
    duplicate    the same application as a row taken before (its 办件编号 in the ledger, the same content) under
                 another 序号: taken, nothing entered

and each item of a staged case exactly one delivery state: ``window`` (HRSS's own item, handled at the window:
nothing to deliver), ``delivered`` (the department took it), ``refused`` (the department refused it: a dead
letter with its reason), ``dead`` (out of retries) or ``pending`` (due or backing off). The checks:
extracted = staged + quarantined + rejected + replaced + duplicate, and items = window + delivered + refused + dead +
pending; a report whose totals do not add up says which check failed (:attr:`Reconciliation.problems`), and the
command fails.

A row belongs to the day (Asia/Shanghai) the hub first read it. Nothing personal is in it: the ledger holds
none in the clear, and quarantine reasons are shown as redacted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.domain.identity import redact_text
from lianban.domain.status_machine import load_status_machine
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Quarantine, SkippedRow
from lianban.ledger.store import DeliveryState, QuarantineState
from lianban.ledger.time_limits import beijing_midnight, beijing_text

__all__ = ["DELIVERY_STATES", "FATES", "Reconciliation", "reconcile"]

FATES = ("staged", "quarantined", "rejected", "replaced", "duplicate")
DELIVERY_STATES = ("window", "delivered", "refused", "dead", "pending")
_BY_DELIVERY: dict[str, str] = {DeliveryState.ACCEPTED: "delivered", DeliveryState.REFUSED: "refused",
                                 DeliveryState.DEAD: "dead", DeliveryState.PENDING: "pending",
                                 DeliveryState.RETRY: "pending"}


@dataclass(frozen=True)
class ItemFate:
    item_code: str
    department: str
    delivery: str  # one of DELIVERY_STATES
    status: str | None  # its current unified status (None: no report yet)


@dataclass(frozen=True)
class RecordFate:
    source_seq: int
    case_no: str
    fate: str  # one of FATES
    read_at: str
    status: str | None = None  # the case's status (staged and held cases)
    reasons: list[str] = field(default_factory=list)  # why it is held or was refused
    items: list[ItemFate] = field(default_factory=list)


@dataclass(frozen=True)
class Reconciliation:
    since: str
    until: str
    records: list[RecordFate]
    #: the same totals counted straight from the tables (staged cases, their items, their deliveries by state)
    counted: dict[str, int] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        fates = Counter(r.fate for r in self.records)
        items = Counter(i.delivery for r in self.records if r.fate == "staged" for i in r.items)
        return {"extracted": len(self.records), **{f: fates[f] for f in FATES},
                "items": sum(len(r.items) for r in self.records if r.fate == "staged"),
                **{d: items[d] for d in DELIVERY_STATES}}

    @property
    def problems(self) -> list[str]:
        """Why the totals do not add up (empty when they do)."""
        t, said = self.totals, []
        if t["extracted"] != sum(t[f] for f in FATES):
            fates = sum(t[f] for f in FATES)
            said.append(f"抽取数 {t['extracted']} ≠ 入账 + 隔离 + 退回 + 由更正行取代 + 重复行 {fates}")
        if t["items"] != sum(t[d] for d in DELIVERY_STATES):
            said.append(f"事项数 {t['items']} ≠ 各投递状态之和 {sum(t[d] for d in DELIVERY_STATES)}")
        said += [f"{key}：逐条汇总 {t[key]} ≠ 台账直接计数 {n}" for key, n in self.counted.items() if t[key] != n]
        return said

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "totals": self.totals, "problems": self.problems,
                "records": [asdict(r) for r in self.records]}


def _held_fate(last: Quarantine | None, case: Case | None) -> str:
    """A row not staged under its own 序号: refused by an operator, released with its case entered from another
    row (HRSS corrected it under a new 序号), or held still."""
    if last is not None and last.state == QuarantineState.REJECTED:
        return "rejected"
    return "replaced" if case is None and last is not None and last.state == QuarantineState.RELEASED else \
        "quarantined"


def _reasons(text: str | None) -> list[str]:
    raw = json.loads(text or "[]")
    return [redact_text(r if isinstance(r, str) else str(r.get("message", r))) for r in raw]


#: rows whose cases, quarantines and items are read together: bounded queries (and bound parameters) however
#: long the range
CHUNK = 2000

#: told (done, total) after each chunk: the command's progress bar
Progress = Callable[[int, int], None]


def reconcile(ledger_url: str, until: date, since: date | None = None,
              progress: Progress | None = None) -> Reconciliation:
    """Every row first read on `since` … `until` (Beijing days; `since` defaults to `until`), read in chunks of
    :data:`CHUNK` rows."""
    start, end = beijing_midnight(since or until), beijing_midnight(until + timedelta(days=1))
    records: list[RecordFate] = []
    counted: Counter[str] = Counter()
    with session_factory(ledger_url)() as session:
        seqs = _candidates(session, start, end)
        for offset in range(0, len(seqs), CHUNK):
            chunk_records, chunk_counted = _chunk(session, seqs[offset:offset + CHUNK], start, end)
            records += chunk_records
            counted.update(chunk_counted)
            if progress is not None:
                progress(min(offset + CHUNK, len(seqs)), len(seqs))
    return Reconciliation((since or until).isoformat(), until.isoformat(), records, dict(counted))


def _candidates(session: Session, start: datetime, end: datetime) -> list[int]:
    """序号 that may have been first read in [start, end): a case staged, a row held or a duplicate taken within
    it (the first read is the earliest, checked per chunk)."""
    staged = select(Case.source_seq).where(Case.staged_at >= start, Case.staged_at < end)
    held = select(Quarantine.source_seq).where(Quarantine.created_at >= start, Quarantine.created_at < end)
    skipped = select(SkippedRow.source_seq).where(SkippedRow.read_at >= start, SkippedRow.read_at < end)
    return sorted({*session.scalars(staged), *session.scalars(held), *session.scalars(skipped)})


#: one row read: its 序号, its case (None: entered under none) and its quarantine rows, oldest first
Read = tuple[int, Case | None, list[Quarantine]]


def _chunk(session: Session, seqs: list[int], start: datetime, end: datetime) -> tuple[list[RecordFate],
                                                                                      dict[str, int]]:
    held = _quarantined(session, seqs)
    cases: dict[int, list[Case]] = {}
    for case in session.scalars(select(Case).where(Case.source_seq.in_(seqs)).order_by(Case.id)):
        cases.setdefault(case.source_seq, []).append(case)
    mine = [read for read in _reads(seqs, cases, held) if start <= _first_read(read) < end]
    items = _items(session, [case.id for _, case, _ in mine if case is not None])
    records = [_fate(seq, _first_read((seq, case, holds)), case, holds, items) for seq, case, holds in mine]
    staged = [case.id for _, case, _ in mine if case is not None and not case.held]
    records = sorted([*records, *_duplicates(session, [s for s in seqs if s not in cases and s not in held],
                                             start, end)], key=lambda r: r.source_seq)
    session.expunge_all()  # the chunk's rows are told: memory holds one chunk's ORM objects, not the range's
    return records, _counted(session, staged)


def _duplicates(session: Session, seqs: list[int], start: datetime, end: datetime) -> list[RecordFate]:
    """The rows among `seqs` (no case's, none held) taken as duplicates within [start, end)."""
    query = select(SkippedRow).where(SkippedRow.source_seq.in_(seqs), SkippedRow.read_at >= start,
                                     SkippedRow.read_at < end)
    return [RecordFate(s.source_seq, s.case_no, "duplicate", beijing_text(s.read_at)) for s in session.scalars(query)]


def _reads(seqs: list[int], cases: dict[int, list[Case]], held: dict[int, list[Quarantine]]) -> list[Read]:
    """The rows read: one per 序号, but one per application where HRSS numbered several with one 序号 (its
    sequence restarted): each of its cases, with the quarantine rows of its 办件编号, and each other 办件编号 held
    under it."""
    reads: list[Read] = []
    for seq in seqs:
        mine, holds = cases.get(seq, []), held.get(seq, [])
        if not mine and not holds:  # a duplicate taken (_duplicates)
            continue
        if len(mine) <= 1:
            reads.append((seq, mine[0] if mine else None, holds))
            continue
        reads += [(seq, case, [q for q in holds if q.case_no == case.case_no]) for case in mine]
        others: dict[str, list[Quarantine]] = {}
        entered = {case.case_no for case in mine}
        for q in holds:
            if q.case_no not in entered:
                others.setdefault(q.case_no, []).append(q)
        reads += [(seq, None, rows) for rows in others.values()]
    return reads


def _counted(session: Session, staged: list[int]) -> dict[str, int]:
    """Staged cases, their items and their deliveries by state, counted by the database itself."""
    items = select(func.count()).select_from(CaseItem).where(CaseItem.case_id.in_(staged))
    by_state = dict(session.execute(select(Delivery.state, func.count()).join(CaseItem)
                                    .where(CaseItem.case_id.in_(staged)).group_by(Delivery.state)).all())
    counted = {"staged": len(staged), "items": int(session.scalar(items) or 0)}
    for state, key in _BY_DELIVERY.items():
        counted[key] = counted.get(key, 0) + int(by_state.get(state, 0))
    counted["window"] = counted["items"] - sum(int(n) for n in by_state.values())
    return counted


def _quarantined(session: Session, seqs: list[int]) -> dict[int, list[Quarantine]]:
    rows: dict[int, list[Quarantine]] = {}
    for q in session.scalars(select(Quarantine).where(Quarantine.source_seq.in_(seqs)).order_by(Quarantine.id)):
        rows.setdefault(q.source_seq, []).append(q)
    return rows


def _first_read(read: Read) -> datetime:
    _, case, holds = read
    return min([q.created_at for q in holds] + ([case.staged_at] if case is not None else []))


def _items(session: Session, case_ids: list[int]) -> dict[int, list[ItemFate]]:
    by_case: dict[int, list[ItemFate]] = {}
    query = (select(CaseItem, Delivery.state).outerjoin(Delivery, Delivery.case_item_id == CaseItem.id)
             .where(CaseItem.case_id.in_(case_ids)).order_by(CaseItem.case_id, CaseItem.item_code))
    for item, state in session.execute(query):
        delivery = "window" if state is None else _BY_DELIVERY.get(state, f"unknown:{state}")  # a bug to show
        by_case.setdefault(item.case_id, []).append(ItemFate(item.item_code, item.department, delivery, item.status))
    return by_case


def _fate(seq: int, read: datetime, case: Case | None, held: list[Quarantine],
          items: dict[int, list[ItemFate]]) -> RecordFate:
    read_at = beijing_text(read)
    last = held[-1] if held else None
    if case is not None and not case.held:
        mine = items.get(case.id, [])
        status = load_status_machine().case_status(Status(i.status) if i.status else None for i in mine)
        return RecordFate(seq, case.case_no, "staged", read_at, status.value, [], mine)
    fate = _held_fate(last, case)
    case_no = case.case_no if case is not None else (last.case_no if last else "")
    return RecordFate(seq, case_no, fate, read_at, None, _reasons(last.reasons if last else None))
