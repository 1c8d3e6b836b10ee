"""补正 (materials to supplement): the HRSS window's submissions, recorded and forwarded to the department that
asked for them.

:func:`collect_supplements` reads HRSS's 补正 submissions (前置库 ``T_LB_BZTJ``) past a watermark and keeps
each in the ledger's ``supplements`` table, never dropped; what becomes of a row (``SupplementState``)::

    own       an item HRSS handles itself (01–10): recorded; HRSS's back office works it, nothing is forwarded
    pending   a pushed item its department has taken: forwarded by :func:`forward_supplements`
    waiting   its case is not staged yet, or its delivery not taken yet: placed again at the start of every run
    refused   nothing to forward to: the applicant did not choose that item, its delivery is a dead letter, or
              it will never be delivered (a held case refused, 不予受理)
    parked    unreadable (an unknown material code, a bad time, a bad 办件编号): alerted, a person looks; once
              HRSS corrects the row in its 前置库 and flags it new again (同步标志 0), it is read again in its place

A row waiting, or refused before it was forwarded (a 办件编号 or 事项编码 typed wrong), is read again in its
place the same way once HRSS corrects it and flags it new; one a department was sent keeps what it was sent.

:func:`forward_supplements` sends one department's due supplements in sealed, signed batches (as
:mod:`lianban.pipeline.deliver` sends deliveries: :class:`~lianban.pipeline.sealer.BatchSealer`, one evidence
entry per message sent and per answer verified), each bound to its delivery's idempotency key and its own
supplement id (:func:`lianban.wire.ids.supplement_id`; a resend is answered duplicate). What an answer does::

    receipts                         accepted (or duplicate) → accepted; refused → refused, with the reason
    RetriableError                   every row backs off (30 s doubling, capped at 15 min) until MAX_ATTEMPTS,
                                     then dead; the run stops
    RejectedError, envelope code     as retriable, and alerted: the batch is sealed afresh next time
    RejectedError, any other code    split in two down to single items (lianban.pipeline.bisect); a single
    / the connector cannot send it   supplement refused is refused; every item refused on its own: backed off
    ConfigError                      propagates: fix the setting, do not retry
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lianban.crypto.batch import is_batch_refusal
from lianban.domain.catalog import window
from lianban.domain.identity import redact_text, said
from lianban.domain.intake import Unreadable
from lianban.domain.supplements import SupplementSubmission
from lianban.errors import RejectedError, RetriableError
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.log_gaps import takeable
from lianban.ledger.models import Case, CaseItem, Supplement
from lianban.ledger.outbox import claim
from lianban.ledger.store import (
    DEAD_STATES,
    DUE_STATES,
    SupplementState,
    locked_watermark,
    set_watermark,
    utcnow,
)
from lianban.pipeline.bisect import Refusal, isolate, systemic
from lianban.pipeline.deliver import (
    BUDGET_SECONDS,
    MAX_ATTEMPTS,
    DeliverResult,
    LocalFailure,
    backoff,
    drain,
    guarded,
    record_exchange,
    refusal,
    refused_for_good,
    renewing,
    why_refused,
)
from lianban.pipeline.sealer import BatchSealer
from lianban.wire.contract import DepartmentConnector, Peer, Receipt, SentBatch, SupplementItem
from lianban.wire.ids import supplement_aad, supplement_id

WATERMARK = "hrss_supplements"
FORWARD_DUE = (SupplementState.PENDING, SupplementState.RETRY)
alerts = logging.getLogger("lianban.alerts")

Outcome = list[Receipt] | RetriableError | RejectedError | LocalFailure


class SupplementLog(Protocol):
    """HRSS's 补正 submissions, as read (a row it cannot place is Unreadable), and their 同步标志."""

    def supplements_since(self, seq: int, limit: int) -> Sequence[SupplementSubmission | Unreadable]: ...

    def mark_supplements(self, seqs: Sequence[int], flag: str = "taken") -> None: ...

    def pull_new_supplements(self, limit: int) -> Sequence[SupplementSubmission | Unreadable]:
        """Rows flagged new (同步标志 0), in 序号 order: new ones, and parked ones HRSS corrected and flagged again."""


@dataclass
class CollectResult:
    read: int = 0
    pending: int = 0  # to be forwarded
    own: int = 0  # HRSS's own items: recorded only
    waiting: int = 0  # case or delivery not there yet
    refused: int = 0  # nothing to forward to
    parked: int = 0  # unreadable, alerted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# -- collect ------------------------------------------------------------------------------------------
COLLECT_BUDGET_SECONDS = 120.0  # one run reads on until HRSS's 补正 table is drained or this is spent


