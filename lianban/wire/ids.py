"""Identifiers both ends of the wire derive the same way from the same facts.

    idempotency key   SM3("{case_no}|{item_code}|{department}")[:40]: one case item to one department is
                      one delivery, ever; departments dedupe by it, so a resend is never a second case
    aad               "{idempotency key}|{case_no}|{item_code}": what a sealed payload is bound to, so a
                      payload moved to another delivery does not open
    supplement id     SM3("{idempotency key}|supplement|{source}|{序号}")[:40]: one 补正 submission of one
                      delivered item is one supplement, ever; departments dedupe by it
    supplement aad    "{supplement id}|{aad}": a sealed supplement opens only as that supplement of that item
    batch id          "B" + SHA-256 of the batch's idempotency keys (24 hex): the same deliveries always
                      make the same batch id, so a department recognises a retried batch
"""

from __future__ import annotations

from collections.abc import Iterable

from lianban.crypto.hashing import sha256, sm3_hex

__all__ = ["aad", "batch_id", "idempotency_key", "supplement_aad", "supplement_id"]


def idempotency_key(case_no: str, item_code: str, department: str) -> str:
    """Stable across re-runs: the same case item to the same department is one delivery, ever."""
    return sm3_hex(f"{case_no}|{item_code}|{department}".encode())[:40]


def aad(idempotency_key: str, case_no: str, item_code: str) -> str:
    """The text a sealed payload is bound to (see :mod:`lianban.crypto.vault` and :mod:`lianban.crypto.batch`)."""
    return f"{idempotency_key}|{case_no}|{item_code}"


def supplement_id(idempotency_key: str, source: str, source_seq: int) -> str:
    """Stable across re-runs: the `source_seq`-th row of `source`'s 补正 submissions, for one delivery."""
    return sm3_hex(f"{idempotency_key}|supplement|{source}|{source_seq}".encode())[:40]


def supplement_aad(supplement_id: str, idempotency_key: str, case_no: str, item_code: str) -> str:
    """The text a sealed supplement is bound to."""
    return f"{supplement_id}|{aad(idempotency_key, case_no, item_code)}"


def batch_id(keys: Iterable[str]) -> str:
    """A stable id for a batch: the same deliveries, in the same order, give the same id on retry."""
    digest = sha256("\n".join(keys).encode()).hex()
    return f"B{digest[:24]}"
