"""Deliver the outbox to one department in batches; record receipts; retry, then dead-letter.

A delivery is marked only from the department's answer. A lost answer means a resend, which the
department recognises by idempotency key and answers as a duplicate: never twice in effect, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.errors import RejectedError, RetriableError
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import CaseItem, Delivery
from lianban.ledger.store import DUE_STATES, DeliveryState, record_status, utcnow
from lianban.pipeline.sealer import BatchSealer, Outgoing
from lianban.wire.contract import DepartmentConnector, Peer, Receipt, SealedItem
from lianban.wire.signatures import Proof

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


@dataclass(frozen=True)
class _Batch:
    """One sealed batch between its two short transactions (the network call holds no database lock)."""

    ids: list[int]
    seal: dict[str, Any]
    messages: list[SealedItem]
    case_nos: list[str]


def _prepare(session: Session, sealer: BatchSealer, log: EvidenceLog, rows: list[Delivery],
             result: DeliverResult) -> _Batch | None:
    """Seal the due rows (dead-lettering any whose at-rest payload does not open) and log the send."""
    sealed = sealer.seal([_outgoing(r, session) for r in rows])
    for row in [r for r in rows if r.idempotency_key in sealed.broken]:
        row.state, row.last_error = DeliveryState.DEAD, sealed.broken[row.idempotency_key]
        result.dead += 1
    rows = [r for r in rows if r.idempotency_key not in sealed.broken]
    if not rows:
        return None
    batch = _Batch([r.id for r in rows], sealed.seal, sealed.deliveries, [m.case_no for m in sealed.deliveries])
    log.sent(session, sealer.department, "submit", batch.case_nos,
             {"seal": batch.seal, "items": batch.messages}, batch.seal["signature"], batch.seal["signer_kid"])
    result.sent += len(rows)
    return batch


def _call(connector: DepartmentConnector, batch: _Batch) -> list[Receipt] | RetriableError | RejectedError:
    """The department's answer, or the failure to act on; a ConfigError propagates (fix, don't retry)."""
    try:
        return connector.submit(batch.messages, batch.seal)
    except (RetriableError, RejectedError) as exc:
        return exc


def _stop(rows: list[Delivery], error: str, retry_after: float | None, cause: Exception,
          result: DeliverResult) -> bool:
    for row in rows:
        _fail(row, error, retry_after, result)
    result.stopped_by = str(cause)
    return False


def _settle(session: Session, department: str, batch: _Batch, outcome: list[Receipt] | RetriableError | RejectedError,
            result: DeliverResult) -> bool:
    """Apply the answer to the rows; False when the run should stop (the department is not taking messages)."""
    rows = [row for i in batch.ids if (row := session.get(Delivery, i)) is not None]
    if isinstance(outcome, RejectedError):  # refused whole (envelope, clock, key): re-sealed next time
        alerts.error("告警 ALERT: %s 整批拒收 %s：%s", department, outcome.code, outcome.reason or outcome)
        return _stop(rows, f"{outcome.code}: {outcome.reason or outcome}", None, outcome, result)
    if isinstance(outcome, RetriableError):
        return _stop(rows, str(outcome), outcome.retry_after, outcome, result)
    receipts = {r.idempotency_key: r for r in outcome}
    for row in rows:
        receipt = receipts.get(row.idempotency_key)
        if receipt is None:
            _fail(row, "部门回执中缺少该条记录 (no receipt for this delivery)", None, result)
        else:
            _apply_receipt(session, row, receipt, result)
    return True


def deliver(peer: Peer[DepartmentConnector], ledger_url: str, batch_size: int, keys_dir: Path) -> DeliverResult:
    """Seal and send every due delivery of the connector's department, one envelope per batch;
    a ConfigError propagates (fix, don't retry). No database transaction spans a network call. Every
    answer the transport verified is recorded in the evidence log, one entry per wire exchange."""
    department, sessions, log = peer.connector.department, session_factory(ledger_url), EvidenceLog.load(keys_dir)
    sealer = BatchSealer.load(keys_dir, department)
    result = DeliverResult(department)
    for _ in range(MAX_BATCHES_PER_RUN):
        with sessions.begin() as session:
            rows = _due(session, department, batch_size)
            batch = _prepare(session, sealer, log, rows, result) if rows else None
        if not rows:
            break
        if batch is None:
            continue
        outcome = _call(peer.connector, batch)
        with sessions.begin() as session:
            _record_answer(session, log, department, batch, outcome, peer.proofs.take())
            if not _settle(session, department, batch, outcome, result):
                break
    return result


def _record_answer(session: Session, log: EvidenceLog, department: str, batch: _Batch,
                   outcome: list[Receipt] | RetriableError | RejectedError, proofs: list[Proof]) -> None:
    """Receipts, and any signed refusal, go to the evidence log; an unsigned failure has nothing to record."""
    if proofs or isinstance(outcome, list):
        log.received(session, department, "receipt", batch.case_nos, outcome, proofs)
