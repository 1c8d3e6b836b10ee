"""一体反馈 pushed: status changes a department sends the hub as they happen (``lianban serve``'s callbacks).

A pushed change goes exactly the way a polled one does (:mod:`lianban.pipeline.feedback`): the same mapping
table read it (the department's connector, :class:`~lianban.wire.contract.StatusReader`), the same status
machine judges it (:func:`lianban.ledger.store.record_status`), the same evidence entry records it (``in``,
kind ``status``), and a change that arrives both ways — pushed, then polled, or the other way round — is one
event: the second is a repeat. Each item row is locked while it is judged, so a poll and a callback for the same
item at the same moment cannot both record it.

Every row gets an answer: ``recorded`` (a new status event), ``unchanged`` (known already, older than what the
hub has, or an illegal move kept aside and alerted, as for a poll), ``unknown`` (no item delivered to this
department has that key) or ``refused`` (the row could not be read: its reason). The answer is signed with the hub's own
signing key for the department's suite and recorded (``out``, kind ``status-ack``) in the same transaction as
the changes, so the log never holds a change without the answer that acknowledged it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lianban.crypto.suites import Suite, get_suite
from lianban.errors import FatalError
from lianban.keys import keysets
from lianban.keys.names import VAULT, hub_signing_name, suite_of
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.results import seal_result
from lianban.ledger.status_book import ItemRow, StatusBook, item_rows
from lianban.pipeline.feedback import delivered_keys
from lianban.wire.contract import StatusReader, StatusUpdate
from lianban.wire.signatures import parse_header, sign

__all__ = ["ACK_KIND", "Callback", "CallbackDesk", "Outcome", "Pushed"]

ACK_KIND = "status-ack"
NOT_DELIVERED = "枢纽没有向本部门投递过该编号的事项（或投递回执尚未记录），请稍后再报"
MAX_ROWS = 1000


class Outcome(enum.StrEnum):
    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"
    REFUSED = "refused"


@dataclass(frozen=True)
class Callback:
    """One authenticated push: who sent it, the rows as sent, and its gateway signature (the evidence)."""

    department: str
    path: str  # as the request was signed: with its query, if any
    rows: Sequence[Mapping[str, Any]]
    body_digest: str  # SM3 of the request body as received
    signature: str  # the request's X-Signature (SM3-HMAC with the department's gateway secret)
    app_id: str


@dataclass(frozen=True)
class Pushed:
    """The hub's signed answer: body bytes and the value of its signature header."""

    body: bytes
    signature: str


@dataclass(frozen=True)
class _Row:
    idempotency_key: str
    outcome: str
    reason: str | None = None


def _key(row: Mapping[str, Any]) -> str:
    return str(row.get("idempotency_key", ""))[:128] if isinstance(row, Mapping) else ""


class CallbackDesk:
    """Takes pushed status changes into one ledger with the keys of one installation."""

    def __init__(self, ledger_url: str, keys_dir: Path) -> None:
        self._sessions = session_factory(ledger_url)
        self._log = EvidenceLog.load(keys_dir)
        self._vault: KeyRing = load_ring(keys_dir, VAULT)
        self._keys_dir = keys_dir
        self._signers: dict[str, tuple[Suite, str, bytes]] = {}

    def take(self, callback: Callback, reader: StatusReader) -> Pushed:
        """Record what `callback` says (see the module docstring) and the signed answer; one transaction."""
        read = [_read(reader, row) for row in callback.rows]
        with self._sessions.begin() as session:
            delivered = delivered_keys(session, callback.department, [_key(r) for r in callback.rows])
            case_nos = sorted({delivered[u.idempotency_key][1] for u in read
                               if isinstance(u, StatusUpdate) and u.idempotency_key in delivered})
            items = item_rows(session, {delivered[u.idempotency_key][0] for u in read
                                        if isinstance(u, StatusUpdate) and u.idempotency_key in delivered},
                              lock=True)  # the items before the evidence log (lianban.ledger.evidence: lock order)
            book = StatusBook(session)
            answers = [self._apply(book, callback.department, delivered, items, row, u)
                       for row, u in zip(callback.rows, read, strict=True)]
            self._log.received_signed(session, callback.department, "status", case_nos, callback.body_digest,
                                      callback.signature, callback.app_id)
            book.write()
            pushed = self._answer(callback, answers)
            self._log.sent(session, callback.department, ACK_KIND, case_nos, pushed.body, pushed.signature,
                           parse_header(pushed.signature)["kid"])
        return pushed

    def _apply(self, book: StatusBook, department: str, delivered: dict[str, tuple[int, str]],
               items: dict[int, ItemRow], row: Mapping[str, Any], update: StatusUpdate | str) -> _Row:
        if isinstance(update, str):
            return _Row(_key(row), Outcome.REFUSED, update)
        known = delivered.get(update.idempotency_key)
        item = items.get(known[0]) if known else None
        if item is None or known is None:
            return _Row(update.idempotency_key, Outcome.UNKNOWN, NOT_DELIVERED)
        sealed = seal_result(self._vault, known[1], item.item_code, department, update.result)
        changed = book.record(item, update.status, department, code=update.department_code, reason=update.reason,
                              changed_at=update.changed_at, result=sealed, materials=update.materials)
        return _Row(update.idempotency_key, Outcome.RECORDED if changed else Outcome.UNCHANGED)

    def _answer(self, callback: Callback, rows: list[_Row]) -> Pushed:
        counts = {o.value: sum(1 for r in rows if r.outcome == o) for o in Outcome}
        body = json.dumps({"received": len(rows), **counts, "results": [asdict(r) for r in rows]},
                          ensure_ascii=False, separators=(",", ":")).encode()
        suite, kid, private = self._signer(suite_of(callback.department))
        path = callback.path.partition("?")[0]  # an answer's signature covers its path, not the request's query
        return Pushed(body, sign(suite, kid, private, 200, path, body))

    def _signer(self, suite_name: str) -> tuple[Suite, str, bytes]:
        """The hub's active signing key for `suite_name`, read from the keys folder once per desk."""
        if suite_name not in self._signers:
            kid, private = keysets.load(self._keys_dir, hub_signing_name(suite_name)).active_private()
            self._signers[suite_name] = (get_suite(suite_name), kid, private)
        return self._signers[suite_name]


def _read(reader: StatusReader, row: Mapping[str, Any]) -> StatusUpdate | str:
    """The row as a status update, or why it cannot be read (a Chinese reason naming no personal data)."""
    try:
        return reader.read_status(row)
    except FatalError as exc:
        return str(exc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"状态记录不符合接口规范（{type(exc).__name__}），请核对字段 idempotency_key、code、changed_at"
