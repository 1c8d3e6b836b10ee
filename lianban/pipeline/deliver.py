"""Deliver the outbox to one department in batches; record receipts; retry, then dead-letter.

A delivery is marked only from the department's answer. A lost answer means a resend, which the
department recognises by idempotency key and answers as a duplicate: never twice in effect, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban import evidence
from lianban.contract import DepartmentConnector, Receipt
from lianban.envelopes import BatchSealer, Outgoing
from lianban.errors import RejectedError, RetriableError
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery
from lianban.ledger.store import DUE_STATES, DeliveryState, record_status, utcnow

MAX_ATTEMPTS = 20  # with the back-off below: about four hours of failures before a dead letter
BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 900
MAX_BATCHES_PER_RUN = 1000
alerts = logging.getLogger("lianban.alerts")


@dataclass
class DeliverResult:
    department: str
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    retrying: int = 0
    dead: int = 0
    stopped_by: str | None = None  # why the run stopped early (department down, rejected batch)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _due(session: Session, department: str, limit: int) -> list[Delivery]:
    query = (select(Delivery).where(Delivery.department == department, Delivery.state.in_(DUE_STATES),
                                    Delivery.next_attempt_at <= utcnow())
             .order_by(Delivery.id).limit(limit))
    return list(session.scalars(query))


def _outgoing(row: Delivery, session: Session) -> Outgoing:
    item = session.get(CaseItem, row.case_item_id)
    assert item is not None
    return Outgoing(row.idempotency_key, item.case.case_no, item.item_code, row.envelope)


def _apply_receipt(session: Session, row: Delivery, receipt: Receipt, result: DeliverResult) -> None:
    row.attempts += 1
    row.sent_at = utcnow()
    if not receipt.accepted:
        row.state, row.last_error = DeliveryState.REFUSED, f"{receipt.department_code}: {receipt.reason}"
        result.refused += 1
        return
    row.state, row.receipt_ref, row.last_error = DeliveryState.ACCEPTED, receipt.department_ref, None
    result.accepted += 1
    result.duplicates += int(receipt.duplicate)
    if receipt.status is not None:
        item = session.get(CaseItem, row.case_item_id)
        assert item is not None
        record_status(session, item, receipt.status, row.department, code=receipt.department_code,
                      reason=receipt.reason, changed_at=row.sent_at.isoformat())


def _fail(row: Delivery, error: str, retry_after: float | None, result: DeliverResult) -> None:
    row.attempts += 1
    row.last_error = error
    if row.attempts >= MAX_ATTEMPTS:
        row.state = DeliveryState.DEAD
        result.dead += 1
        return
    delay = max(retry_after or 0, min(BASE_BACKOFF_SECONDS * 2 ** (row.attempts - 1), MAX_BACKOFF_SECONDS))
    row.state, row.next_attempt_at = DeliveryState.RETRY, utcnow() + timedelta(seconds=delay)
    result.retrying += 1


def _send_batch(session: Session, connector: DepartmentConnector, sealer: BatchSealer, rows: list[Delivery],
                result: DeliverResult) -> bool:
    """Seal and send one batch; False when the run should stop (the department is not taking messages)."""
    sealed = sealer.seal([_outgoing(r, session) for r in rows])
    for row in [r for r in rows if r.idempotency_key in sealed.broken]:
        row.state, row.last_error = DeliveryState.DEAD, sealed.broken[row.idempotency_key]
        result.dead += 1
    rows = [r for r in rows if r.idempotency_key not in sealed.broken]
    if not rows:
        return True
    seal, messages = sealed.seal, sealed.deliveries
    result.sent += len(rows)
    case_nos = [m.case_no for m in messages]
    evidence.sent(session, connector.department, "submit", case_nos, {"seal": seal, "items": messages},
                  seal["signature"], seal["signer_kid"])
    try:
        answer = connector.submit(messages, seal)
        receipts = {r.idempotency_key: r for r in answer}
    except RetriableError as exc:
        for row in rows:
            _fail(row, str(exc), exc.retry_after, result)
        result.stopped_by = str(exc)
        return False
    except RejectedError as exc:
        # The whole batch was refused (its envelope, clock or key): re-sealed and retried, then dead-lettered.
        alerts.error("告警 ALERT: %s 整批拒收 %s：%s", connector.department, exc.code, exc.reason or exc)
        for row in rows:
            _fail(row, f"{exc.code}: {exc.reason or exc}", None, result)
        result.stopped_by = str(exc)
        return False
    evidence.received(session, connector.department, "receipt", case_nos, answer)
    for row in rows:
        receipt = receipts.get(row.idempotency_key)
        if receipt is None:
            _fail(row, "部门回执中缺少该条记录 (no receipt for this delivery)", None, result)
        else:
            _apply_receipt(session, row, receipt, result)
    return True


def deliver(connector: DepartmentConnector, ledger_url: str, batch_size: int, keys_dir: Path) -> DeliverResult:
    """Seal and send every due delivery of the connector's department, one envelope per batch;
    a ConfigError propagates (fix, don't retry)."""
    sessions = session_factory(ledger_url)
    sealer = BatchSealer.load(keys_dir, connector.department)
    result = DeliverResult(connector.department)
    for _ in range(MAX_BATCHES_PER_RUN):
        with sessions.begin() as session:
            rows = _due(session, connector.department, batch_size)
            if not rows or not _send_batch(session, connector, sealer, rows, result):
                break
    return result
