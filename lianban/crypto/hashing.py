"""The one home of SM3 (GB/T 32905): digests, hex digests and the keyed SM3-HMAC.

``blind_index`` is the SM3-HMAC the ledger uses to find a person without storing who they are; the
evidence chain, the gateway signature and the idempotency keys are built on the same two functions.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["blind_index", "hmac_sm3_hex", "sha256", "sm3", "sm3_hex"]


def sm3(data: bytes) -> bytes:
    """SM3 digest, 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    """SM3 digest as 64 hex characters."""
    return sm3(data).hex()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest, 32 bytes (the NIST suite's hash)."""
    return hashlib.sha256(data).digest()


def hmac_sm3_hex(key: bytes, text: str) -> str:
    """Hex SM3-HMAC of `text` (UTF-8) keyed with `key`."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(text.encode())
    return mac.finalize().hex()


def blind_index(key: bytes, value: str) -> str:
    """SM3-HMAC of `value`: lets the ledger find a person without storing who they are."""
    return hmac_sm3_hex(key, value)
