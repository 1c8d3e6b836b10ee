"""The at-rest vault: one payload sealed with 国密 SM4-GCM (GB/T 32907, RFC 8998) under a key ring's key.

An at-rest envelope is a small JSON-able dict::

    {"v": 1, "alg": "SM4-GCM", "kid": "<key id>", "nonce": b64(12 bytes), "aad": "<bound text>",
     "ct": b64(ciphertext || 16-byte tag)}

``aad`` binds the ciphertext to its delivery (idempotency key, case, item): moving a sealed payload to
another delivery makes it fail to open. The cipher is the SM suite's (:mod:`lianban.crypto.suites`); key
material comes from any :class:`KeySource` (the SM4 rings of :mod:`lianban.keys.rings.rings` are one).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from lianban.crypto.suites import NONCE_BYTES, InvalidSeal, SMSuite
from lianban.errors import RejectedError

ALG = "SM4-GCM"
_FIELDS = frozenset({"alg", "kid", "nonce", "aad", "ct"})
_SM4 = SMSuite()


class KeySource(Protocol):
    """Where the vault's keys come from: the active key seals, every listed key opens."""

    @property
    def keys(self) -> Mapping[str, bytes]: ...

    def active_key(self) -> tuple[str, bytes]: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(ring: KeySource, payload: dict[str, Any], aad: str) -> dict[str, Any]:
    """Encrypt `payload` (JSON) under the ring's active key; returns the envelope."""
    kid, key = ring.active_key()
    nonce = os.urandom(NONCE_BYTES)
    body = msgspec.json.encode(payload)  # json.dumps's compact bytes (non-ASCII as it is), a fifteenth of its time
    ct = _SM4.seal_data(key, nonce, body, aad.encode())
    return {"v": 1, "alg": ALG, "kid": kid, "nonce": _b64(nonce), "aad": aad, "ct": _b64(ct)}


def open_envelope(ring: KeySource, envelope: object, expect_aad: str | None = None) -> dict[str, Any]:
    """Decrypt an envelope (whatever its stored JSON decoded to) to the payload object; RejectedError (code
    ``SEAL``) with a Chinese reason when it cannot be opened or holds no JSON object."""
    try:
        result = json.loads(open_plaintext(ring, envelope, expect_aad))
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise RejectedError("envelope cannot be opened", "SEAL", "数据包解密或完整性校验失败")
    return result


def open_plaintext(ring: KeySource, envelope: object, expect_aad: str | None = None) -> bytes:
    """Decrypt an envelope (whatever its stored JSON decoded to: anything but an object with the envelope's
    fields is refused) to the payload's JSON as it was sealed (UTF-8, compact: what :func:`seal` wrote), for a
    caller that passes it on sealed again without reading it; RejectedError (code ``SEAL``) as
    :func:`open_envelope`."""
    if not isinstance(envelope, dict) or not set(envelope) >= _FIELDS:
        raise RejectedError("envelope incomplete", "SEAL", "数据包格式不完整，无法解密")
    aad = str(envelope["aad"])
    if envelope.get("alg") != ALG or (expect_aad is not None and aad != expect_aad):
        raise RejectedError("envelope cannot be opened", "SEAL", "数据包解密或完整性校验失败")
    key = ring.keys.get(str(envelope["kid"]))
    if key is None:
        raise RejectedError("envelope key id unknown", "SEAL", "密钥标识无效或已停用，无法解密")
    try:
        return _SM4.open_data(key, base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["ct"]),
                              aad.encode())
    except (InvalidSeal, binascii.Error, ValueError, TypeError):
        raise RejectedError("envelope cannot be opened", "SEAL", "数据包解密或完整性校验失败") from None
