"""The hub's side of the per-batch envelope: re-seal outbox rows for one department, verify its answers.

At rest, the ledger keeps each payload sealed under the hub's own ``vault`` SM4 ring. At delivery, one
batch is opened from the vault and sealed for the department (:func:`lianban.crypto.batch.seal_batch`):
a fresh data key wrapped with the department's public key, the hub's signature over the hash tree. The
department's answers must carry its response signature (:mod:`lianban.response_signing`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from lianban import keystore
from lianban.catalog import load_catalog
from lianban.contract import Delivery
from lianban.crypto.batch import seal_batch
from lianban.crypto.suites import get_suite
from lianban.errors import RejectedError
from lianban.keys import KeyRing, load_ring
from lianban.response_signing import HEADER, ResponseVerifier, parse_header
from lianban.routing import aad
from lianban.sealing import open_envelope, sm3_hex

VAULT = "vault"
SIGNED_METHODS = frozenset({"POST"})


def hub_signing_name(suite: str) -> str:
    """The hub's signing key set for `suite` (one per suite in use)."""
    return f"hub-signing-{suite.lower()}"


def suite_of(department: str) -> str:
    return load_catalog().departments[department].suite


@dataclass(frozen=True)
class Outgoing:
    """One outbox row as deliver hands it over: identity plus its at-rest envelope (JSON text)."""

    idempotency_key: str
    case_no: str
    item_code: str
    at_rest: str


@dataclass(frozen=True)
class SealedOutgoing:
    """One sealed batch: its header, its deliveries, and rows that could not be sealed (key → reason)."""

    seal: dict[str, Any]
    deliveries: list[Delivery]
    broken: dict[str, str]


@dataclass(frozen=True)
class BatchSealer:
    """Seals outbox rows for one department; load with :meth:`load`."""

    department: str
    suite: str
    vault: KeyRing
    recipient: keystore.KeySet  # the department's public keys
    signer: keystore.KeySet  # the hub's private signing keys

    @classmethod
    def load(cls, keys_dir: Path, department: str) -> BatchSealer:
        suite = suite_of(department)
        recipient, _ = keystore.names_for(department)
        return cls(department, suite, load_ring(keys_dir, VAULT), keystore.load(keys_dir, recipient, public_only=True),
                   keystore.load(keys_dir, hub_signing_name(suite)))

    def seal(self, rows: Sequence[Outgoing]) -> SealedOutgoing:
        """Seal the rows whose at-rest payload opens; the others are returned as broken, with the reason."""
        items, kept, broken = [], [], {}
        for r in rows:
            bound = aad(r.idempotency_key, r.case_no, r.item_code)
            try:
                items.append((bound, open_envelope(self.vault, json.loads(r.at_rest), expect_aad=bound)))
                kept.append(r)
            except (RejectedError, ValueError) as exc:
                broken[r.idempotency_key] = f"台账密文无法解密，未发送 (at-rest payload does not open): {exc}"
        if not kept:
            return SealedOutgoing({}, [], broken)
        signer_kid, signer_key = self.signer.active_private()
        sealed = seal_batch(self.suite, self.recipient.active, self.recipient.public[self.recipient.active],
                            signer_kid, signer_key, self.department, items)
        deliveries = [Delivery(r.idempotency_key, r.case_no, r.item_code, env)
                      for r, env in zip(kept, sealed.envelopes, strict=True)]
        return SealedOutgoing(sealed.header, deliveries, broken)


@dataclass(frozen=True)
class VerifiedAnswer:
    """The department's signature on the last answer verified in this context, for the evidence log."""

    key_id: str
    signature: str  # the whole X-Lianban-Signature header value
    digest: str  # SM3 of the answer's wire bytes


_last_answer: ContextVar[VerifiedAnswer | None] = ContextVar("lianban_last_answer", default=None)


def take_verified_answer() -> VerifiedAnswer | None:
    """The last answer verified in this context (and forget it, so it is never recorded twice)."""
    answer = _last_answer.get()
    _last_answer.set(None)
    return answer


def response_check(keys_dir: Path, department: str) -> Callable[[requests.Response], None]:
    """A requests response hook body: every POST answer must carry the department's valid signature."""
    _, signing = keystore.names_for(department)
    keys = keystore.load(keys_dir, signing, public_only=True)
    verifier = ResponseVerifier(department, get_suite(keys.suite), keys.public)

    def check(response: requests.Response) -> None:
        request = response.request
        if request.method not in SIGNED_METHODS or response.status_code in (401, 413, 429) \
                or response.status_code >= 500:
            return  # gateway-level refusals and failures carry no department signature
        path = urlsplit(request.url or "").path
        header = response.headers.get(HEADER)
        verifier.verify(header, response.status_code, path, response.content)
        assert header is not None  # verify() refuses a missing signature
        _last_answer.set(VerifiedAnswer(parse_header(header)["kid"], header, sm3_hex(response.content)))

    return check
