"""Deliver the outbox to one department in batches; record receipts; retry, then dead-letter.

A delivery is marked only from the department's answer. A lost answer means a resend, which the
department recognises by idempotency key and answers as a duplicate: never twice in effect, never lost.

What one sealed batch can come back with, and what happens (a table, checked in this order)::

    receipts                         each row settled by its receipt (refused ones dead-lettered with the
                                     department's reason, the applicant told 不予受理 with it; one refused
                                     because the department could not open it backs off, alerted, and is
                                     sealed anew: never the applicant's fault)
    RetriableError                   every row backs off (30 s doubling, capped at 15 min); the run stops
    RejectedError, envelope code     (BATCH_SIG, E_BATCH_KEY …: keys, clocks, tampering) as retriable, and
                                     alerted: the batch is re-sealed next time
    RejectedError, any other code    the department refused the batch for what is in it (schema, size):
                                     split in two and each half sent again, down to single items; a single
                                     item refused with the department's own code is dead-lettered with its
                                     reason
    RejectedError without a code     split the same way; a single item so refused backs off (a bare 4xx from a
                                     gateway says nothing of the item), dead-lettered after MAX_ATTEMPTS
    any other exception              the connector could not send it (one item it cannot serialise): split
                                     the same way; nothing went out, so nothing is recorded as sent, and a
                                     single item backs off as above (the department never saw it)
    ConfigError                      propagates: fix the setting, do not retry

Only a department's item-level code refuses an item for good (不予受理, final). If every item of a split batch
is refused on its own, the fault is not in the items: they back off and an alert is raised instead. One poison
item in a batch of 100 leaves 99 delivered. A keys folder that does not hold the vault keys the outbox was sealed
with refuses the run before anything is touched.

A run may keep several batches going to its department at once (:mod:`lianban.pipeline.lanes`, ``extra.lanes``:
each its own connection and claims): while one batch is on the wire the next is claimed and sealed and the last
settled. Whatever stops one lane stops the others after the batch they are on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lianban.crypto.batch import is_batch_refusal
from lianban.domain.catalog import load_catalog
from lianban.domain.identity import redact_text, said
from lianban.domain.statuses import Status
from lianban.errors import ConfigError, LianbanError, RejectedError, RetriableError
from lianban.ledger.db import plain_rows, session_factory
from lianban.ledger.delivery_keys import key_claimed
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Case, CaseItem, Delivery
from lianban.ledger.outbox import OutboxRow, claim, delivery_rows, due_count, first_due, renew, write_deliveries
from lianban.ledger.status_book import ItemRow, StatusBook, item_rows
from lianban.ledger.store import DUE_STATES, DeliveryState, status_time, utcnow
from lianban.pipeline.bisect import Refusal, isolate, systemic
from lianban.pipeline.lanes import in_lanes
from lianban.pipeline.sealer import BatchSealer, Outgoing
from lianban.wire.contract import (
    MAX_CODE_LENGTH,
    MAX_REF_LENGTH,
    DepartmentConnector,
    Peer,
    Receipt,
    SealedItem,
    SentBatch,
)

MAX_ATTEMPTS = 20  # with the back-off below: about four hours of failures before a dead letter
BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 900
MAX_RETRY_AFTER_SECONDS = 86_400  # the longest the other side's Retry-After is honoured: a day
BUDGET_SECONDS = 600.0  # one run sends until the outbox is drained or this is spent; the next run goes on
BUDGET_SPENT = "(time budget spent)"  # ends the stopped_by of a run that stopped on its budget
alerts = logging.getLogger("lianban.alerts")
log = logging.getLogger(__name__)


@dataclass
class DeliverResult:
    department: str
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    retrying: int = 0
    dead: int = 0
    split: int = 0  # batches split in two to isolate the items a department refused
    stopped_by: str | None = None  # why the run stopped early (department down, rejected batch)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LocalFailure:
    """The connector raised before anything went out (it could not serialise an item, say)."""

    error: Exception

    @property
    def reason(self) -> str:
        return f"连接器无法发送（{type(self.error).__name__}），已告警 (the connector could not send it)"


Outcome = list[Receipt] | RetriableError | RejectedError | LocalFailure


@dataclass(frozen=True)
class _Batch:
    """One sealed batch between its two short transactions (the network call holds no database lock)."""

    ids: list[int]
    seal: dict[str, Any]
    messages: list[SealedItem]
    case_nos: list[str]
    sent_at: datetime  # when it went out (sealed just before the call)


def _outgoing(session: Session, ids: Sequence[int]) -> list[tuple[int, Outgoing]]:
    """Rows `ids` that exist, in that order, as the sealer takes them (one query, whatever the batch size)."""
    query = (select(Delivery.id, Delivery.idempotency_key, Case.case_no, CaseItem.item_code, Delivery.envelope)
             .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case, CaseItem.case_id == Case.id)
             .where(Delivery.id.in_(list(ids))))
    by_id = {row_id: Outgoing(*rest) for row_id, *rest in plain_rows(session, query)}  # driver tuples: no ORM
    return [(i, by_id[i]) for i in ids if i in by_id]


@dataclass
class _Settling:
    """A batch's rows and their items while answers are applied to them; :meth:`write` stores both."""

    session: Session
    rows: list[OutboxRow]
    items: dict[int, ItemRow]
    book: StatusBook

    @classmethod
    def of(cls, session: Session, ids: Sequence[int]) -> _Settling:
        """The rows of `ids` still waiting to be settled. One another run has settled meanwhile keeps that run's
        answer: this run outlived its lease (it was slow, or its worker was taken for dead while it went on), and
        the other claimed the row, sent it and was answered."""
        rows = delivery_rows(session, ids, lock=True)  # locked, then their items, then the evidence log
        waiting = [r for r in rows if r.state in DUE_STATES]
        if len(waiting) < len(rows):
            log.warning("%d 条投递已由另一轮结清，本轮不再改写 (settled by another run meanwhile: left as they are)",
                        len(rows) - len(waiting))
        return cls(session, waiting, item_rows(session, {r.case_item_id for r in waiting}, lock=True),
                   StatusBook(session))

    def write(self) -> None:
        write_deliveries(self.session, self.rows)
        self.book.write()


