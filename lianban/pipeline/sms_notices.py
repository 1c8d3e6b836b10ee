"""双告知 by SMS, exactly once: a notice is written to the ledger before it is sent, and sent under a key the
gateway dedupes on.

    plan            one row per person (blind index) × kind (the template) × period (e.g. the retirement month):
                    planning it again — a rerun, the next day's job — finds it and adds nothing. The phone and the
                    template's values are kept sealed with the vault key, to send (again) without the source.
    send_due        every planned notice whose quiet hours are over (and every failed delivery with sends left;
                    a notice moved to another number has its sends there afresh):
                    sent under ``N<SM3 of kind, person, period>[-v<version>]-<sends made>`` (:func:`key`). A
                    crash after the gateway took it but before the ledger noted it resends the same key next
                    run: the gateway answers duplicate, the ledger notes it sent, the person gets one message.
                    A notice rewritten meanwhile (another number, other values: :func:`replan`,
                    :func:`readdress`) is another version, under another key: the gateway's copy of the old
                    version does not stand in for it. Quiet
                    hours defer (the gateway's connector says until when); an invalid phone (until
                    :func:`replan` gives a valid one) or a refused text is final, with its reason; a refusal
                    that is the hub's setup at fault (:data:`SETUP_REFUSALS`) is not the notice's: it stays due
                    and the run stops saying why. An answer is noted only on a notice still as it was read:
                    another run may have sent and noted it meanwhile.
    collect_receipts the gateway's delivery receipts: delivered, or failed — sent again under a new key while
                    sends are left (:data:`MAX_SENDS`), then dead, for an operator (``lianban notices list
                    --failed``), and planned again once the source holds another number for the person
                    (:data:`EXHAUSTED`, :func:`another_number`); dead at once when the person refused it
                    (:data:`FINAL_FAILURES`), invalid at once when the number does not exist
                    (:data:`NUMBER_FAILURES`: sent again only to another number, :func:`replan`; a later notice
                    to the same number is invalid at once, :func:`dead_number`). A receipt applies only to a
                    notice still waiting for that message: one of an earlier send (another run read it and sent
                    again meanwhile) is passed over. A notice no receipt settles within :data:`RECEIPT_WAIT` of
                    its send is dead too, not asked about for ever.

Nothing personal is logged or kept in the clear: rows carry the blind index, the sealed payload and Chinese
reasons without phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.vault import open_envelope, seal
from lianban.domain.identity import redact_text, said
from lianban.domain.register import PENSION_KINDS, PENSION_REVISED
from lianban.domain.sms import EXHAUSTED, MAX_SENDS, is_mobile
from lianban.errors import LianbanError, RejectedError
from lianban.keys.names import VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import insert_unless_there, session_factory, write_lock
from lianban.ledger.models import SmsNotice
from lianban.ledger.store import utcnow
from lianban.ledger.time_limits import beijing_text
from lianban.wire.sms import DeliveryReceipt, DeliveryState, Outcome, SmsGateway, SmsMessage, SmsResult, compose

__all__ = ["EXHAUSTED", "MAX_SENDS", "PLANNED_AGAIN", "READDRESSED", "SUPERSEDED", "UNSENT", "NoticeState",
           "another_number", "collect_receipts", "dead_number", "exhausted", "listed", "may_go", "phone_of", "plan",
           "plan_again", "readdress", "replan", "send_due", "values_of"]

#: rewrites of a notice (another number, other values) that start its sends afresh; a later one keeps the sends
#: used, so that a notice moved to and fro (a person the register lists twice, with two numbers that fail) is not
#: sent every day for ever: MAX_SENDS × (FRESH_REWRITES + 1) sends at most in all
FRESH_REWRITES = 3
#: a sent notice no receipt has settled this long after its send is dead, for an operator: the gateway forgot it
#: (an unknown id is not answered) or the operator never reported; sending again could tell the person twice
RECEIPT_WAIT = timedelta(days=3)
UNCONFIRMED = f"发送{RECEIPT_WAIT.days}天后仍未收到状态报告，是否送达不明，请人工核实"

#: gateway refusals that are the hub's setup at fault, not the notice's: our 签名 is not the one registered with
#: the gateway, its length limit is below templates.yaml's max_chars. Every message would be refused alike, and a
#: dead notice is never sent again: the notice stays due, the run stops saying why (as a template the hub cannot
#: fill stops it)
SETUP_REFUSALS = frozenset({"SIGNATURE", "TOO_LONG"})

#: delivery failures never sent again: 用户拒收, the person refused our messages, and a message they refused must
#: not be sent to them again (通信短信息服务管理规定); dead at once, for an operator
FINAL_FAILURES = frozenset({"REJECTED"})

#: why a 待遇告知 is not sent (again): the pension was assessed again, a later notice tells the new amount
SUPERSEDED = "养老金已重新核定，本条不再发送，改发重新核定后的待遇告知"

#: delivery failures that condemn the number, not the message (空号: it does not exist): sending again to it reaches
#: no one, so the notice is invalid at once, as one without a valid number is, with what the operator is to do; it
#: goes again only once the source holds another number (:func:`replan`, :func:`phone_of`), and a later notice to
#: the same number is invalid at once too (:func:`dead_number`)
NUMBER_FAILURES = {"EMPTY_NUMBER": "空号（该手机号码不存在），不再向该号码发送；请人社核实并更正登记的手机号码"}


class NoticeState(StrEnum):
    PLANNED = "planned"  # written, not sent yet (or deferred by quiet hours: not_before)
    SENT = "sent"  # the gateway holds it; waiting for its delivery receipt
    DELIVERED = "delivered"
    FAILED = "failed"  # the operator could not deliver it: sent again under a new key while sends are left
    DEAD = "dead"  # refused, unrenderable, or out of sends: an operator looks
    INVALID = "invalid"  # no valid mobile number (or 空号 said of it): reported, not sent (again) to it


DUE = (NoticeState.PLANNED, NoticeState.FAILED)


def _aad(kind: str, person_index: str, period: str) -> str:
    return f"sms-notice|{kind}|{person_index}|{period}"


def plan(session: Session, vault: KeyRing, kind: str, person_index: str, period: str, phone: str | None,
         values: Mapping[str, str | int], now: datetime | None = None, invalid: str | None = None) -> bool:
    """Write the notice unless it exists; whether it is new. Two runs planning the same notice at once write it
    once: on SQLite the check waits for the other run's transaction (the write lock taken first); on PostgreSQL
    the insert leaves the other's notice, committed first, as it is, and the notice is not new. `invalid`: why
    `phone` is known to reach no one (:func:`dead_number`): written invalid with it, not sent."""
    write_lock(session)
    known = select(SmsNotice.id).where(SmsNotice.kind == kind, SmsNotice.person_index == person_index,
                                       SmsNotice.period == period)
    if session.scalars(known).first() is not None:
        return False
    now = now or utcnow()
    notice = {"kind": kind, "person_index": person_index, "period": period,
              "state": NoticeState.INVALID if invalid else NoticeState.PLANNED, "reason": invalid,
              "sealed": _sealed(vault, kind, person_index, period, phone, values), "attempts": 0, "sends": 0,
              "not_before": now, "created_at": now}
    return insert_unless_there(session, SmsNotice, notice, ("kind", "person_index", "period"))


def replan(vault: KeyRing, notice: SmsNotice, kind: str, phone: str | None, values: Mapping[str, str | int],
           now: datetime | None = None, invalid: str | None = None) -> None:
    """An invalid notice (never sent: there was no valid number; or 空号 said of its number), or one not sent yet
    whose values the source changed, planned again as `kind` for `phone`, the number the source has for the
    person now, with `values`; `invalid`: why `phone` reaches no one (:func:`dead_number`): kept invalid."""
    notice.sealed = _sealed(vault, kind, notice.person_index, notice.period, phone, values)
    notice.kind, notice.state, notice.reason, notice.not_before = kind, NoticeState.PLANNED, None, now or utcnow()
    if invalid:
        notice.state, notice.reason = NoticeState.INVALID, invalid
    _rewritten(notice)


def _rewritten(notice: SmsNotice) -> None:
    """`notice` as a new version (another number, other values): sent under a key of its own (:func:`key`), with
    sends of its own: the sends the old version used (on a wrong number, say) do not count against it, for the
    first :data:`FRESH_REWRITES` rewrites."""
    notice.version += 1
    if notice.version <= FRESH_REWRITES:
        notice.attempts = 0


#: states of a notice not delivered that may still go, to another number than the one it holds (and a dead one
#: out of sends: :func:`may_go`)
UNSENT = (NoticeState.INVALID, *DUE)
PLANNED_AGAIN, READDRESSED = "planned", "readdressed"  # what plan_again did


def exhausted(notice: SmsNotice) -> bool:
    """Whether `notice` is dead for want of sends at its number (:data:`EXHAUSTED`, with its sends used): it never
    reached the person."""
    return notice.state == NoticeState.DEAD and notice.attempts >= MAX_SENDS and \
        (notice.reason or "").startswith(EXHAUSTED)


def may_go(notice: SmsNotice) -> bool:
    """Whether `notice` may still go, to another number than the one it holds (:data:`UNSENT`, or
    :func:`exhausted`)."""
    return notice.state in UNSENT or exhausted(notice)


def another_number(vault: KeyRing, notice: SmsNotice, phone: str | None) -> bool:
    """Whether `notice` may still go (:func:`may_go`: planned again for `phone` it gets sends of its own, however
    many the old number used, unless rewritten :data:`FRESH_REWRITES` times already and out of sends: no send
    would take it) and `phone` is a mobile number other than the one it holds (none, a malformed one, one 空号 was
    said of, or the person's old number)."""
    sends_left = notice.attempts < MAX_SENDS or notice.version < FRESH_REWRITES
    return may_go(notice) and sends_left and is_mobile(phone) and phone != phone_of(vault, notice)


def dead_number(vault: KeyRing, notice: SmsNotice, phone: str | None) -> str | None:
    """Why `phone` reaches no one, when `notice` drew 空号 at it (:data:`NUMBER_FAILURES`, final for the number:
    a later notice to it is invalid at once, with the same reason); else None."""
    failed = notice.state == NoticeState.INVALID and notice.reason in NUMBER_FAILURES.values()
    return notice.reason if failed and phone is not None and phone == phone_of(vault, notice) else None


def plan_again(session: Session, vault: KeyRing, notice: SmsNotice, kind: str, phone: str,
               values: Mapping[str, str | int]) -> str | None:
    """`notice` for `phone`, another number the source has for the person now (:func:`another_number`), read
    again under the write lock (SQLite) or its row's lock (PostgreSQL) first: invalid, or dead out of sends at
    its old number (:func:`exhausted`), it is planned again as `kind` with `values` (:data:`PLANNED_AGAIN`);
    still to go, it goes to `phone` from now on (:data:`READDRESSED`); else None: another run replanned, maybe
    sent, it since it was read, and planning it again over that send would send it a second time."""
    write_lock(session)
    session.refresh(notice, with_for_update=True)
    if not another_number(vault, notice, phone):
        return None
    if notice.state == NoticeState.INVALID or exhausted(notice):
        replan(vault, notice, kind, phone, values)
        return PLANNED_AGAIN
    return READDRESSED if readdress(vault, notice, phone) else None


def readdress(vault: KeyRing, notice: SmsNotice, phone: str) -> bool:
    """A notice still to go (planned, or failed and to be sent again) sent to `phone` from now on, the number the
    source has for the person now, with the values it was sealed with: planned there, the old number's failure
    (关机 …) no longer its reason; False when its seal cannot be opened (the send marks it dead, saying why)."""
    opened = _opened(vault, notice)
    if opened is None or not isinstance(opened.get("values"), Mapping):
        return False
    notice.sealed = _sealed(vault, notice.kind, notice.person_index, notice.period, phone, opened["values"])
    notice.state, notice.reason = NoticeState.PLANNED, None
    _rewritten(notice)
    return True


def values_of(vault: KeyRing, notice: SmsNotice) -> dict[str, str] | None:
    """The template's values `notice` is sealed with (as text); None when its seal cannot be opened."""
    values = (_opened(vault, notice) or {}).get("values")
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else None


def phone_of(vault: KeyRing, notice: SmsNotice) -> str | None:
    """The phone number `notice` is sealed with (None when it has none, or its seal cannot be opened)."""
    phone = (_opened(vault, notice) or {}).get("phone")
    return phone if isinstance(phone, str) else None


def _opened(vault: KeyRing, notice: SmsNotice) -> dict[str, Any] | None:
    try:
        return open_envelope(vault, json.loads(notice.sealed), _aad(notice.kind, notice.person_index, notice.period))
    except (RejectedError, ValueError):
        return None


def _sealed(vault: KeyRing, kind: str, person_index: str, period: str, phone: str | None,
            values: Mapping[str, str | int]) -> str:
    payload = {"phone": phone, "values": {k: str(v) for k, v in values.items()}}
    return json.dumps(seal(vault, payload, _aad(kind, person_index, period)))


def key(notice: SmsNotice) -> str:
    """The idempotency key of the notice's next send (the same until a send is noted or the notice is rewritten):
    from what the notice is (kind, person's blind index, period), not its row id, which a ledger restored from a
    backup gives again to another person's notice planned after it; and its version, when rewritten (a notice as
    first planned keeps the key it had before versions were kept)."""
    version = f"-v{notice.version}" if notice.version else ""
    return f"N{sm3_hex(_aad(notice.kind, notice.person_index, notice.period).encode())[:32]}{version}-{notice.attempts}"


@dataclass
class NoticeResult:
    sent: int = 0
    deferred: int = 0
    invalid: int = 0
    dead: int = 0
    delivered: int = 0
    failed: int = 0
    stopped_by: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _message(vault: KeyRing, book: Any, n: SmsNotice) -> SmsMessage | str:
    """The message to send, or why it cannot be made (a reason without personal data). A template the hub
    cannot fill (a ConfigError: templates.yaml and the hub disagree) is not the notice's fault: it is raised,
    stopping the run with nothing written, to be sent once the templates are fixed."""
    try:
        opened = open_envelope(vault, json.loads(n.sealed), _aad(n.kind, n.person_index, n.period))
        return compose(book, n.kind, key(n), opened.get("phone"), **opened["values"])
    except RejectedError as exc:  # its Chinese reason: a sealed payload's error message is the crypto layer's English
        return redact_text(exc.reason or str(exc))[:300]


def _note(n: SmsNotice, outcome: Outcome, message_id: str | None, reason: str | None,
          not_before: datetime | None, result: NoticeResult, now: datetime) -> None:
    if outcome.sent:
        n.state, n.message_id, n.sent_at, n.attempts = NoticeState.SENT, message_id, now, n.attempts + 1
        n.sends += 1
        result.sent += 1
    elif outcome is Outcome.DEFERRED:  # quiet hours: the connector says until when (aware; the ledger is naive UTC)
        later = not_before or now
        n.not_before = later.astimezone(UTC).replace(tzinfo=None) if later.tzinfo else later
        result.deferred += 1
    elif outcome is Outcome.INVALID_PHONE:
        n.state, n.reason = NoticeState.INVALID, said(reason) if reason else "手机号码无效或缺失"
        result.invalid += 1
    else:
        n.state, n.reason = NoticeState.DEAD, said(reason) if reason else "短信网关拒收"  # the gateway's words
        result.dead += 1


def _as_read(session: Session, notice_id: int, read: tuple[int, int]) -> SmsNotice | None:
    """The notice, locked, while still due with the sends and the version it had when read (`read`); None when
    another run noted a send of it meanwhile (an answer to ours — duplicate — then tells nothing new and must not
    count a send), or rewrote it (the answer is of a version no longer to go: the new one is still to be sent)."""
    n = session.get(SmsNotice, notice_id, with_for_update=True)
    return n if n is not None and n.state in DUE and (n.attempts, n.version) == read else None


def _sent_all_the_same(session: Session, notice_id: int) -> None:
    """A send the gateway took afresh of a version rewritten since it was read: not noted (the new version is still
    to go), but a message went out, and the operator's count of sends (``sends``) says so."""
    n = session.get(SmsNotice, notice_id)  # locked by _as_read
    if n is not None:
        n.sends += 1


def _setup_fault(answer: SmsResult, result: NoticeResult) -> bool:
    """Whether `answer` refuses the message for the hub's setup (:data:`SETUP_REFUSALS`); the run's stop says why."""
    if answer.outcome is not Outcome.REFUSED or answer.code not in SETUP_REFUSALS:
        return False
    result.stopped_by = result.stopped_by or (
        f"短信网关拒收（{answer.code}）：{said(answer.reason or '')}；短信未标记失败，请核对 schemas/sms/templates.yaml"
        f" 的 signature、max_chars 与网关的报备后重新运行 (the gateway refuses our setup: nothing was marked dead)")
    return True


def send_due(gateway: SmsGateway, book: Any, ledger_url: str, keys_dir: Path, limit: int = 500) -> NoticeResult:
    """Send what is due (module docstring); counts only."""
    sessions, vault, result, now = session_factory(ledger_url), load_ring(keys_dir, VAULT), NoticeResult(), utcnow()
    with sessions() as session:
        due = list(session.scalars(select(SmsNotice).where(SmsNotice.state.in_(DUE), SmsNotice.not_before <= now,
                                                           SmsNotice.attempts < MAX_SENDS)
                                   .order_by(SmsNotice.id).limit(limit)))
        made, read = {n.id: _message(vault, book, n) for n in due}, {n.id: (n.attempts, n.version) for n in due}
    ready = [(i, m) for i, m in made.items() if isinstance(m, SmsMessage)]
    try:
        answers = gateway.send([m for _, m in ready]) if ready else []
    except LianbanError as exc:
        result.stopped_by = redact_text(str(exc))[:300]
        answers = []
    with sessions.begin() as session:
        for (notice_id, _), answer in zip(ready, answers, strict=False):
            if _setup_fault(answer, result):
                continue
            n = _as_read(session, notice_id, read[notice_id])
            if n is not None:
                _note(n, answer.outcome, answer.message_id, answer.reason, answer.not_before, result, now)
            elif answer.outcome is Outcome.ACCEPTED:  # a version rewritten meanwhile went out all the same
                _sent_all_the_same(session, notice_id)
        for notice_id, why in ((i, m) for i, m in made.items() if isinstance(m, str)):
            n = _as_read(session, notice_id, read[notice_id])
            if n is not None:
                n.state, n.reason = NoticeState.DEAD, f"无法生成短信：{why}"
                result.dead += 1
    return result


def collect_receipts(gateway: SmsGateway, ledger_url: str) -> NoticeResult:
    """Delivery receipts of every sent notice (module docstring); counts only."""
    sessions, result, now = session_factory(ledger_url), NoticeResult(), utcnow()
    with sessions() as session:
        waiting = {n.message_id: n.id for n in session.scalars(select(SmsNotice).where(
            SmsNotice.state == NoticeState.SENT, SmsNotice.message_id.is_not(None)))}
    try:
        receipts = gateway.receipts([m for m in waiting if m]) if waiting else []
    except LianbanError as exc:
        result.stopped_by = redact_text(str(exc))[:300]
        return result
    with sessions.begin() as session:
        for r in receipts:
            n = session.get(SmsNotice, waiting.get(r.message_id, -1), with_for_update=True)
            if n is None or r.state is DeliveryState.PENDING or not _awaits(n, r.message_id):
                continue
            if r.state is DeliveryState.DELIVERED:
                n.state, n.delivered_at = NoticeState.DELIVERED, now
                result.delivered += 1
                continue
            _failed(session, n, r)
            result.failed += 1
        _unconfirmed(session, now, result)
    return result


def _failed(session: Session, n: SmsNotice, r: DeliveryReceipt) -> None:
    """`n` after the receipt `r` said its delivery failed: sent again while sends are left, or not (module
    docstring); never when a later notice tells what it told, updated (:func:`_superseded`)."""
    if r.code in NUMBER_FAILURES:  # to go again to another number: not when a later notice tells it, updated
        n.state, n.reason = (NoticeState.DEAD, SUPERSEDED) if _superseded(session, n) else (
            NoticeState.INVALID, NUMBER_FAILURES[r.code])
        return
    n.reason = said(r.reason) if r.reason else "未能送达"
    if r.code in FINAL_FAILURES:  # the person refused our messages: never sent again, to any number
        n.state = NoticeState.DEAD
    elif _superseded(session, n):
        n.state, n.reason = NoticeState.DEAD, SUPERSEDED
    elif n.attempts < MAX_SENDS:
        n.state = NoticeState.FAILED
    else:  # out of sends: it goes again only to another number
        n.state, n.reason = NoticeState.DEAD, f"{EXHAUSTED}：{n.reason}；人社登记新号码后改发新号码"


def _superseded(session: Session, n: SmsNotice) -> bool:
    """Whether a later 待遇告知 of `n`'s person and award tells what `n` told, updated (重新核定: its period is
    ``n's start month/k``, lianban.pipeline.pensions)."""
    if n.kind not in PENSION_KINDS:
        return False
    later = select(SmsNotice.id).where(SmsNotice.kind == PENSION_REVISED, SmsNotice.person_index == n.person_index,
                                       SmsNotice.period.startswith(f"{n.period.split('/')[0]}/"), SmsNotice.id > n.id)
    return session.scalars(later.limit(1)).first() is not None


def _unconfirmed(session: Session, now: datetime, result: NoticeResult) -> None:
    """Every notice still waiting for its receipt :data:`RECEIPT_WAIT` after its send: dead, with why."""
    stale = select(SmsNotice).where(SmsNotice.state == NoticeState.SENT, SmsNotice.sent_at < now - RECEIPT_WAIT)
    for n in session.scalars(stale.with_for_update()):
        n.state, n.reason = NoticeState.DEAD, UNCONFIRMED
        result.dead += 1


def _awaits(n: SmsNotice, message_id: str) -> bool:
    """Whether `n` still waits for the receipt of `message_id`: another run may have read it meanwhile and sent
    the notice again (a receipt of the earlier send then tells nothing about the notice)."""
    return n.state == NoticeState.SENT and n.message_id == message_id


@dataclass(frozen=True)
class Listed:
    """One notice as an operator sees it (no phone, no name: the person's blind index shortened)."""

    id: int
    kind: str
    period: str
    person: str
    state: str
    sends: int  # every send, to any number it held
    sends_here: int  # those of the version it holds now (its number, its values): MAX_SENDS bound these
    reason: str | None
    created_at: str  # Beijing time, with its offset (the ledger's naive UTC)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def listed(ledger_url: str, states: Sequence[str] = ()) -> list[Listed]:
    """Every notice (those in `states` only, when given), oldest first."""
    query = select(SmsNotice).order_by(SmsNotice.id)
    if states:
        query = query.where(SmsNotice.state.in_(list(states)))
    with session_factory(ledger_url)() as session:
        return [Listed(n.id, n.kind, n.period, n.person_index[:8], n.state, n.sends, n.attempts, n.reason,
                       beijing_text(n.created_at))
                for n in session.scalars(query)]
