"""The connector contract: what every department connector does, and the messages it exchanges.

A department connector (``connectors/<dept>/``) is one class satisfying :class:`DepartmentConnector`;
the 皖事通办 connector satisfies :class:`StatusSink`. Both receive their transport (a ``requests.Session``
or a zeep client built by :mod:`lianban.wire.transport`) by injection. Failures are raised as the error tree
in :mod:`lianban.errors`; a per-record refusal is a :class:`Receipt` with ``accepted=False``.

"Delivery" means one row of the ledger's outbox; what a connector carries on the wire is a
:class:`SealedItem`. The registry hands the pipeline a :class:`Peer`: the connector together with the
proofs its transport keeps of every verified answer, which the pipeline passes to the evidence log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

from lianban.domain.clock import AHEAD_ALLOWED, ahead, explicit, moment_of
from lianban.domain.identity import code_shown, redact_text
from lianban.domain.statuses import Status
from lianban.errors import FatalError
from lianban.wire.signatures import Proof

#: an item's envelope within its sealed batch, or the batch's signed header (lianban.crypto.batch): text and whole
#: numbers only
Envelope = dict[str, str | int]


@dataclass(frozen=True)
class SealedItem:
    """One sealed case item on its way to a department, within one sealed batch."""

    idempotency_key: str
    case_no: str  # 办件编号
    item_code: str  # 事项编码
    envelope: Envelope  # this item's envelope within its batch (lianban.crypto.batch)


@dataclass(frozen=True)
class SentBatch:
    """A sealed batch as it went out, as the evidence log digests it: the SM3 of its canonical JSON (every field
    under its name, keys sorted, :func:`lianban.ledger.evidence.body_of`), which anyone can rebuild from the
    header and the items sent."""

    seal: Envelope  # the batch's signed header
    items: list[SealedItem] | list[SupplementItem]


#: The longest department reference and department code the ledger keeps (``deliveries.receipt_ref``,
#: ``status_events.department_code``); a connector reads an answer carrying a longer one as malformed.
MAX_REF_LENGTH = 64
MAX_CODE_LENGTH = 16


@dataclass(frozen=True)
class Receipt:
    """The department's answer for one sealed item."""

    idempotency_key: str
    accepted: bool
    duplicate: bool = False
    department_ref: str | None = None  # the department's own case number
    status: Status | None = None  # unified status the department reported on receipt
    department_code: str | None = None  # the department's own status/error code
    reason: str | None = None  # Chinese reason when refused
    #: refused because the department could not open the sealed item (decryption or integrity: its code for
    #: lianban.crypto.batch's SEAL), never the applicant's fault: sent again, sealed anew, not 不予受理
    unopened: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """A department's current status for one delivered case item."""

    idempotency_key: str
    status: Status
    department_code: str
    changed_at: str  # ISO-8601
    reason: str | None = None
    #: the outcome the department reports with this status (lianban.domain.results: items 12, 13, 14); personal
    materials: tuple[str, ...] = ()  # 补正资料: the materials asked for, by catalog code (M01–M15)
    result: Mapping[str, str] | None = None


#: the years a status row's ``changed_at`` may fall in: outside them it is a department's mistake, not a time
CHANGED_AT_YEARS = range(2000, 2101)
#: how far ahead of the hub's clock a ``changed_at`` may be (:data:`lianban.domain.clock.AHEAD_ALLOWED`)
CHANGED_AT_AHEAD = AHEAD_ALLOWED


def read_changed_at(value: Any) -> str:
    """A status row's ``changed_at`` as the ledger keeps it: ISO 8601 text in :data:`CHANGED_AT_YEARS`, at most
    :data:`CHANGED_AT_AHEAD` ahead of the hub's clock, with its offset (a department's time without one is Beijing
    time: :func:`~lianban.domain.clock.explicit` gives it its ``+08:00``); anything else → ValueError (the row
    cannot be read; the message quotes no value). A row refused for a time ahead is read again when asked again
    (a poll's next run), and kept once that time has come."""
    if not isinstance(value, str):
        raise ValueError("changed_at 不是 ISO 8601 文本 (changed_at is not ISO 8601 text)")
    try:
        year = datetime.fromisoformat(value).year
    except ValueError:
        raise ValueError("changed_at 不是 ISO 8601 时间 (changed_at is not ISO 8601)") from None
    if year not in CHANGED_AT_YEARS:
        raise ValueError(f"changed_at 年份不在 {CHANGED_AT_YEARS[0]}–{CHANGED_AT_YEARS[-1]} 年内 "
                         f"(changed_at year out of range)")
    if ahead(moment_of(value)):
        raise ValueError(f"changed_at 晚于中枢当前时间超过 {CHANGED_AT_AHEAD.seconds // 60} 分钟，请部门核对服务器时钟"
                         f"与时区 (changed_at is in the future)")
    return explicit(value)


class UnknownStatusCode(FatalError):
    """A department status code its connector's table lacks: the table is fixed, not the row. A poll sets the
    row aside with this message, which names the table (:func:`read_polled`; the item is asked again next run,
    so once the table has the code its status is recorded); an accepted receipt carrying one is taken without
    a status (:func:`known_status`)."""