def _check_keys_match(session: Session, sealer: BatchSealer, keys_dir: Path) -> None:
    """Refuse to run with a keys folder that shares no vault key with what the outbox was sealed with. One due
    row sealed under a key of the folder is enough (read in the due index, it is usually the first: reading
    every due row's key cost a backlog of 170,000 0.1–0.6 s per run); only when there is none are the keys used
    read, for the error."""
    due = select(Delivery.key_id).where(Delivery.department == sealer.department, Delivery.state.in_(DUE_STATES))
    if session.scalar(due.where(Delivery.key_id.in_(sorted(sealer.vault.keys))).limit(1)) is not None:
        return
    used = set(session.scalars(due.distinct()))
    if used:
        raise ConfigError(f"密钥目录与台账不符：待投递记录所用的存储密钥 {', '.join(sorted(used))} 都不在 "
                          f"{keys_dir / 'vault.json'} 中；请确认 LIANBAN_KEYS_DIR 指向本台账的密钥目录，未做任何改动 "
                          f"(the keys folder does not hold the keys the ledger was sealed with; nothing was touched)")


def guarded(send: Callable[[], list[Receipt]], department: str, what: str) -> Outcome:
    """The answer to one send, or the failure to act on: a retriable or refused call comes back as its error,
    anything the connector raises unexpectedly as a LocalFailure (alerted); a ConfigError propagates."""
    try:
        return send()
    except (RetriableError, RejectedError) as exc:
        return exc
    except LianbanError:
        raise
    except Exception as exc:
        alerts.error("告警 ALERT: %s 连接器无法发送%s（%s）", department, what, type(exc).__name__)
        return LocalFailure(exc)


