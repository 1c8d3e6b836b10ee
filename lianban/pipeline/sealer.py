"""The hub's side of the per-batch envelope: re-seal outbox rows for one department.

At rest, the ledger keeps each payload sealed under the hub's own ``vault`` SM4 ring. At delivery, one
batch is opened from the vault and sealed for the department (:func:`lianban.crypto.batch.seal_batch`):
a fresh data key wrapped with the department's public key, the hub's signature over the hash tree. The
department's answers must carry its response signature (:mod:`lianban.wire.signatures`). 补正 submissions
hold no personal data and are not kept sealed at rest: :meth:`BatchSealer.seal_payloads` seals them for the
department the same way, one envelope per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from lianban.crypto.batch import seal_batch
from lianban.crypto.vault import open_plaintext
from lianban.domain.catalog import load_catalog
from lianban.errors import ConfigError, RejectedError
from lianban.keys import keysets
from lianban.keys.names import VAULT, hub_signing_name, names_for, suite_of
from lianban.keys.rings import KeyRing, load_ring
from lianban.wire.contract import SealedItem
from lianban.wire.ids import aad


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
    deliveries: list[SealedItem]
    broken: dict[str, str]


@dataclass(frozen=True)
class BatchSealer:
    """Seals outbox rows for one department; load with :meth:`load`."""

    department: str
    suite: str
    vault: KeyRing
    recipient: keysets.KeySet  # the department's public keys
    signer: keysets.KeySet  # the hub's private signing keys

    @classmethod
    def load(cls, keys_dir: Path, department: str) -> BatchSealer:
        """The keys to seal for `department` in the suite agreed with it; a ConfigError when its public keys are
        of another suite (:func:`_agreed`), before anything is sealed."""
        suite = suite_of(department)
        recipient = _agreed(keysets.load(keys_dir, names_for(department)[0], public_only=True), department, suite)
        return cls(department, suite, load_ring(keys_dir, VAULT), recipient,
                   keysets.load(keys_dir, hub_signing_name(suite)))

    def seal(self, rows: Sequence[Outgoing]) -> SealedOutgoing:
        """Seal the rows whose at-rest payload opens; the others are returned as broken, with the reason."""
        items: list[tuple[str, dict[str, Any] | bytes]] = []
        kept, broken = [], {}
        for r in rows:
            bound = aad(r.idempotency_key, r.case_no, r.item_code)
            try:  # the payload's JSON passed on as it was sealed at rest, not read and written again
                items.append((bound, open_plaintext(self.vault, msgspec.json.decode(r.at_rest), expect_aad=bound)))
                kept.append(r)
            except (RejectedError, ValueError) as exc:
                broken[r.idempotency_key] = f"台账密文无法解密，未发送 (at-rest payload does not open): {exc}"
        if not kept:
            return SealedOutgoing({}, [], broken)
        signer_kid, signer_key = self.signer.active_private()
        sealed = seal_batch(self.suite, self.recipient.active, self.recipient.public[self.recipient.active],
                            signer_kid, signer_key, self.department, items)
        deliveries = [SealedItem(r.idempotency_key, r.case_no, r.item_code, env)
                      for r, env in zip(kept, sealed.envelopes, strict=True)]
        return SealedOutgoing(sealed.header, deliveries, broken)

    def seal_payloads(self, items: Sequence[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Seal plain ``(aad, payload)`` pairs as one batch for the department: (its seal, the item envelopes)."""
        signer_kid, signer_key = self.signer.active_private()
        sealed = seal_batch(self.suite, self.recipient.active, self.recipient.public[self.recipient.active],
                            signer_kid, signer_key, self.department, items)
        return sealed.header, sealed.envelopes


def _agreed(recipient: keysets.KeySet, department: str, suite: str) -> keysets.KeySet:
    """`recipient` (the department's public keys), when of the `suite` agreed with it; otherwise (its suite changed
    in departments.yaml after the keys were imported or made) a ConfigError saying what to do."""
    if recipient.suite == suite:
        return recipient
    name = load_catalog().departments[department].name
    raise ConfigError(f"{name}（{department}）在 schemas/catalog/departments.yaml 中配置的算法套件为 "
                      f"{suite}，而本中心持有的其公钥 {recipient.name} 是 {recipient.suite} 套件的，无法为其"
                      f"加密：请向该部门索取 {suite} 套件的公钥，用 lianban keys import {recipient.name} 文件 "
                      f"导入，或将其 suite 改回 {recipient.suite}；未发送任何数据 "
                      f"({department} is configured for the {suite} suite, but its public keys {recipient.name} are "
                      f"{recipient.suite} keys: import its {suite} public keys with `lianban keys import "
                      f"{recipient.name} FILE`, or set its suite back to {recipient.suite}; nothing was sent)")
