"""The SMS gateway contract: what the hub asks an SMS gateway to send, and what it hears back.

A sender (the 到龄提醒 and 待遇告知 jobs, the 联络员 alerts) composes :class:`SmsMessage` values with
:func:`compose` and hands them to an :class:`SmsGateway` (``connectors/sms``). Each message carries an
``idempotency_key`` *chosen by the caller* — the notice ledger derives it from the notice (person by blind
index × kind × period), so a resend after a crash is answered duplicate by the gateway and never reaches the
phone twice. The key is 1–64 characters ``[A-Za-z0-9_.:-]`` and holds no personal data.

Per message the gateway side answers one :class:`SmsResult`::

    outcome         sent?   what the caller does
    accepted        yes     keep message_id; ask for its delivery receipt later
    duplicate       yes     the key was sent before: keep message_id (the first message's), nothing went out
    deferred        no      quiet hours: hold it, send again at not_before (08:00 Asia/Shanghai)
    invalid_phone   no      missing or malformed mobile number: report it (reason), do not retry as is
    refused         no      the hub or the gateway refused the text (code, reason): report it, do not retry

and later one :class:`DeliveryReceipt` per message id: ``pending`` (ask again), ``delivered`` or ``failed`` (with
the operator's reason, e.g. 空号): a failed delivery may be retried under a *new* key, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from lianban.domain.sms import QuietHours, TemplateBook
from lianban.wire.contract import HealthReport

__all__ = ["MESSAGE_ID_MAX", "DeliveryReceipt", "DeliveryState", "Outcome", "SmsGateway", "SmsMessage", "SmsResult",
           "compose"]

MESSAGE_ID_MAX = 64  # the longest gateway message id the ledger keeps (sms_notices.message_id)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    DEFERRED = "deferred"
    INVALID_PHONE = "invalid_phone"
    REFUSED = "refused"

    @property
    def sent(self) -> bool:
        """The gateway holds the message (now or from an earlier send)."""
        return self in (Outcome.ACCEPTED, Outcome.DUPLICATE)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"

    def is_terminal(self) -> bool:
        return self is not DeliveryState.PENDING


@dataclass(frozen=True)
class SmsMessage:
    """One text to one phone; its repr shows neither (log the key, never the message)."""

    idempotency_key: str  # chosen by the caller, see the module docstring
    phone: str | None = field(repr=False)  # 11-digit mainland mobile number; None when the register has none
    text: str = field(repr=False)  # rendered, signature included (lianban.domain.sms.TemplateBook.render)
    template: str  # the template key, for the gateway's records
    quiet_hours: QuietHours = QuietHours.RESPECT


@dataclass(frozen=True)
class SmsResult:
    """What became of one message at send time; ``reason`` is Chinese and holds no personal data."""

    idempotency_key: str
    outcome: Outcome
    message_id: str | None = None  # the gateway's id, when sent
    code: str | None = None  # the refusal code (PHONE, ID_NUMBER, TOO_LONG, SIGNATURE …)
    reason: str | None = None
    not_before: datetime | None = None  # deferred: the earliest send time
    segments: int = 0  # sent: the segments the operator bills (lianban.domain.sms.segments)


@dataclass(frozen=True)
class DeliveryReceipt:
    """The operator's word on one sent message."""

    message_id: str
    state: DeliveryState
    code: str | None = None  # the failure code (EMPTY_NUMBER …)
    reason: str | None = None  # Chinese, e.g. 空号
    changed_at: str | None = None  # ISO-8601, when the state was reached


@runtime_checkable
class SmsGateway(Protocol):
    """What every SMS connector does; failures are the error tree of :mod:`lianban.errors`."""

    def send(self, messages: Sequence[SmsMessage]) -> list[SmsResult]:
        """One result per message, in order."""
        ...

    def receipts(self, message_ids: Sequence[str]) -> list[DeliveryReceipt]:
        """Delivery receipts of the ids the gateway knows."""
        ...

    def health(self) -> HealthReport: ...


def compose(book: TemplateBook, template: str, idempotency_key: str, phone: str | None,
            **values: str | int) -> SmsMessage:
    """The message for `template` rendered with `values` (raises what :meth:`TemplateBook.render` raises),
    carrying the template's quiet-hours policy."""
    return SmsMessage(idempotency_key, phone, book.render(template, **values), template,
                      book[template].quiet_hours)