def record_exchange(session: Session, log: EvidenceLog, peer: Peer[DepartmentConnector], operation: str,
                    case_nos: list[str], sent: SentBatch, outcome: Outcome) -> None:
    """Evidence of one exchange with `peer`'s department: the message, when it went out (not when the connector
    failed before sending it); every answer its transport verified, one entry each."""
    if isinstance(outcome, LocalFailure):
        return
    department = peer.connector.department
    header: dict[str, Any] = sent.seal  # the signed header's fields, as they went out
    log.sent(session, department, operation, case_nos, sent, header["signature"], header["signer_kid"])
    proofs = peer.proofs.take()
    if proofs or isinstance(outcome, list):
        log.received(session, department, "receipt", case_nos, outcome, proofs)


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """How long a row waits after its `attempts`-th failure: 30 s doubling, capped at 15 min, never less than
    the other side's Retry-After up to a day (a gateway's absurd one, 136 years or more, is no date to wait for)."""
    asked = min(retry_after or 0, MAX_RETRY_AFTER_SECONDS)
    return timedelta(seconds=max(asked, min(BASE_BACKOFF_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)))


def _fail(row: OutboxRow, error: str, retry_after: float | None, result: DeliverResult) -> None:
    """A failed attempt: backed off, or dead-lettered at MAX_ATTEMPTS. `error` may quote the department (its
    refusal text): stored with ID- and mobile-number-shaped runs masked."""
    row.attempts += 1
    row.last_error = redact_text(error)
    if row.attempts >= MAX_ATTEMPTS:
        row.state = DeliveryState.DEAD
        result.dead += 1
        return
    row.state, row.next_attempt_at = DeliveryState.RETRY, utcnow() + backoff(row.attempts, retry_after)
    result.retrying += 1


def _refuse(settling: _Settling, row: OutboxRow, code: str, reason: str, result: DeliverResult) -> None:
    """A dead letter with the department's reason (ID- and mobile-number-shaped runs masked, as the status event
    is: :func:`lianban.ledger.store.move_status`); the applicant is told 不予受理 with it."""
    row.attempts += 1
    row.sent_at = utcnow()
    row.state, row.last_error = DeliveryState.REFUSED, redact_text(f"{code}: {reason}")
    result.refused += 1
    settling.book.record(settling.items[row.case_item_id], Status.NOT_ACCEPTED, row.department, code=code,
                         reason=reason, changed_at=status_time(row.sent_at))


def _apply_receipt(settling: _Settling, row: OutboxRow, receipt: Receipt, result: DeliverResult,
                   sent_at: datetime, stamp: str) -> None:
    """`sent_at`: when the batch went out; `stamp`, the same as a status time (:func:`status_time`, once a batch).
    The status on a receipt is stamped with it, never with the time the answer came back: a department's own
    later statuses of a large batch's first items may predate that (and
    those of a department whose clock is behind the hub's may predate the sending itself: they are still taken,
    :func:`lianban.ledger.store.move_status`). A
    duplicate's status is left to the poll: it says where an item taken before stands now, not since when nor why
    (no reason, materials or result), and stamped with this sending it made the poll's own report of it stale. So
    is a status that settles the item for the department (a final one, or 审核通过 that another party completes:
    a decision at once), which the poll brings with its result (办理结果, which a receipt has no place for): taken
    from the receipt, the poll's was a repeat and its result dropped, or the item final and never polled again."""
    reason = said(receipt.reason) if receipt.reason else None
    if not receipt.accepted and receipt.unopened:
        _fail(row, f"{receipt.department_code or '-'}: {reason or '部门无法打开该条数据'}", None, result)
        return
    if not receipt.accepted:
        _refuse(settling, row, receipt.department_code or "", reason or "部门拒收（未说明原因）", result)
        return
    row.attempts += 1
    row.sent_at = sent_at
    row.state, row.receipt_ref, row.last_error = DeliveryState.ACCEPTED, receipt.department_ref, None
    result.accepted += 1
    result.duplicates += int(receipt.duplicate)
    item = settling.items[row.case_item_id]
    if receipt.status is not None and not receipt.duplicate \
            and not load_catalog().item(item.item_code).settled(row.department, receipt.status):
        settling.book.record(item, receipt.status, row.department,
                             code=receipt.department_code, reason=reason, changed_at=stamp)


