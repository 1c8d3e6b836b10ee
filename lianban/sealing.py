"""Sealing personal fields with 国密 SM4-GCM (GB/T 32907, RFC 8998) and blind indexes with SM3-HMAC.

An envelope is a small JSON-able dict::

    {"v": 1, "alg": "SM4-GCM", "kid": "<key id>", "nonce": b64(12 bytes), "aad": "<bound text>",
     "ct": b64(ciphertext || 16-byte tag)}

``aad`` binds the ciphertext to its delivery (idempotency key, case, item): moving a sealed payload to
another delivery makes it fail to open.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lianban.errors import RejectedError
from lianban.keys import KeyRing

ALG = "SM4-GCM"
NONCE_BYTES = 12
TAG_BYTES = 16
_FIELDS = frozenset({"alg", "kid", "nonce", "aad", "ct"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(ring: KeyRing, payload: dict[str, Any], aad: str) -> dict[str, Any]:
    """Encrypt `payload` (JSON) under the ring's active key; returns the envelope."""
    kid, key = ring.active_key()
    nonce = os.urandom(NONCE_BYTES)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad.encode())
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    ct = enc.update(body) + enc.finalize() + enc.tag
    return {"v": 1, "alg": ALG, "kid": kid, "nonce": _b64(nonce), "aad": aad, "ct": _b64(ct)}


def open_envelope(ring: KeyRing, envelope: dict[str, Any], expect_aad: str | None = None) -> dict[str, Any]:
    """Decrypt an envelope; RejectedError (code ``SEAL``) with a Chinese reason when it cannot be opened."""
    if not set(envelope) >= _FIELDS:
        raise RejectedError("envelope incomplete", "SEAL", "数据包格式不完整，无法解密")
    try:
        if envelope.get("alg") != ALG:
            raise ValueError("alg")
        aad = str(envelope["aad"])
        if expect_aad is not None and aad != expect_aad:
            raise ValueError("aad")
        key = ring.keys[envelope["kid"]]
        raw = base64.b64decode(envelope["ct"])
        dec = Cipher(algorithms.SM4(key), modes.GCM(base64.b64decode(envelope["nonce"]), raw[-TAG_BYTES:]))
        opener = dec.decryptor()
        opener.authenticate_additional_data(aad.encode())
        plain = opener.update(raw[:-TAG_BYTES]) + opener.finalize()
        result: dict[str, Any] = json.loads(plain)
        return result
    except KeyError:
        raise RejectedError("envelope key id unknown", "SEAL", "密钥标识无效或已停用，无法解密") from None
    except (InvalidTag, ValueError, TypeError):
        raise RejectedError("envelope cannot be opened", "SEAL", "数据包解密或完整性校验失败") from None


def blind_index(key: bytes, value: str) -> str:
    """SM3-HMAC of `value`: lets the ledger find a person without storing who they are."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(value.encode())
    return mac.finalize().hex()


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()