def _settle_place(row: Supplement, state: SupplementState, why: str | None, result: CollectResult) -> None:
    row.state, row.last_error = state, why
    counter = {SupplementState.PENDING: "pending", SupplementState.OWN: "own", SupplementState.WAITING: "waiting",
               SupplementState.REFUSED: "refused"}[state]
    setattr(result, counter, getattr(result, counter) + 1)


def _place(session: Session, row: Supplement, result: CollectResult) -> None:
    """Decide a readable row's state from its case, item and delivery (module docstring)."""
    case_id = session.scalars(select(Case.id).where(Case.case_no == row.case_no)).first()
    if case_id is None:
        return _settle_place(row, SupplementState.WAITING, "办件尚未入账（未抽取或已隔离），入账后自动转交", result)
    item = session.scalars(select(CaseItem).where(CaseItem.case_id == case_id,
                                                  CaseItem.item_code == row.item_code)).first()
    if item is None:
        return _settle_place(row, SupplementState.REFUSED, "办件未选择该事项，补正材料无需转交", result)
    row.case_item_id, row.department = item.id, item.department
    delivery = item.delivery
    if item.department == window():
        return _settle_place(row, SupplementState.OWN, None, result)
    if delivery is None and item.final:  # a held case refused (不予受理): it will never be delivered
        return _settle_place(row, SupplementState.REFUSED, "事项已不予受理，不会送达部门，补正材料无需转交", result)
    if delivery is None or delivery.state in DUE_STATES:
        return _settle_place(row, SupplementState.WAITING, "事项尚未送达部门，送达后自动转交", result)
    if delivery.state in DEAD_STATES:
        why = "事项未能送达部门（死信），补正材料未转交，请人工处理"
        return _settle_place(row, SupplementState.REFUSED, why, result)
    row.supplement_id = supplement_id(delivery.idempotency_key, row.source, row.source_seq)
    _settle_place(row, SupplementState.PENDING, None, result)


def _keep(session: Session, row: SupplementSubmission | Unreadable, result: CollectResult) -> None:
    now = utcnow()
    if isinstance(row, Unreadable):
        result.parked += 1
        alerts.error("告警 ALERT: 人社补正提交第 %s 条无法处理，已搁置：%s", row.seq, "；".join(row.reasons))
        session.add(Supplement(source=window(), source_seq=row.seq, case_no=row.case_no[:40], materials="[]",
                               state=SupplementState.PARKED, last_error="；".join(row.reasons), attempts=0,
                               next_attempt_at=now, created_at=now))
        return
    kept = Supplement(source=window(), source_seq=row.seq, case_no=row.case_no, item_code=row.item_code[:4],
                      materials=json.dumps(list(row.materials)), supplied_at=row.supplied_at, attempts=0,
                      state=SupplementState.WAITING, next_attempt_at=now, created_at=now)
    session.add(kept)
    _place(session, kept, result)


def collect_supplements(source: SupplementLog, ledger_url: str, limit: int = 1000,
                        budget: float = COLLECT_BUDGET_SECONDS) -> CollectResult:
    """Place again the rows that were waiting, then keep HRSS's new 补正 submissions past the watermark (module
    docstring), `limit` rows a transaction, so the watermark and the rows move together, until none is left or
    `budget` seconds have passed (a backlog does not wait for the next run while there is time). Each page's
    前置库 rows are then flagged taken (or quarantined, when unreadable) for HRSS to see."""
    result, deadline = CollectResult(), time.monotonic() + budget
    with session_factory(ledger_url).begin() as session:
        waiting = session.scalars(select(Supplement).where(Supplement.state == SupplementState.WAITING)
                                  .order_by(Supplement.source_seq))
        for parked in waiting:
            _place(session, parked, result)
    _retake_corrected(source, ledger_url, limit, result)
    while len(_collect_page(source, ledger_url, limit, result)) == limit and time.monotonic() < deadline:
        pass
    return result


def _correctable(row: Supplement) -> bool:
    """Whether HRSS may correct kept row `row` in place: parked (unreadable), or never forwarded (waiting for a
    case or an item that may be typed wrong, or refused before it was sent: no supplement id). One a department
    was sent keeps what it was sent."""
    return row.state == SupplementState.PARKED or (
        row.supplement_id is None and row.state in (SupplementState.WAITING, SupplementState.REFUSED))