def keepable(receipts: list[Receipt], department: str) -> list[Receipt] | RetriableError:
    """`receipts`, or a malformed answer when one holds a ref or code longer than the ledger keeps (the
    connectors' readers refuse them; one that let it through would otherwise fail the settling write on
    PostgreSQL, leaving its rows to be sent again after every lease): the batch backs off, then is dead-lettered."""
    if all(len(r.department_ref or "") <= MAX_REF_LENGTH and len(r.department_code or "") <= MAX_CODE_LENGTH
           for r in receipts):
        return receipts
    alerts.error("告警 ALERT: %s 回执的受理编号或状态码超长，台账无法保存，按应答格式不符处理", department)
    return RetriableError(f"dept_{department}: 应答格式不符合接口规范（回执的受理编号超过 {MAX_REF_LENGTH} 字符或"
                          f"状态码超过 {MAX_CODE_LENGTH} 字符），稍后重试")


def _divisible(outcome: Outcome) -> bool:
    """Whether the batch failed for something in it, so that smaller batches may get through."""
    if isinstance(outcome, LocalFailure):
        return True
    return isinstance(outcome, RejectedError) and not is_batch_refusal(outcome.code)


LOCAL = "LOCAL"  # the code of a LocalFailure: the connector's own, never the department's


def why_refused(outcome: RejectedError | LocalFailure) -> tuple[str, str]:
    """(code, reason) of a refusal or a local failure, as dead letters and alerts carry them."""
    if isinstance(outcome, LocalFailure):
        return LOCAL, outcome.reason
    return outcome.code, said(outcome.reason or str(outcome))


def refusal(items: Sequence[int], outcome: RejectedError | LocalFailure) -> Refusal[int]:
    """`outcome` as the refusal of `items` that :func:`~lianban.pipeline.bisect.isolate` splits."""
    return Refusal(items, *why_refused(outcome), of_request=getattr(outcome, "of_request", False))


def refused_for_good(code: str, whole: bool) -> bool:
    """Whether a single item refused with `code` is refused for good (不予受理): only when the department named
    the item's fault with a code of its own, and the item's fault is shown (`whole` when it is not: every item
    of its batch was refused, or the code names the request's form and nothing else of the batch got through,
    :class:`~lianban.pipeline.bisect.Isolated` ``unproven``). A refusal without a code (a gateway's bare 4xx) or
    the connector's own failure says nothing of the item: it backs off."""
    return not whole and code not in ("", LOCAL)


def renewing(sessions: sessionmaker[Session], model: Any, due_states: Collection[str], ids: Sequence[int],
             attempt: Callable[[Sequence[int]], bool | Refusal[int]]) -> Callable[[Sequence[int]], bool | Refusal[int]]:
    """`attempt` for the split of claimed batch `ids` of `model` (:func:`~lianban.pipeline.bisect.isolate`):
    before each call after the first, the claim on the rows not settled yet is renewed
    (:func:`lianban.ledger.outbox.renew`): a split of many calls outlasts one lease, each call is shorter."""
    unsettled, calls = set(ids), 0

    def held(part: Sequence[int]) -> bool | Refusal[int]:
        nonlocal calls
        if calls:
            with sessions.begin() as session:
                renew(session, model, unsettled, due_states)
        calls += 1
        outcome = attempt(part)
        if not isinstance(outcome, Refusal):
            unsettled.difference_update(part)
        return outcome

    return held


