"""The connector contract: what every department connector does, and the messages it exchanges.

A department connector (``connectors/<dept>/``) is one class satisfying :class:`DepartmentConnector`;
the 皖事通办 connector satisfies :class:`StatusSink`. Both receive their transport (a ``requests.Session``
or a zeep client built by :mod:`lianban.wire.transport`) by injection. Failures are raised as the error tree
in :mod:`lianban.errors`; a per-record refusal is a :class:`Receipt` with ``accepted=False``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lianban.domain.statuses import Status


@dataclass(frozen=True)
class Delivery:
    """One sealed case item on its way to a department (one row of the ledger's outbox)."""

    idempotency_key: str
    case_no: str  # 办件编号
    item_code: str  # 事项编码
    envelope: dict[str, Any]  # this item's envelope within its batch (lianban.crypto.batch)


@dataclass(frozen=True)
class Receipt:
    """The department's answer for one delivery."""

    idempotency_key: str
    accepted: bool
    duplicate: bool = False
    department_ref: str | None = None  # the department's own case number
    status: Status | None = None  # unified status the department reported on receipt
    department_code: str | None = None  # the department's own status/error code
    reason: str | None = None  # Chinese reason when refused


@dataclass(frozen=True)
class StatusUpdate:
    """A department's current status for one delivered case item."""

    idempotency_key: str
    status: Status
    department_code: str
    changed_at: str  # ISO-8601
    reason: str | None = None


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    detail: str  # why, in a sentence an operator can act on


@dataclass(frozen=True)
class ProgressEvent:
    """One status change of one case item, as reported to 皖事通办 (ordered by ``event_id``)."""

    event_id: int
    case_no: str
    item_code: str
    department: str
    status: Status
    changed_at: str
    reason: str | None = None


@dataclass(frozen=True)
class PushResult:
    accepted: int
    duplicates: int


@runtime_checkable
class DepartmentConnector(Protocol):
    """submit a sealed batch → receipts; poll delivered keys → status updates; health → why."""

    department: str

    def submit(self, batch: Sequence[Delivery], seal: Mapping[str, Any]) -> list[Receipt]:
        """Send one sealed batch: `seal` is its envelope header (lianban.crypto.batch), sent with it."""
        ...

    def poll(self, keys: Sequence[str]) -> list[StatusUpdate]: ...

    def health(self) -> HealthReport: ...


@runtime_checkable
class StatusSink(Protocol):
    """The provincial platform side: receives ordered progress events."""

    def push(self, events: Sequence[ProgressEvent]) -> PushResult: ...

    def health(self) -> HealthReport: ...