def _retake_corrected(source: SupplementLog, ledger_url: str, limit: int, result: CollectResult) -> None:
    """Rows HRSS has corrected in the 前置库 and flagged new again (序号 behind the watermark, which a correction in
    place never passes again), parked or never forwarded (:func:`_correctable`): each read again in place of its
    kept row, then flagged. A row behind it the ledger holds otherwise is flagged taken (its flagging did not
    happen: left, a page of such rows would stand first among those flagged new at every run, and no corrected row
    would be read again)."""
    with session_factory(ledger_url).begin() as session:
        mark = locked_watermark(session, WATERMARK)  # as a page's: two runs retake a row in turn, not both
        rows = [row for row in source.pull_new_supplements(limit) if row.seq <= mark]
        held = {p.source_seq: p for p in session.scalars(select(Supplement).where(
            Supplement.source == window(), Supplement.source_seq.in_([row.seq for row in rows])))}
        parked = {seq: p for seq, p in held.items() if _correctable(p)}
        unflagged = [seq for seq in held if seq not in parked]
        rows = [row for row in rows if row.seq in parked]
        for row in rows:
            session.delete(parked[row.seq])
            session.flush()
            _keep(session, row, result)
            result.read += 1
    source.mark_supplements([*unflagged, *(r.seq for r in rows if not isinstance(r, Unreadable))], "taken")
    source.mark_supplements([r.seq for r in rows if isinstance(r, Unreadable)], "quarantined")


def _collect_page(source: SupplementLog, ledger_url: str, limit: int,
                  result: CollectResult) -> list[SupplementSubmission | Unreadable]:
    """One transaction's new submissions kept and the watermark moved past them, up to a number still missing
    (:mod:`lianban.ledger.log_gaps`); then flagged in the 前置库. The watermark is read under the ledger's write lock
    (:func:`~lianban.ledger.store.locked_watermark`): two runs at once take their pages in turn, where each kept the
    rows past the same watermark and the second failed on the first's (their unique 序号)."""
    with session_factory(ledger_url).begin() as session:
        mark = locked_watermark(session, WATERMARK)
        rows = list(source.supplements_since(mark, limit))
        rows = rows[:takeable(session, WATERMARK, "人社补正提交", mark, [row.seq for row in rows])]
        for row in rows:
            _keep(session, row, result)
            result.read += 1
            mark = row.seq
        set_watermark(session, WATERMARK, mark)
    source.mark_supplements([r.seq for r in rows if not isinstance(r, Unreadable)], "taken")
    source.mark_supplements([r.seq for r in rows if isinstance(r, Unreadable)], "quarantined")
    return rows


# -- forward ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Batch:
    ids: list[int]
    seal: dict[str, Any]
    items: list[SupplementItem]


def _outgoing(session: Session, row: Supplement) -> tuple[str, dict[str, Any], SupplementItem]:
    item = session.get(CaseItem, row.case_item_id)
    assert item is not None and item.delivery is not None and row.supplement_id is not None
    key, case_no = item.delivery.idempotency_key, item.case.case_no
    bound = supplement_aad(row.supplement_id, key, case_no, item.item_code)
    payload = {"materials": json.loads(row.materials), "supplied_at": row.supplied_at}
    return bound, payload, SupplementItem(key, row.supplement_id, case_no, item.item_code, {})


def _fail(row: Supplement, error: str, retry_after: float | None, result: DeliverResult) -> None:
    row.attempts += 1
    row.last_error = said(error)  # may quote the department: masked and bounded as deliveries' are
    if row.attempts >= MAX_ATTEMPTS:
        row.state = SupplementState.DEAD
        result.dead += 1
        return
    row.state, row.next_attempt_at = SupplementState.RETRY, utcnow() + backoff(row.attempts, retry_after)
    result.retrying += 1


def _refuse(row: Supplement, code: str, reason: str, result: DeliverResult) -> None:
    row.attempts += 1
    row.sent_at, row.state, row.last_error = utcnow(), SupplementState.REFUSED, said(f"{code}: {reason}")
    result.refused += 1


def _apply(row: Supplement, receipt: Receipt | None, result: DeliverResult) -> None:
    if receipt is None:
        return _fail(row, "部门回执中缺少该条补正 (no receipt for this supplement)", None, result)
    if not receipt.accepted:
        return _refuse(row, receipt.department_code or "", receipt.reason or "部门拒收（未说明原因）", result)
    row.attempts += 1
    row.sent_at, row.state, row.last_error = utcnow(), SupplementState.ACCEPTED, None
    result.accepted += 1
    result.duplicates += int(receipt.duplicate)


