"""Telling the applicant about a held application (受理前补正), and resuming it once corrected at the source.

A 前置库 row that is read but fails validation is quarantined (:mod:`lianban.pipeline.quarantine`): nothing
is delivered. The applicant still has to learn what is wrong (the seed: 要告知申请人不予办理的原因), so the
case is entered *held*: every chosen item gets one 补正资料 event — reported by the window (HRSS), with the
reasons in plain Chinese and what to do — and no delivery. HRSS's own log keeps applying to its own items.

When HRSS corrects the row at the source (same 办件编号, flagged for taking again) and it now validates, the
held case resumes: its fields are taken from the corrected row, the quarantine row is released, the items it
already has continue (an item chosen only now is added; one no longer chosen, still at 补正资料, is told 不予受理
with the reason) and the pushed items are sealed into the outbox. A
department's first report (受理) after 补正资料 is the status machine's back edge; until it comes the items keep
补正资料 but not the hold's 补正 deadline (nothing is left for the applicant to supply).

The notice is dated at the window's acceptance (the row's 审批时间) so HRSS's own statuses, all later, apply
after it in order. Personal data never enters a notice: reasons are redacted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.domain.catalog import Catalog, window
from lianban.domain.clock import moment_of
from lianban.domain.identity import redact_text
from lianban.domain.record import RetirementRecord
from lianban.domain.statuses import Status
from lianban.ledger.db import write_lock
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.new_cases import NewCases
from lianban.ledger.status_book import StatusBook
from lianban.ledger.store import ItemRow, ledger_moment, record_status, status_time, utcnow
from lianban.pipeline.prepare import password_hash

HOLD_CODE = "隔离待补正"  # department_code of a hold notice: the hub, not HRSS's back office, wrote it
REASONS_MAX = 300


def notice(reasons: list[str]) -> str:
    """What the applicant reads: what is wrong, what to do, and that nothing else is needed."""
    told = "；".join(redact_text(r) for r in reasons)[:REASONS_MAX]
    return (f"申请信息需补正后才能办理：{told}。请携带身份证件到人社窗口核对更正，"
            f"更正后所选事项将继续办理，无需重新申请。")


def _moment(approved_at: str) -> str:
    try:
        return moment_of(approved_at).isoformat()
    except (TypeError, ValueError):
        return _now()


def _now() -> str:
    """This moment as a status time (UTC, with its offset)."""
    return status_time(utcnow())


def approved_time(value: str) -> datetime | None:
    """审批时间 as the ledger stores it (naive UTC; without an offset it was Beijing time); None when it does not
    parse."""
    return ledger_moment(value)


def _locked_items(session: Session, case_ids: Collection[int]) -> list[CaseItem]:
    """The items of cases `case_ids`, read afresh and locked until the transaction ends, in id order: the order
    every status writer takes them (:func:`lianban.ledger.status_book.item_rows`), before the evidence log's
    lock, so that none waits on another in a circle. A status log page judged meanwhile waits, then reads what
    was written here: a final status is not written over."""
    write_lock(session)
    query = select(CaseItem).where(CaseItem.case_id.in_(set(case_ids))).order_by(CaseItem.id).with_for_update()
    return list(session.scalars(query.execution_options(populate_existing=True)))


def _items(session: Session, case: Case, record: RetirementRecord, catalog: Catalog) -> list[CaseItem]:
    """The case's item rows (locked, :func:`_locked_items`) for every chosen item the catalog knows (added
    when missing)."""
    have = {i.item_code: i for i in _locked_items(session, {case.id})}
    for code in record.items:
        if code in catalog.items and code not in have:
            have[code] = CaseItem(case_id=case.id, item_code=code, department=catalog.items[code].department)
            session.add(have[code])
    session.flush()
    return [have[code] for code in sorted(have)]


def region_code(id_number: str) -> str:
    """The 区划代码 an ID number starts with; empty when its first six characters are not digits (a held row's
    column may hold a name or anything else, never to be kept in the clear)."""
    head = id_number[:6]
    return head if len(head) == 6 and head.isascii() and head.isdigit() else ""


def case_columns(record: RetirementRecord, id_index: str, fingerprint: str | None, password_key: tuple[str, bytes],
                 now: datetime, hashed: str | None = None) -> dict[str, Any]:
    """A new case's columns from its record (but id, held and staged_at): staged (`fingerprint` of the row) or
    held (None); an 审批时间 that does not parse falls back to `now`. `hashed`: the 查询密码's keyed hash worked
    out ahead (:mod:`lianban.pipeline.prepare`), else it is worked out here."""
    return {"case_no": record.case_no, "source_seq": record.source_seq, "region_code": region_code(record.id_number),
            "id_index": id_index, "approved_at": approved_time(record.approved_at) or now,
            "fingerprint": fingerprint, "password_hash": hashed or password_hash(record, password_key)}


def keep_password(case: Case, record: RetirementRecord, key: tuple[str, bytes]) -> None:
    """The case keeps the keyed hash of the 查询密码 the row carries (a row without one keeps the one it has)."""
    case.password_hash = password_hash(record, key) or case.password_hash


def hold_case(session: Session, record: RetirementRecord, reasons: list[str], catalog: Catalog,
              id_index: str, password_key: tuple[str, bytes]) -> int:
    """Enter (or keep) `record`'s case as held and tell every chosen item 补正资料; the number of items told
    (none when no chosen item is in the catalog: there is nothing to tell it about)."""
    if not _tells(record, catalog):
        return 0
    case = session.scalars(select(Case).where(Case.case_no == record.case_no)).first()
    if case is None:
        now = utcnow()
        case = Case(**case_columns(record, id_index, None, password_key, now), staged_at=now, held=True)
        session.add(case)
        session.flush()
    told = 0
    for item in _items(session, case, record, catalog):
        told += record_status(session, item, Status.SUPPLEMENT, window(), code=HOLD_CODE, reason=notice(reasons),
                              changed_at=_moment(record.approved_at))
    return told


def _tells(record: RetirementRecord, catalog: Catalog) -> bool:
    """Whether a hold of `record` tells anything: some chosen item is in the catalog."""
    return any(code in catalog.items for code in record.items)


#: one held row to tell: its record, its reasons (Chinese), the person's blind index
Held = tuple[RetirementRecord, list[str], str]


def hold_cases(session: Session, held: Sequence[Held], catalog: Catalog, password_key: tuple[str, bytes]) -> int:
    """:func:`hold_case` for each ``(record, reasons, id_index)`` of `held`, in order; the items told. The cases
    not yet in the ledger are entered together, set-based (a chunk's held rows: measured, one at a time they cost
    3 ms each); a case already in it, or held twice in `held`, goes one by one after them."""
    held = [h for h in held if _tells(h[0], catalog)]
    present = set(session.scalars(select(Case.case_no).where(Case.case_no.in_({h[0].case_no for h in held}))))
    fresh: list[Held] = []
    again: list[Held] = []
    for h in held:
        (again if h[0].case_no in present else fresh).append(h)
        present.add(h[0].case_no)
    told = _enter_held(session, fresh, catalog, password_key)
    if again:  # their items locked together, in id order: case after case could cross a log page's order
        again_nos = {h[0].case_no for h in again}
        _locked_items(session, set(session.scalars(select(Case.id).where(Case.case_no.in_(again_nos)))))
    for record, reasons, id_index in again:
        told += hold_case(session, record, reasons, catalog, id_index, password_key)
    return told


def _enter_held(session: Session, held: Sequence[Held], catalog: Catalog, password_key: tuple[str, bytes]) -> int:
    """New held cases, their items and their 补正资料 events written together (as :func:`hold_case` would)."""
    new, notices = NewCases(utcnow()), []
    for record, reasons, id_index in held:
        codes = sorted(code for code in set(record.items) if code in catalog.items)
        new.add(case_columns(record, id_index, None, password_key, new.now),
                [(code, catalog.items[code].department, None) for code in codes], held=True)
        notices += [(notice(reasons), _moment(record.approved_at))] * len(codes)
    book = StatusBook(session)
    told = sum(book.record(ItemRow(item_id, code, None, None, None, False, None, None), Status.SUPPLEMENT,
                           window(), code=HOLD_CODE, reason=reason, changed_at=moment)
               for (item_id, (code, _, _)), (reason, moment) in zip(new.write(session), notices, strict=True))
    book.write()
    return told


REFUSED_CODE = "操作员退回"  # department_code of a refusal an operator decided in the quarantine


def refusal(note: str) -> str:
    """What the applicant reads when the window refuses a held application."""
    return f"经人社窗口审核，申请不予受理：{redact_text(note)}"[:REASONS_MAX] + "。如有疑问请到人社窗口咨询。"


def refuse(session: Session, case_no: str, note: str) -> int:
    """The held case `case_no` refused by an operator: every item not yet final is told 不予受理 (from the
    window, with `note`), now; the number of items told (none when there is no held case: an unreadable row)."""
    case = session.scalars(select(Case).where(Case.case_no == case_no, Case.held.is_(True))).first()
    if case is None:
        return 0
    return _not_accepted(session, _locked_items(session, {case.id}), REFUSED_CODE, refusal(note))


def _not_accepted(session: Session, items: Sequence[CaseItem], code: str, reason: str) -> int:
    """Each of `items` not final yet told 不予受理 from the window (`code`, `reason`), now; how many."""
    now = _now()
    return sum(record_status(session, item, Status.NOT_ACCEPTED, window(), code=code, reason=reason,
                             changed_at=now) for item in items if not item.final)


def resume(session: Session, record: RetirementRecord, id_index: str, fingerprint: str,
           catalog: Catalog) -> tuple[Case, dict[str, CaseItem]]:
    """The held case of `record`, corrected: its fields from the valid row, no longer held; with its items by
    code (an item chosen only in the corrected row is added)."""
    case = session.scalars(select(Case).where(Case.case_no == record.case_no)).one()
    case.source_seq, case.region_code, case.id_index = record.source_seq, region_code(record.id_number), id_index
    case.approved_at = approved_time(record.approved_at) or case.approved_at
    case.fingerprint, case.held, case.staged_at = fingerprint, False, utcnow()
    items = {item.item_code: item for item in _items(session, case, record, catalog)}
    _close_dropped(session, [item for code, item in items.items() if code not in record.items])
    _lift_hold_deadline(session, [item for code, item in items.items() if code in record.items])
    return case, items


def _lift_hold_deadline(session: Session, items: Sequence[CaseItem]) -> None:
    """Items still at the hold's 补正资料 (its notice their last event) carry no 补正 deadline once the row is
    corrected: the applicant has nothing left to supply, and a hold longer than the 补正 period counted them
    overdue against departments only now sent them. They stay at 补正资料 until their department's 受理."""
    waiting = {item.id: item for item in items if not item.final and item.status == Status.SUPPLEMENT.value}
    if not waiting:
        return
    events = session.execute(select(StatusEvent.case_item_id, StatusEvent.department_code)
                             .where(StatusEvent.case_item_id.in_(list(waiting))).order_by(StatusEvent.id))
    last = {item_id: code for item_id, code in events}
    for item_id, item in waiting.items():
        if last.get(item_id) == HOLD_CODE:
            item.supplement_due = None


DROPPED_CODE = "更正后未选择"  # department_code of an item the corrected row no longer chooses
DROPPED = "申请经人社窗口更正后未再选择本事项，本事项不再办理。如仍需办理，请到人社窗口申请。"


def _close_dropped(session: Session, items: Sequence[CaseItem]) -> None:
    """Items the corrected row no longer chooses, still at the hold's 补正资料: told 不予受理 from the window, now
    (left there, they kept the case at 补正资料 and its person's next application held as a second open case)."""
    _not_accepted(session, [item for item in items if item.status == Status.SUPPLEMENT.value], DROPPED_CODE, DROPPED)