@dataclass
class _Run:
    """One department's delivery run: its peer, keys, evidence log and counts."""

    peer: Peer[DepartmentConnector]
    sessions: sessionmaker[Session]
    sealer: BatchSealer
    log: EvidenceLog
    result: DeliverResult

    @property
    def department(self) -> str:
        return self.sealer.department

    def prepare(self, ids: list[int]) -> _Batch | None:
        """Seal the rows (dead-lettering any whose at-rest payload does not open)."""
        with self.sessions.begin() as session:
            rows = _outgoing(session, ids)
            key_claimed(session, [(out.idempotency_key, i) for i, out in rows])  # found by it once sent (callbacks)
            sealed = self.sealer.seal([out for _, out in rows])
            broken = delivery_rows(session, [i for i, out in rows if out.idempotency_key in sealed.broken])
            for row in broken:
                row.state, row.last_error = DeliveryState.DEAD, sealed.broken[row.idempotency_key]
                self.result.dead += 1
            write_deliveries(session, broken)
        kept = [i for i, out in rows if out.idempotency_key not in sealed.broken]
        if not kept:
            return None
        return _Batch(kept, sealed.seal, sealed.deliveries, [m.case_no for m in sealed.deliveries], utcnow())

    def call(self, batch: _Batch) -> Outcome:
        """The department's answer, or the failure to act on; a ConfigError propagates (fix, don't retry)."""
        return guarded(lambda: self.peer.connector.submit(batch.messages, batch.seal), self.department,
                       f"一批 {len(batch.ids)} 条")

    def record(self, session: Session, batch: _Batch, outcome: Outcome) -> None:
        record_exchange(session, self.log, self.peer, "submit", batch.case_nos, SentBatch(batch.seal, batch.messages),
                        outcome)

    def settled(self, session: Session, batch: _Batch, outcome: Outcome) -> tuple[_Settling, bool]:
        """A final answer applied to the rows in memory (to be written); False when the run should stop (not
        taking messages)."""
        settling = _Settling.of(session, batch.ids)
        return settling, self._settle(settling, batch, outcome)

    def _settle(self, settling: _Settling, batch: _Batch, outcome: Outcome) -> bool:
        rows = settling.rows
        if isinstance(outcome, list):
            outcome = keepable(outcome, self.department)
        if isinstance(outcome, RejectedError | LocalFailure):  # refused whole for its envelope: re-sealed
            code, reason = why_refused(outcome)
            alerts.error("告警 ALERT: %s 整批拒收 %s：%s", self.department, code, reason)
            return self._stop(rows, f"{code}: {reason}", None, f"{code}: {reason}")
        if isinstance(outcome, RetriableError):
            return self._stop(rows, str(outcome), outcome.retry_after, str(outcome))
        receipts = {r.idempotency_key: r for r in outcome}
        unopened = sum(r.unopened and not r.accepted for r in outcome)
        if unopened:
            alerts.error("告警 ALERT: %s 有 %d 条无法打开（解密或完整性校验失败），非申请人原因，不判不予受理，"
                         "重新封装后重发；请与部门核对密钥与封装实现", self.department, unopened)
        stamp = status_time(batch.sent_at)
        for row in rows:
            receipt = receipts.get(row.idempotency_key)
            if receipt is None:
                _fail(row, "部门回执中缺少该条记录 (no receipt for this delivery)", None, self.result)
            else:
                _apply_receipt(settling, row, receipt, self.result, batch.sent_at, stamp)
        return True

    def _stop(self, rows: list[OutboxRow], error: str, retry_after: float | None, why: str) -> bool:
        for row in rows:
            _fail(row, error, retry_after, self.result)
        self.result.stopped_by = redact_text(why)
        return False

    def attempt(self, ids: Sequence[int]) -> bool | Refusal[int]:
        """Seal, send and settle `ids`; a refusal of what is in the batch goes back to be split. Paced first: a
        batch sealed and then held back by the rate limit could be stale (BATCH_STALE) by the time it went."""
        self.peer.pace()
        batch = self.prepare(list(ids))
        if batch is None:
            return True
        self.result.sent += len(batch.ids)
        outcome = self.call(batch)
        with self.sessions.begin() as session:  # settled in memory first: the write lock is held only while writing
            settled = None if _divisible(outcome) else self.settled(session, batch, outcome)
            self.record(session, batch, outcome)
            if settled is not None:
                settled[0].write()
                return settled[1]
        assert isinstance(outcome, RejectedError | LocalFailure)
        return refusal(batch.ids, outcome)

    def deliver_batch(self, ids: list[int]) -> bool:
        """Send one due batch (:mod:`lianban.pipeline.bisect`); then apply its single-item refusals, unless
        every item was refused (then the fault is not in the items: they back off, alerted)."""
        isolated = isolate(ids, renewing(self.sessions, Delivery, DUE_STATES, ids, self.attempt))
        self.result.split += isolated.splits
        whole = systemic(ids, isolated)
        if isolated.refused:
            self._refused(isolated.refused, whole, isolated.unproven)
        if whole:
            alerts.error("告警 ALERT: %s 一批 %d 条逐条均被拒收，疑似系统性问题，稍后重试", self.department, len(ids))
            self.result.stopped_by = "整批逐条均被拒收，疑似系统性问题 (every item refused: not the items' fault)"
            return False
        return isolated.going

    def _refused(self, refused: Sequence[tuple[int, str, str]], whole: bool, unproven: Sequence[int]) -> None:
        """Single items refused: dead-lettered with the department's reason when :func:`refused_for_good`,
        otherwise backed off (alerted)."""
        for_good = {row_id: refused_for_good(code, whole or row_id in unproven) for row_id, code, _ in refused}
        with self.sessions.begin() as session:
            settling = _Settling.of(session, list(for_good))
            why = {row_id: (code, reason) for row_id, code, reason in refused}
            for row in settling.rows:
                code, reason = why[row.id]
                if for_good[row.id]:
                    _refuse(settling, row, code, reason, self.result)
                else:
                    _fail(row, f"{code or '-'}: {reason}", None, self.result)
            settling.write()
        backing_off = sum(not good for good in for_good.values())
        if backing_off and not whole:
            alerts.error("告警 ALERT: %s 有 %d 条被单独拒收，但拒收码不是事项级的或只说请求格式有误，无法判定是该事项"
                         "本身的问题，不判不予受理，稍后重试", self.department, backing_off)


