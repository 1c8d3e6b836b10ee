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

The keys a push uses (the ``vault`` ring sealing 办理结果, the ``evidence`` chain key, the hub's signing keys) are
read again whenever one of their files changed (``lianban keys rotate``, ``activate``, ``retire``): a running API
takes a rotated or activated key at its next push, no restart.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lianban.crypto.suites import SUITES, Suite, get_suite
from lianban.errors import FatalError
from lianban.keys import keysets
from lianban.keys.names import EVIDENCE, VAULT, hub_signing_name, suite_of
from lianban.keys.rings import KeyRing, load_ring, rings_stamp
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
#: the key files a push uses that `lianban keys` may change: two rings, and each suite's hub signing key set
#: (whose private file, ``<name>.json``, sits where a ring's does, so rings_stamp sees it change)
_ROTATED = (VAULT, EVIDENCE, *(hub_signing_name(suite) for suite in sorted(SUITES)))


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


@dataclass
class _Keys:
    """The keys one push uses, read together (a push started before a rotation finishes with the keys it began)."""

    vault: KeyRing
    log: EvidenceLog
    signers: dict[str, tuple[Suite, str, bytes]]  # by suite, read at its first use


class CallbackDesk:
    """Takes pushed status changes into one ledger with the keys of one installation."""

    def __init__(self, ledger_url: str, keys_dir: Path) -> None:
        self._sessions = session_factory(ledger_url)
        self._keys_dir = keys_dir
        self._stamp: tuple[tuple[int, int, int] | None, ...] | None = None
        self._keys = self._read_keys()

    def _read_keys(self) -> _Keys:
        """The keys of the next push: read again when one of their files changed since they were read."""
        stamp = rings_stamp(self._keys_dir, _ROTATED)
        if stamp != self._stamp:
            self._keys = _Keys(load_ring(self._keys_dir, VAULT), EvidenceLog.load(self._keys_dir), {})
            self._stamp = stamp
        return self._keys

    def take(self, callback: Callback, reader: StatusReader) -> Pushed:
        """Record what `callback` says (see the module docstring) and the signed answer; one transaction."""
        keys = self._read_keys()
        read = [_read(reader, row) for row in callback.rows]
        with self._sessions.begin() as session:
            delivered = delivered_keys(session, callback.department, [_key(r) for r in callback.rows])
            case_nos = sorted({delivered[u.idempotency_key][1] for u in read
                               if isinstance(u, StatusUpdate) and u.idempotency_key in delivered})
            items = item_rows(session, {delivered[u.idempotency_key][0] for u in read
                                        if isinstance(u, StatusUpdate) and u.idempotency_key in delivered},
                              lock=True)  # the items before the evidence log (lianban.ledger.evidence: lock order)
            book = StatusBook(session)
            answers = [self._apply(book, keys.vault, callback.department, delivered, items, row, u)
                       for row, u in zip(callback.rows, read, strict=True)]
            keys.log.received_signed(session, callback.department, "status", case_nos, callback.body_digest,
                                     callback.signature, callback.app_id)
            book.write()
            pushed = self._answer(keys, callback, answers)
            keys.log.sent(session, callback.department, ACK_KIND, case_nos, pushed.body, pushed.signature,
                          parse_header(pushed.signature)["kid"])
        return pushed

    @staticmethod
    def _apply(book: StatusBook, vault: KeyRing, department: str, delivered: dict[str, tuple[int, str]],
               items: dict[int, ItemRow], row: Mapping[str, Any], update: StatusUpdate | str) -> _Row:
        if isinstance(update, str):
            return _Row(_key(row), Outcome.REFUSED, update)
        known = delivered.get(update.idempotency_key)
        item = items.get(known[0]) if known else None
        if item is None or known is None:
            return _Row(update.idempotency_key, Outcome.UNKNOWN, NOT_DELIVERED)
        sealed = seal_result(vault, known[1], item.item_code, department, update.result)
        changed = book.record(item, update.status, department, code=update.department_code, reason=update.reason,
                              changed_at=update.changed_at, result=sealed, materials=update.materials)
        return _Row(update.idempotency_key, Outcome.RECORDED if changed else Outcome.UNCHANGED)

    def _answer(self, keys: _Keys, callback: Callback, rows: list[_Row]) -> Pushed:
        counts = {o.value: sum(1 for r in rows if r.outcome == o) for o in Outcome}
        body = json.dumps({"received": len(rows), **counts, "results": [asdict(r) for r in rows]},
                          ensure_ascii=False, separators=(",", ":")).encode()
        suite, kid, private = self._signer(keys, suite_of(callback.department))
        path = callback.path.partition("?")[0]  # an answer's signature covers its path, not the request's query
        return Pushed(body, sign(suite, kid, private, 200, path, body, callback.body_digest))

    def _signer(self, keys: _Keys, suite_name: str) -> tuple[Suite, str, bytes]:
        """The hub's active signing key for `suite_name`, read from the keys folder once per reading of the keys."""
        if suite_name not in keys.signers:
            kid, private = keysets.load(self._keys_dir, hub_signing_name(suite_name)).active_private()
            keys.signers[suite_name] = (get_suite(suite_name), kid, private)
        return keys.signers[suite_name]


def _read(reader: StatusReader, row: Mapping[str, Any]) -> StatusUpdate | str:
    """The row as a status update, or why it cannot be read (a Chinese reason naming no personal data)."""
    try:
        return reader.read_status(row)
    except FatalError as exc:
        return str(exc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"状态记录不符合接口规范（{type(exc).__name__}），请核对字段 idempotency_key、code、changed_at"
