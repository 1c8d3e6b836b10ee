"""Identifiers both ends of the wire derive the same way from the same facts.

    idempotency key   SM3("{case_no}|{item_code}|{department}")[:40]: one case item to one department is
                      one delivery, ever; departments dedupe by it, so a resend is never a second case
    aad               "{idempotency key}|{case_no}|{item_code}": what a sealed payload is bound to, so a
                      payload moved to another delivery does not open
    batch id          "B" + SHA-256 of the batch's idempotency keys (24 hex): the same deliveries always
                      make the same batch id, so a department recognises a retried batch
"""

from __future__ import annotations

from collections.abc import Iterable

from lianban.crypto.hashing import sha256, sm3_hex

__all__ = ["aad", "batch_id", "idempotency_key"]


def idempotency_key(case_no: str, item_code: str, department: str) -> str:
    """Stable across re-runs: the same case item to the same department is one delivery, ever."""
    return sm3_hex(f"{case_no}|{item_code}|{department}".encode())[:40]


def aad(idempotency_key: str, case_no: str, item_code: str) -> str:
    """The text a sealed payload is bound to (see :mod:`lianban.crypto.vault` and :mod:`lianban.crypto.batch`)."""
    return f"{idempotency_key}|{case_no}|{item_code}"


def batch_id(keys: Iterable[str]) -> str:
    """A stable id for a batch: the same deliveries, in the same order, give the same id on retry."""
    digest = sha256("\n".join(keys).encode()).hex()
    return f"B{digest[:24]}"
