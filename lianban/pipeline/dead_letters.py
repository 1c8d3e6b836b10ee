"""Dead letters, for operators: list what the outbox gave up on, and put it back in the queue.

Nothing is ever deleted: a requeued delivery keeps its idempotency key, so a department that did get it
answers "duplicate" and nothing happens twice. The same holds for 补正 submissions (a requeued one keeps its
supplement id); a parked submission (unreadable at the source) is listed, never requeued: HRSS fixes the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Select, select

from lianban.domain.identity import redact_text, said
from lianban.errors import ConfigError
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.delivery_keys import by_key
from lianban.ledger.models import Case, CaseItem, Delivery, Supplement
from lianban.ledger.store import DEAD_STATES, DeliveryState, SupplementState, utcnow

#: 补正 submissions an operator looks at: refused or out of retries (requeueable), unreadable (fixed at the source)
SUPPLEMENT_DEAD = (SupplementState.REFUSED, SupplementState.DEAD, SupplementState.PARKED)
SUPPLEMENT_REQUEUEABLE = (SupplementState.REFUSED, SupplementState.DEAD)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    """One dead delivery as an operator sees it (no personal data: case number, item, and the reason with any
    ID- or mobile-number-shaped run masked, since a department's free text may carry one)."""

    idempotency_key: str
    department: str
    case_no: str
    item_code: str
    state: str
    attempts: int
    last_error: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _query(department: str | None, states: Sequence[str]) -> Select[Delivery, str, str]:
    query = (select(Delivery, CaseItem.item_code, Case.case_no)
             .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case, CaseItem.case_id == Case.id)
             .where(Delivery.state.in_(list(states))).order_by(Delivery.id))
    return query.where(Delivery.department == department) if department else query


def list_dead(ledger_url: str, department: str | None = None,
              states: Sequence[str] = DEAD_STATES) -> list[DeadLetter]:
    with session_factory(ledger_url)() as session:
        return [DeadLetter(d.idempotency_key, d.department, case_no, item, d.state, d.attempts,
                           redact_text(d.last_error) if d.last_error else None)
                for d, item, case_no in session.execute(_query(department, states))]


REQUEUED = "操作员重新排队 (requeued by an operator); was: "


def requeued(last_error: str | None) -> str:
    """A requeued row's last_error: said so, with the error it had (its newest), bounded as a peer's text is
    (:func:`~lianban.domain.identity.said`); a row requeued again with no error since says it once, so
    requeues never grow it."""
    was = last_error.removeprefix(REQUEUED) if last_error else None
    return said(f"{REQUEUED}{was}")


#: dead letters requeued per transaction: short transactions, so deliver runs claiming from the outbox meanwhile
#: are never held up by a requeue of many thousands
REQUEUE_CHUNK = 1000


def requeue(ledger_url: str, department: str | None = None, states: Sequence[str] = DEAD_STATES,
            key: str | None = None, progress: Callable[[int, int], None] | None = None) -> int:
    """Make dead letters (of `department`, or the one with idempotency `key`) due again now, with a fresh retry
    budget, :data:`REQUEUE_CHUNK` per transaction (`progress` is told after each); returns how many. One whose
    item is final (a refusal the applicant was told as 不予受理) is left as it is: taken by the department now, its
    item could never move from 不予受理 (every status it sent would be an illegal move). A `key` that names no dead
    letter, or one so told, is a ConfigError in one sentence."""
    query = _query(department, states).with_only_columns(Delivery.id, CaseItem.final)  # no row objects loaded
    factory = session_factory(ledger_url)
    with factory() as session:
        found = [(row_id, final) for row_id, final in session.execute(query.where(by_key(key)) if key else query)]
    ids = [row_id for row_id, final in found if not final]
    if key and not found:
        raise ConfigError(f"没有编号为 {key[:70]!r} 的死信（见 lianban deliveries list --json 的 idempotency_key）"
                          f" (no dead letter with that key)")
    if len(ids) < len(found):
        _told(key, len(found) - len(ids))
    done = 0
    for offset in range(0, len(ids), REQUEUE_CHUNK):
        with factory.begin() as session:  # still dead when requeued: a row retried meanwhile is left alone
            write_lock(session)  # … and read under lock: another operator's requeue committing now is seen
            rows = session.scalars(select(Delivery).where(Delivery.id.in_(ids[offset:offset + REQUEUE_CHUNK]),
                                                          Delivery.state.in_(list(states))).with_for_update())
            for row in rows:
                row.state, row.attempts, row.next_attempt_at = DeliveryState.PENDING, 0, utcnow()
                row.last_error = requeued(row.last_error)
                done += 1
        if progress is not None:
            progress(min(offset + REQUEUE_CHUNK, len(ids)), len(ids))
    return done


def _told(key: str | None, count: int) -> None:
    """Refused dead letters whose applicants were told 不予受理: not requeued (:func:`requeue`)."""
    told = ("已被部门拒收，申请人已被告知不予受理（事项已终结），不重新排队；如需办理请人社以新的办件编号重新提交 "
            "(refused, the applicant told 不予受理: not requeued)")
    if key:
        raise ConfigError(f"编号为 {key[:70]!r} 的投递{told}")
    log.warning("%d 条投递%s", count, told)


@dataclass(frozen=True)
class DeadSupplement:
    """One 补正 submission that did not reach its department, as an operator sees it (no personal data)."""

    source_seq: int  # 序号 in the 前置库 submissions table
    case_no: str
    item_code: str | None
    department: str | None
    state: str
    attempts: int
    last_error: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _supplements(states: Sequence[str]) -> Select[Supplement]:
    return select(Supplement).where(Supplement.state.in_(list(states))).order_by(Supplement.id)


def list_dead_supplements(ledger_url: str, states: Sequence[str] = SUPPLEMENT_DEAD) -> list[DeadSupplement]:
    with session_factory(ledger_url)() as session:
        return [DeadSupplement(s.source_seq, s.case_no, s.item_code, s.department, s.state, s.attempts,
                               redact_text(s.last_error) if s.last_error else None)
                for s in session.scalars(_supplements(states))]


def requeue_supplements(ledger_url: str) -> int:
    """Make refused and dead 补正 submissions due again now, with a fresh retry budget; returns how many. One the
    hub refused before it was ever sent (its item not chosen, its delivery a dead letter: no supplement id yet)
    waits to be placed again by the next collection, as a new one would, and goes once its delivery has."""
    with session_factory(ledger_url).begin() as session:
        write_lock(session)  # read under lock: another operator's requeue committing now is seen
        rows = list(session.scalars(_supplements(SUPPLEMENT_REQUEUEABLE).with_for_update()))
        for row in rows:
            again = SupplementState.PENDING if row.supplement_id else SupplementState.WAITING
            row.state, row.attempts, row.next_attempt_at = again, 0, utcnow()
            row.last_error = requeued(row.last_error)
        return len(rows)
