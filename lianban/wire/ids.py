"""Identifiers both ends of the wire derive the same way from the same facts.

    idempotency key   SM3("{case_no}|{item_code}|{department}")[:40]: one case item to one department is
                      one delivery, ever; departments dedupe by it, so a resend is never a second case
    aad               "{idempotency key}|{case_no}|{item_code}": what a sealed payload is bound to, so a
                      payload moved to another delivery does not open
    supplement id     SM3("{idempotency key}|supplement|{source}|{序号}")[:40]: one 补正 submission of one
                      delivered item is one supplement, ever; departments dedupe by it
    supplement aad    "{supplement id}|{aad}": a sealed supplement opens only as that supplement of that item

A batch's id is its seal's (:func:`lianban.crypto.batch.seal_batch`), new at every sealing: the request names it
beside the seal, and the department refuses the batch when the two differ. A resend is sealed anew, and recognised
by its idempotency keys.
"""

from __future__ import annotations

from lianban.crypto.hashing import sm3_hex

__all__ = ["aad", "idempotency_key", "supplement_aad", "supplement_id"]


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
