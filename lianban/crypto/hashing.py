"""The one home of SM3 (GB/T 32905): digests, hex digests and the keyed SM3-HMAC.

``blind_index`` is the SM3-HMAC the ledger uses to find a person without storing who they are; the
evidence chain, the gateway signature and the idempotency keys are built on the same two functions.

Computed by GmSSL (gmssl-pyx, the library of the SM2 fast path, :mod:`lianban.crypto.sm2`) when it imports,
else by OpenSSL through cryptography: the same digests (tests/crypto/test_kat.py runs both), GmSSL's in a
third of the time for the short messages hashed here (a 300-byte digest 4.2 → 1.4 µs, an ID's HMAC 2.8 →
1.2 µs), where making cryptography's hash object is most of the cost. SM3 was 3–5 % of a deliver run's CPU,
7 % of the departments' and a sixth of staging's preparing process (Merkle leaves, evidence, blind indexes).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["blind_index", "hmac_sm3_hex", "sha256", "sm3", "sm3_hex"]

Digest = Callable[[bytes], bytes]
Keyed = Callable[[bytes, bytes], bytes]


def openssl_sm3(data: bytes) -> bytes:
    """SM3 by OpenSSL, through cryptography (the engine when gmssl-pyx does not import)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def openssl_hmac(key: bytes, data: bytes) -> bytes:
    """SM3-HMAC by OpenSSL, through cryptography (likewise; and for an empty key, which GmSSL refuses)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def engines(native: str = "gmssl_pyx") -> tuple[Digest, Keyed]:
    """SM3 and SM3-HMAC from the module `native` (gmssl-pyx's functions) if it imports, else OpenSSL's."""
    try:
        lib = importlib.import_module(native)
    except ImportError:
        return openssl_sm3, openssl_hmac
    digest, keyed = lib.sm3_hash, lib.sm3_hmac

    def hmac_of(key: bytes, data: bytes) -> bytes:  # GmSSL refuses an empty key, which HMAC allows
        return keyed(bytes(key), bytes(data)) if key else openssl_hmac(key, data)

    return (lambda data: digest(bytes(data))), hmac_of  # GmSSL's take bytes alone (bytes(b) of bytes is b)


_SM3, _HMAC = engines()


def sm3(data: bytes) -> bytes:
    """SM3 digest, 32 bytes."""
    return _SM3(data)


def sm3_hex(data: bytes) -> str:
    """SM3 digest as 64 hex characters."""
    return _SM3(data).hex()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest, 32 bytes (the NIST suite's hash)."""
    return hashlib.sha256(data).digest()


def hmac_sm3_hex(key: bytes, text: str) -> str:
    """Hex SM3-HMAC of `text` (UTF-8) keyed with `key`."""
    return _HMAC(key, text.encode()).hex()


def blind_index(key: bytes, value: str) -> str:
    """SM3-HMAC of `value`: lets the ledger find a person without storing who they are."""
    return hmac_sm3_hex(key, value)