@dataclass
class _Run:
    """One department's supplement run: its peer, sealer, evidence log and counts."""

    peer: Peer[DepartmentConnector]
    sessions: sessionmaker[Session]
    sealer: BatchSealer
    log: EvidenceLog
    result: DeliverResult

    @property
    def department(self) -> str:
        return self.sealer.department

    def prepare(self, ids: Sequence[int]) -> _Batch:
        with self.sessions() as session:
            outgoing = [_outgoing(session, row) for i in ids if (row := session.get(Supplement, i)) is not None]
        seal, envelopes = self.sealer.seal_payloads([(bound, payload) for bound, payload, _ in outgoing])
        items = [SupplementItem(s.idempotency_key, s.supplement_id, s.case_no, s.item_code, envelope)
                 for (_, _, s), envelope in zip(outgoing, envelopes, strict=True)]
        return _Batch(list(ids), seal, items)

    def call(self, batch: _Batch) -> Outcome:
        return guarded(lambda: self.peer.connector.supplement(batch.items, batch.seal), self.department,
                       f"一批补正 {len(batch.ids)} 条")

    def record(self, session: Session, batch: _Batch, outcome: Outcome) -> None:
        record_exchange(session, self.log, self.peer, "supplement", [s.case_no for s in batch.items],
                        SentBatch(batch.seal, batch.items), outcome)

    def settle(self, session: Session, batch: _Batch, outcome: Outcome) -> bool:
        rows = _waiting(session, batch.ids)
        if isinstance(outcome, list):
            receipts = {r.idempotency_key: r for r in outcome}
            for row in rows:
                _apply(row, receipts.get(row.supplement_id or ""), self.result)
            return True
        if isinstance(outcome, RetriableError):
            why, retry_after = str(outcome), outcome.retry_after
        else:
            why, retry_after = "{}: {}".format(*why_refused(outcome)), None
            alerts.error("告警 ALERT: %s 补正整批拒收 %s", self.department, why)
        for row in rows:
            _fail(row, why, retry_after, self.result)
        self.result.stopped_by = redact_text(why)
        return False

    def attempt(self, ids: Sequence[int]) -> bool | Refusal[int]:
        self.peer.pace()  # before sealing: a batch held back by the rate limit after it could go stale
        batch = self.prepare(ids)
        self.result.sent += len(batch.ids)
        outcome = self.call(batch)
        divisible = isinstance(outcome, LocalFailure) or (
            isinstance(outcome, RejectedError) and not is_batch_refusal(outcome.code))
        with self.sessions.begin() as session:
            self.record(session, batch, outcome)
            if not divisible:
                return self.settle(session, batch, outcome)
        assert isinstance(outcome, RejectedError | LocalFailure)
        return refusal(batch.ids, outcome)

    def forward_batch(self, ids: list[int]) -> bool:
        isolated = isolate(ids, renewing(self.sessions, Supplement, FORWARD_DUE, ids, self.attempt))
        self.result.split += isolated.splits
        whole = systemic(ids, isolated)
        with self.sessions.begin() as session:
            why = {row_id: (code, reason) for row_id, code, reason in isolated.refused}
            for row in _waiting(session, list(why)):
                code, reason = why[row.id]
                (_refuse(row, code, reason, self.result) if refused_for_good(code, whole or row.id in isolated.unproven)
                 else _fail(row, f"{code or '-'}: {reason}", None, self.result))
        if whole:
            alerts.error("告警 ALERT: %s 一批补正 %d 条逐条均被拒收，疑似系统性问题，稍后重试", self.department,
                         len(ids))
            self.result.stopped_by = "整批逐条均被拒收，疑似系统性问题 (every item refused: not the items' fault)"
            return False
        return isolated.going


def _waiting(session: Session, ids: Sequence[int]) -> list[Supplement]:
    """The supplements of `ids` still waiting to be settled, locked in id order (PostgreSQL; on SQLite the
    database's write lock taken first). One another run has settled meanwhile keeps that run's answer
    (lianban.pipeline.deliver._Settling.of)."""
    write_lock(session)
    rows = session.scalars(select(Supplement).where(Supplement.id.in_(list(ids))).order_by(Supplement.id)
                           .with_for_update()).all()
    return [row for row in rows if row.state in FORWARD_DUE]


def forward_supplements(peer: Peer[DepartmentConnector], ledger_url: str, batch_size: int,
                        keys_dir: Path, budget: float = BUDGET_SECONDS) -> DeliverResult:
    """Seal and send every due supplement of the connector's department, one envelope per batch (module
    docstring), until none is due or `budget` seconds have passed; no database transaction spans a network
    call."""
    department, sessions = peer.connector.department, session_factory(ledger_url)
    run = _Run(peer, sessions, BatchSealer.load(keys_dir, department), EvidenceLog.load(keys_dir),
               DeliverResult(department))

    def due() -> list[int]:
        with sessions.begin() as session:
            return claim(session, Supplement, department, FORWARD_DUE, batch_size)

    return drain(due, run.forward_batch, budget, run.result)
