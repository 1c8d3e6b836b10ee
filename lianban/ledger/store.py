"""Small ledger operations the pipeline steps share."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import load_catalog
from lianban.domain.clock import moment_of
from lianban.domain.identity import redact_text
from lianban.domain.intake import REASON_MAX
from lianban.domain.status_machine import Move, load_status_machine
from lianban.domain.statuses import Status
from lianban.domain.supplements import supplement_due
from lianban.ledger.db import write_lock
from lianban.ledger.models import CaseItem, Delivery, IllegalTransition, StatusEvent, Supplement, Watermark

alerts = logging.getLogger("lianban.alerts")


class DeliveryState(StrEnum):
    PENDING = "pending"  # sealed, never answered
    RETRY = "retry"  # a retriable failure; due again at next_attempt_at
    ACCEPTED = "accepted"  # the department took it (or already had it)
    REFUSED = "refused"  # the department refused this record: dead letter with the department's reason
    DEAD = "dead"  # retries exhausted (or unreadable at rest): dead letter, an operator decides


class QuarantineState(StrEnum):
    OPEN = "open"  # held: never delivered, waiting for a fix at the source (or an operator's decision)
    RELEASED = "released"  # fixed at the source and staged since
    OVERRIDDEN = "overridden"  # an operator released it as it is, with a note: staged despite its reasons
    REJECTED = "rejected"  # an operator refused the application, with a note: the applicant is told 不予受理


class ParkedState(StrEnum):
    WAITING = "waiting"  # readable, its case not staged yet: applied once it is
    PARKED = "parked"  # unreadable: a person must look (the reasons say what); read again every run
    APPLIED = "applied"  # was waiting (or unreadable, and read since), now applied as a fresh row is


class SupplementState(StrEnum):
    """What became of one 补正 submission (lianban.pipeline.supplements)."""

    WAITING = "waiting"  # its case is not staged, or its delivery not taken yet: forwarded once it is
    PENDING = "pending"  # to be forwarded to the department that asked
    RETRY = "retry"  # a retriable failure; due again at next_attempt_at
    ACCEPTED = "accepted"  # the department took it (or already had it)
    REFUSED = "refused"  # the department (or the hub: item not chosen) refused it: dead letter with the reason
    DEAD = "dead"  # retries exhausted: dead letter, an operator decides
    OWN = "own"  # an item HRSS handles itself: recorded, not forwarded
    PARKED = "parked"  # unreadable (an unknown material code …): a person must look


DUE_STATES = (DeliveryState.PENDING, DeliveryState.RETRY)
DEAD_STATES = (DeliveryState.REFUSED, DeliveryState.DEAD)


def utcnow() -> datetime:
    """Naive UTC, as the ledger stores it (portable across SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


_HUB_OFFSET = "+00:00"  # how status_time's text ends


def status_time(moment: datetime) -> str:
    """A ledger time (naive UTC) as a status time is kept: ISO 8601 text with its offset (one without is a
    party's Beijing time, :mod:`lianban.domain.clock`)."""
    return moment.replace(tzinfo=UTC).isoformat()


@dataclass(slots=True)
class ItemRow:
    """One case item's status columns, read in bulk without the ORM (lianban.ledger.status_book)."""

    id: int
    item_code: str
    status: str | None
    status_at: str | None
    reason: str | None
    final: bool
    materials: str | None
    supplement_due: date | None


#: what a status move reads and sets: the ORM object or its columns read in bulk
ItemStatus = CaseItem | ItemRow


def _judge(item: ItemStatus, status: Status, source: str, changed_at: str, *, ordered: bool = True) -> Move:
    """The status machine's verdict, and the catalog's: only the item's completer may report 已办结 (item 13:
    HRSS, who pays the reward; health's 已办结 is refused like any illegal move, and once HRSS has completed the
    item, health's 已办结 is no repeat of it: it changes nothing, its words never replace the completer's).
    `ordered`: whether a report older than the item's status is stale (:func:`_verdict`)."""
    current = Status(item.status) if item.status else None
    move = load_status_machine().judge(current, item.status_at if ordered else None, status, changed_at)
    completer = load_catalog().items[item.item_code].completer if item.item_code in load_catalog().items else source
    if status is Status.COMPLETED and source != completer and move in (Move.APPLY, Move.REPEAT):
        return Move.ILLEGAL if move is Move.APPLY else Move.STALE
    return move


def record_status(session: Session, item: CaseItem, status: Status, source: str, *,
                  code: str | None, reason: str | None, changed_at: str, materials: Sequence[str] = (),
                  result: str | None = None) -> bool:
    """Move `item` to `status` as the status machine allows and append the event; False (no event) when
    nothing changed (:func:`move_status`)."""
    event = move_status(session, item, status, source, code=code, reason=reason, changed_at=changed_at,
                        materials=materials, result=result)
    if event is not None:
        session.add(StatusEvent(**event))
    return event is not None


def move_status(session: Session, item: ItemStatus, status: Status, source: str, *,
                code: str | None, reason: str | None, changed_at: str, materials: Sequence[str] = (),
                result: str | None = None, now: datetime | None = None,
                results_here: Collection[tuple[int, str]] = ()) -> dict[str, Any] | None:
    """Move `item` to `status` as the status machine allows; the event to append (its column values), or None
    when nothing changed: a repeat (same reason and materials, or the very report the item's status came from:
    same time, whatever words an echo of it carries; unless it brings a result its status has none of:
    :func:`_result_news`), a report older than the item's status (than a receipt's stamp
    only when the move is illegal: :func:`_receipt_stamped`), or an illegal move
    (kept once in ``illegal_transitions`` with the sender's words, and alerted). A 补正资料 status carries the
    materials asked for (catalog codes) and sets the item's 补正 deadline; `result` (already sealed:
    lianban.ledger.results) is taken with the move that brings it. `now`: when the event is recorded (default:
    this moment). The sender's words are kept with ID- and mobile-number-shaped runs masked
    (:func:`~lianban.domain.identity.redact_text`): a department's free text may quote the applicant; and cut
    to the 500 characters 皖事通办 takes (the departments' contracts bound none: a longer reason made its event
    one the platform refuses, parked and never shown there)."""
    reason = _kept_words(reason)
    move = _verdict(session, item, status, source, changed_at)
    if move is Move.ILLEGAL:
        _refuse_transition(session, item, status, source, code, reason, changed_at)
    listed = json.dumps(list(materials)) if materials else None
    if move is Move.STALE or move is Move.ILLEGAL or (move is Move.REPEAT and (
            (item.reason == reason and item.materials == listed and not _asked_again(session, item, status,
                                                                                    changed_at))
            or changed_at == item.status_at) and not _result_news(session, item, result, results_here)):
        return None
    item.status, item.status_at, item.reason = status.value, changed_at, reason
    item.final = status.is_terminal()
    _asked_for(item, status, listed, changed_at)
    return {"case_item_id": item.id, "status": status.value, "source": source, "department_code": code,
            "reason": reason, "materials": listed, "changed_at": changed_at, "recorded_at": now or utcnow(),
            "result": result}


def _verdict(session: Session, item: ItemStatus, status: Status, source: str, changed_at: str) -> Move:
    """:func:`_judge`'s verdict, a report older only than a receipt's stamp judged by the moves alone
    (:func:`_receipt_stamped`)."""
    move = _judge(item, status, source, changed_at)
    if move is Move.STALE and _receipt_stamped(session, item, source):
        unordered = _judge(item, status, source, changed_at, ordered=False)
        return Move.STALE if unordered is Move.ILLEGAL else unordered
    return move


def _receipt_stamped(session: Session, item: ItemStatus, source: str) -> bool:
    """Whether `item`'s status is the one `source`'s receipt gave it, stamped with the hub's time of sending
    (lianban.pipeline.deliver._apply_receipt): `source`'s own reports come with its own clock, which may be behind
    the hub's, and one "older" than that stamp is then no late echo (the item has stood at the receipt's status
    since it was sent): it is judged by the status machine alone, not dropped as stale (a move it refuses stays
    stale, as it was). Asked only of a report found stale, which is rare, and of the ledger only when the status's
    time is written as :func:`status_time` writes the hub's (UTC)."""
    sent = ledger_moment(item.status_at) if item.status_at and item.status_at.endswith(_HUB_OFFSET) else None
    return sent is not None and session.scalars(select(Delivery.id).where(
        Delivery.case_item_id == item.id, Delivery.department == source, Delivery.sent_at == sent)).first() is not None


def ledger_moment(text: str) -> datetime | None:
    """ISO 8601 text from outside the hub (without an offset: Beijing time) as the ledger stores times (naive UTC);
    None when it does not parse."""
    try:
        return moment_of(text).astimezone(UTC).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


def _result_news(session: Session, item: ItemStatus, result: str | None,
                 results_here: Collection[tuple[int, str]]) -> bool:
    """A repeat of the item's status brings a result (one that fits its form: sealed) when its status has kept none:
    the department corrected a 办理结果 refused for its form (item 13's amount, which HRSS is then asked to pay),
    at the same time or later. `results_here`: (item, status) of moves not yet written that took a result (a
    page's :class:`lianban.ledger.status_book.StatusBook`). Asked of the ledger only when a repeat brings a result."""
    if result is None or (item.id, item.status) in results_here:
        return False
    return session.scalars(select(StatusEvent.id).where(
        StatusEvent.case_item_id == item.id, StatusEvent.status == item.status,
        StatusEvent.result.is_not(None)).limit(1)).first() is None


def _asked_again(session: Session, item: ItemStatus, status: Status, changed_at: str) -> bool:
    """补正资料 asked again in the same words, later, after the applicant supplied materials for the item since it
    was first asked: what was supplied was not enough. News: the applicant is told again and the 补正 deadline
    starts anew (the same words at a later time with nothing supplied in between stay a repeat)."""
    if status is not Status.SUPPLEMENT or item.status_at is None or changed_at == item.status_at:
        return False
    since = ledger_moment(item.status_at)
    if since is None:
        return False
    return session.scalars(select(Supplement.id).where(Supplement.case_item_id == item.id,
                                                       Supplement.created_at > since).limit(1)).first() is not None


def _asked_for(item: ItemStatus, status: Status, listed: str | None, changed_at: str) -> None:
    """The item carries the materials asked for and its 补正 deadline while it is at 补正资料."""
    waiting = status is Status.SUPPLEMENT
    item.materials = listed if waiting else None
    item.supplement_due = supplement_due(changed_at) if waiting else None


def refuse_report(session: Session, item: ItemStatus, status: Status, source: str, *, code: str | None,
                  reason: str | None, changed_at: str) -> None:
    """A report `source` may not make about `item` whatever its status (HRSS's log on another department's item):
    kept once with the sender's words (masked and cut as :func:`move_status` keeps them) and alerted, as an
    illegal move is; nothing changes."""
    _refuse_transition(session, item, status, source, code, _kept_words(reason), changed_at)


def _kept_words(reason: str | None) -> str | None:
    """A sender's words as the ledger keeps them: ID- and mobile-number-shaped runs masked, then cut to
    REASON_MAX characters (:func:`move_status`)."""
    return redact_text(reason)[:REASON_MAX] if reason else reason


def _refuse_transition(session: Session, item: ItemStatus, status: Status, source: str, code: str | None,
                       reason: str | None, changed_at: str) -> None:
    known = select(IllegalTransition.id).where(
        IllegalTransition.case_item_id == item.id, IllegalTransition.to_status == status.value,
        IllegalTransition.changed_at == changed_at, IllegalTransition.source == source)
    if session.scalars(known).first() is not None:
        return  # the same report again: kept once, alerted once
    session.add(IllegalTransition(case_item_id=item.id, from_status=item.status, to_status=status.value,
                                  source=source, department_code=code, reason=reason, changed_at=changed_at,
                                  recorded_at=utcnow()))
    alerts.error("告警 ALERT: %s 报告事项（编号 %s）由“%s”变为“%s”，不符合状态机，未予采纳", source, item.id,
                 item.status or "未反馈", status.value)


def get_watermark(session: Session, name: str) -> int:
    row = session.get(Watermark, name)
    return row.value if row else 0


def locked_watermark(session: Session, name: str) -> int:
    """The watermark `name`, read for a transaction that moves it: under the database's write lock (SQLite) or its
    row's lock (PostgreSQL), so that two runs at once read it in turn and neither writes it back behind the pages
    the other committed meanwhile (the rows past it read again, and a row kept aside there kept twice)."""
    write_lock(session)
    row = session.get(Watermark, name, with_for_update=True, populate_existing=True)
    return row.value if row else 0


def set_watermark(session: Session, name: str, value: int) -> None:
    row = session.get(Watermark, name)
    if row is None:
        session.add(Watermark(name=name, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()


def status_counts(session: Session) -> dict[str, int]:
    """Case items by current unified status (``未反馈`` for none yet)."""
    rows = session.execute(select(CaseItem.status, func.count()).group_by(CaseItem.status)).all()
    return {(status or "未反馈"): int(n) for status, n in rows}