def shown_status_code(code: Any) -> str:
    """A status code the table lacks as :class:`UnknownStatusCode` may quote it (logged, alerted, the task's
    error): each character outside ASCII starred and ID- and mobile-number-shaped runs masked, as when the
    department's fields slipped and the applicant's name or number came where its code belongs."""
    return code_shown(str(code))


@dataclass(frozen=True)
class UnreadableStatus:
    """A row of a poll answer that cannot be read (an unknown material code, a ``result`` that is not an object,
    a ``changed_at`` that is not ISO 8601 …): set aside with why, while the rest of the answer is applied."""

    idempotency_key: str  # as the row gave it ("" when it gave none): a hash, which may be logged
    reason: str  # Chinese, naming no personal data
    unknown_code: bool = False  # its status code is missing from the connector's table (UnknownStatusCode)


Polled = StatusUpdate | UnreadableStatus


def read_polled(read: Callable[[Any], StatusUpdate], row: Any) -> Polled:
    """`row` of a poll answer read by `read`, or set aside when it cannot be (an unknown status code among
    them: :class:`UnknownStatusCode`, whose message names the table to fix)."""
    try:
        return read(row)
    except UnknownStatusCode as exc:
        return UnreadableStatus(_row_key(row), _said(str(exc)), unknown_code=True)
    except FatalError as exc:
        return UnreadableStatus(_row_key(row), _said(str(exc)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return UnreadableStatus(_row_key(row), _said(f"状态记录不符合接口规范（{type(exc).__name__}: {exc}）"))


#: the longest reason a row set aside keeps: it quotes what the department sent (a code, a value), which can be
#: anything, of any length
REASON_MAX = 300


def _said(reason: str) -> str:
    """A set-aside row's reason as logged and raised: ID- and mobile-number-shaped runs masked, then cut."""
    return redact_text(reason)[:REASON_MAX]


def known_status(status: Callable[[str], Status], code: str) -> Status | None:
    """An accepted receipt's status, as `status` reads `code`; None for a code the connector's table lacks: the
    department took the item, which is what a receipt settles, and its status comes with the next poll (where an
    unknown code is set aside and alerted, naming the table, until the table has it)."""
    try:
        return status(code)
    except UnknownStatusCode:
        return None


def _row_key(row: Any) -> str:
    key = row.get("idempotency_key") if isinstance(row, Mapping) else getattr(row, "idempotencyKey", None)
    return str(key or "")[:128]


@dataclass(frozen=True)
class PaymentOrder:
    """A payment the hub asks HRSS to make (item 13: the reward health found due), once per case item."""

    request_no: str  # 请求号: stable for the case item, so asking again is recognised
    case_no: str
    item_code: str
    amount: str  # 元, two decimals


@dataclass(frozen=True)
class SupplementItem:
    """One 补正 submission on its way to the department that asked for it, within one sealed batch: the
    applicant's ``{materials, supplied_at}`` sealed like a delivery, bound to
    :func:`lianban.wire.ids.supplement_aad`. The department answers one :class:`Receipt` per item whose
    ``idempotency_key`` is the ``supplement_id`` (a supplement id it has seen is answered ``duplicate``)."""

    idempotency_key: str  # of the delivery the supplement belongs to
    supplement_id: str  # the supplement's own idempotency key (lianban.wire.ids.supplement_id)
    case_no: str  # 办件编号
    item_code: str  # 事项编码
    envelope: Envelope  # this supplement's envelope within its batch (lianban.crypto.batch)


@dataclass(frozen=True)
class HealthReport:
    """The answer to "can we work with this party now?": ``ok``, and why, in a sentence an operator can act
    on (unreachable, credentials refused, contract broken … and what to check)."""

    ok: bool
    detail: str


class CaseRecord(msgspec.Struct, frozen=True):
    """The case-level 办件 record as it stood right after one status change (sent to 皖事通办 with it).

    Everything is derived from the ledger, so re-sending the same change sends the same record. ``dataver``
    is the case's version at that change (the change's ordinal among the case's status events by id). A frozen
    msgspec struct, as :class:`ProgressEvent` is."""

    case_no: str  # 办件编号
    region_code: str  # the case's 6-digit 区划代码 (Case.region_code)
    accepted_at: str  # 受理时间 (Case.approved_at), ISO-8601 with offset
    time_limit_days: int  # 承诺时限 in working days: the longest limit among the case's items
    status: Status  # the case status the items add up to (lianban.domain.status_machine)
    dataver: int
    done_at: str | None = None  # 办结时间: once every item is final, the latest final status time
    refused_items: int = 0  # items that ended 不予受理 or 审核不通过 (a case done only in part says so)


class ProgressEvent(msgspec.Struct, frozen=True):
    """One status change of one case item, as reported to 皖事通办 (ordered by ``event_id``).

    ``dataver`` increases per case with every change and is the same whenever the change is re-sent;
    ``materials`` names the materials to supplement (补正材料, for 补正资料); ``result`` is a short Chinese
    summary of the outcome where one exists; ``case`` is the case record as of this change. A frozen msgspec
    struct, not a dataclass: a report run makes one per event and encodes each twice (the push's evidence body
    and the trip from its reader process), and a struct is made in a third of the time and encoded in a fifth
    (measured over the status sweep's 272,912 events: 1.6 → 0.6 s and 0.9 → 0.16 s)."""

    event_id: int
    case_no: str
    item_code: str
    department: str
    status: Status
    changed_at: str
    reason: str | None = None
    dataver: int = 1
    due_date: str | None = None  # 承诺办结日期 (ISO date), once the item's clock has started
    materials: tuple[str, ...] = ()
    result: str | None = None
    case: CaseRecord | None = None


@dataclass(frozen=True)
class PushResult:
    """What 皖事通办 acknowledged for one push: events new to it, and events it already had (both count
    as acknowledged; the hub marks a pushed batch reported only when the two add up to what it sent)."""

    accepted: int
    duplicates: int


@runtime_checkable
class StatusReader(Protocol):
    """A connector whose department may also push status changes to the hub (``lianban serve``'s callbacks):
    it reads one pushed row with the same mapping tables as its poll answers."""

    department: str

    def read_status(self, row: Mapping[str, Any]) -> StatusUpdate:
        """One status row as the department sends it (the shape of its poll answer's rows) → a status update;
        FatalError naming the table to fix when a code is unknown (:class:`UnknownStatusCode` for a status
        code), KeyError/TypeError/ValueError when the row is not the agreed shape (a ``changed_at`` not read by
        :func:`read_changed_at` among them)."""
        ...


@runtime_checkable
class DepartmentConnector(Protocol):
    """submit a sealed batch → receipts; poll delivered keys → status updates; supplement a sealed batch of
    补正 submissions → receipts; health → why."""

    department: str
    #: the department's status code → unified status (``connectors/<dept>/statuses.py`` ``STATUSES``)
    statuses: Mapping[str, Status]

    def submit(self, batch: Sequence[SealedItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """Send one sealed batch: `seal` is its envelope header (lianban.crypto.batch), sent with it.

        One receipt per item the department answered for; resending the same items is safe (the department
        answers ``duplicate=True``). A batch refused whole raises RejectedError; a transient failure
        RetriableError; a setting to fix ConfigError."""
        ...

    def poll(self, keys: Sequence[str]) -> Sequence[Polled]:
        """The current status of each idempotency key the department knows, in any order; keys it does not
        know are left out (never an error). Any number of keys: the connector pages and chunks itself. A row
        that cannot be read is an :class:`UnreadableStatus` in its place (:func:`read_polled`): it never stops
        the rows around it; an answer whose envelope is broken raises."""
        ...

    def supplement(self, batch: Sequence[SupplementItem], seal: Mapping[str, Any]) -> list[Receipt]:
        """Send one sealed batch of 补正 submissions (`seal` as for :meth:`submit`): one receipt per item,
        keyed by its ``supplement_id``; resending is safe (``duplicate=True``). Errors as for :meth:`submit`."""
        ...

    def health(self) -> HealthReport:
        """Reachable and accepting our credentials, tried without side effects; never raises."""
        ...


@runtime_checkable
class StatusSink(Protocol):
    """The provincial platform side: receives ordered progress events, each with its case's record."""

    def push(self, events: Sequence[ProgressEvent]) -> PushResult:
        """Send `events` in order (in as many requests as the platform needs), each request with the newest
        :class:`CaseRecord` its events carry per case; pushing an event twice is safe."""
        ...

    def health(self) -> HealthReport:
        """Reachable and accepting our credentials, tried without side effects; never raises."""
        ...


@runtime_checkable
class EncodingSink(StatusSink, Protocol):
    """A sink whose request bodies can be built ahead of the push, elsewhere: the report builds the next batch's
    in its reader process while this one is on the wire, off the pushing process's critical path."""

    def encoder(self) -> Callable[[Sequence[ProgressEvent]], list[bytes]]:
        """A picklable function giving the request bodies :meth:`push` would send for the events, in order."""
        ...

    def push_encoded(self, bodies: Sequence[bytes]) -> PushResult:
        """Send bodies :meth:`encoder` built, in order, as :meth:`push` sends its own."""
        ...


class ProofSource(Protocol):
    """Where the proofs of verified answers wait for the pipeline (:class:`lianban.wire.signatures.AnswerCheck`)."""

    def take(self) -> list[Proof]: ...


class NoProofs:
    """For a connector whose answers are not signed (tests with a hand-built transport): nothing to take."""

    def take(self) -> list[Proof]:
        return []


C = TypeVar("C", DepartmentConnector, StatusSink)


def _unpaced() -> None:
    """No client-side rate limit: nothing to wait for."""


@dataclass(frozen=True)
class Peer(Generic[C]):
    """A connector as the registry built it, with the proofs its transport keeps of every answer it
    verified: after each call, the pipeline takes them and records one evidence entry per wire exchange.
    `pace` waits until the department's rate limit lets the next request go (without taking its turn): the
    pipeline calls it before sealing a batch, so a batch is never sealed and then held back until it is stale."""

    connector: C
    proofs: ProofSource
    pace: Callable[[], None] = _unpaced
