"""Test and drill kit: play the hub's sealing side against a simulated department, with real keys.

Everything here uses the production code paths (keystore files, lianban.crypto.batch) on a keys
directory of the caller's choosing; it only saves each test from wiring them by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from lianban.crypto.batch import seal_batch
from lianban.domain.statuses import Status
from lianban.keys import keysets
from lianban.keys.names import hub_signing_name, names_for, suite_of
from lianban.keys.provision import ensure_keys
from lianban.wire.contract import Receipt, SealedItem, StatusUpdate, SupplementItem
from lianban.wire.ids import aad, supplement_aad
from simulators.engine import DepartmentEngine
from simulators.runner import department_opener


#: One case item to seal: its identity and its minimised payload.
class Item(NamedTuple):
    idempotency_key: str
    case_no: str
    item_code: str
    payload: dict[str, Any]


def engine_for(keys_dir: Path, department: str, db_path: Path, step_seconds: float = 60.0) -> DepartmentEngine:
    """A department engine holding the department's keys from `keys_dir` (created when missing)."""
    ensure_keys(keys_dir)
    return DepartmentEngine(department, department_opener(keys_dir, department), db_path, step_seconds)


def seal_items(keys_dir: Path, department: str, items: Sequence[Item]) -> tuple[dict[str, Any], list[SealedItem]]:
    """Seal `items` as the hub would for `department`: (the batch seal, deliveries with item envelopes)."""
    ensure_keys(keys_dir)
    suite = suite_of(department)
    recipient = keysets.load(keys_dir, names_for(department)[0], public_only=True)
    signer_kid, signer_key = keysets.load(keys_dir, hub_signing_name(suite)).active_private()
    sealed = seal_batch(suite, recipient.active, recipient.public[recipient.active], signer_kid, signer_key,
                        department, [(aad(i.idempotency_key, i.case_no, i.item_code), i.payload) for i in items])
    deliveries = [SealedItem(i.idempotency_key, i.case_no, i.item_code, env)
                  for i, env in zip(items, sealed.envelopes, strict=True)]
    return sealed.header, deliveries


def wire(deliveries: Sequence[SealedItem]) -> list[dict[str, Any]]:
    """Deliveries as the dicts a department engine receives."""
    return [{"idempotency_key": d.idempotency_key, "case_no": d.case_no, "item_code": d.item_code,
             "envelope": d.envelope} for d in deliveries]


#: One 补正 submission to seal: the delivery it belongs to, its own id, and the materials supplied.
class Supplied(NamedTuple):
    idempotency_key: str
    supplement_id: str
    case_no: str
    item_code: str
    materials: tuple[str, ...]


def seal_supplements(keys_dir: Path, department: str,
                     supplied: Sequence[Supplied]) -> tuple[dict[str, Any], list[SupplementItem]]:
    """Seal 补正 submissions as the hub would for `department`: (the batch seal, the supplement items)."""
    ensure_keys(keys_dir)
    suite = suite_of(department)
    recipient = keysets.load(keys_dir, names_for(department)[0], public_only=True)
    signer_kid, signer_key = keysets.load(keys_dir, hub_signing_name(suite)).active_private()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    pairs = [(supplement_aad(s.supplement_id, s.idempotency_key, s.case_no, s.item_code),
              {"materials": list(s.materials), "supplied_at": now}) for s in supplied]
    sealed = seal_batch(suite, recipient.active, recipient.public[recipient.active], signer_kid, signer_key,
                        department, pairs)
    return sealed.header, [SupplementItem(s.idempotency_key, s.supplement_id, s.case_no, s.item_code, env)
                           for s, env in zip(supplied, sealed.envelopes, strict=True)]


def supplement_wire(items: Sequence[SupplementItem]) -> list[dict[str, Any]]:
    """Supplement items as the dicts a department engine receives."""
    return [{"idempotency_key": s.idempotency_key, "supplement_id": s.supplement_id, "case_no": s.case_no,
             "item_code": s.item_code, "envelope": s.envelope} for s in items]


def supply_asked(connector: Any, keys_dir: Path, deliveries: Sequence[SealedItem],
                 updates: Sequence[StatusUpdate]) -> list[Receipt]:
    """Answer every 补正资料 in `updates` as an applicant would: the materials asked for, through the
    connector's ``supplement`` (one supplement id per item, so a repeat is a duplicate); the receipts."""
    by_key = {d.idempotency_key: d for d in deliveries}
    asked = [Supplied(u.idempotency_key, f"S-{u.idempotency_key}", by_key[u.idempotency_key].case_no,
                      by_key[u.idempotency_key].item_code, u.materials)
             for u in updates if u.status is Status.SUPPLEMENT and u.idempotency_key in by_key]
    if not asked:
        return []
    seal, items = seal_supplements(keys_dir, connector.department, asked)
    receipts: list[Receipt] = connector.supplement(items, seal)
    return receipts