def deliver(peer: Peer[DepartmentConnector], ledger_url: str, batch_size: int, keys_dir: Path,
            budget: float = BUDGET_SECONDS, lanes: Sequence[Peer[DepartmentConnector]] = ()) -> DeliverResult:
    """Seal and send every due delivery of the connector's department, one envelope per batch (module
    docstring), until none is due or `budget` seconds have passed (``stopped_by`` says so: the rest go next
    run). No database transaction spans a network call; every answer the transport verified is recorded in the
    evidence log, one entry per wire exchange. Each of `lanes` (more connections to the same department) sends
    batches of its own at the same time (each claims its own: a row is in one batch); a batch that stops the
    run stops every lane after the batch it is on."""
    department, sessions = peer.connector.department, session_factory(ledger_url)
    sealer = BatchSealer.load(keys_dir, department)
    with sessions() as session:
        _check_keys_match(session, sealer, keys_dir)
    log = EvidenceLog.load(keys_dir)
    runs = [_Run(p, sessions, sealer, log, DeliverResult(department)) for p in (peer, *lanes)]

    def due() -> list[int]:
        with sessions.begin() as session:
            return claim(session, Delivery, department, DUE_STATES, batch_size)

    def lane(run: _Run, stop: threading.Event | None) -> DeliverResult:
        return drain(due, run.deliver_batch, budget, run.result, stop)

    return in_lanes(runs, lane, f"deliver-{department}")


def due_batches(ledger_url: str, department: str, batch_size: int, up_to: int) -> int:
    """How many batches of `department`'s deliveries are due now, counted up to `up_to`."""
    with session_factory(ledger_url)() as session:
        due = due_count(session, Delivery, department, DUE_STATES, up_to * batch_size)
    return -(-due // batch_size)


def next_due(ledger_url: str, department: str) -> int | None:
    """The id of `department`'s delivery a run would claim next, None when none is due
    (:func:`lianban.ledger.outbox.first_due`)."""
    with session_factory(ledger_url)() as session:
        return first_due(session, Delivery, department, DUE_STATES)


def drain(due: Callable[[], list[int]], send: Callable[[list[int]], bool], budget: float,
          result: DeliverResult, stop: threading.Event | None = None) -> DeliverResult:
    """Send batch after batch of what `due` claims until none is left, a batch stops the run, `stop` is set
    (another lane stopped), or `budget` seconds have passed (``stopped_by`` says so: the rest go next run)."""
    deadline = time.monotonic() + budget
    while not (stop and stop.is_set()) and (ids := due()) and send(ids):
        if time.monotonic() > deadline:
            result.stopped_by = f"本轮时间预算（{budget:g}秒）已用完，其余记录下一轮继续投递 {BUDGET_SPENT}"
            break
    return result
