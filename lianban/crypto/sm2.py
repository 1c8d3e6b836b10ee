"""SM2 (GB/T 32918) on the wire format of :class:`lianban.crypto.suites.SMSuite`, native or pure Python.

Two engines do the same four operations on the same bytes, so either end of the wire may run either:

- :class:`NativeSM2`: **gmssl-pyx** (Apache-2.0), a C extension around GmSSL 3.2 (北京大学 GmSSL, Apache-2.0)
  with manylinux wheels for CPython 3.11, no compiler and no system GmSSL needed. Chosen over the other
  bindings on PyPI because it is the one that is maintained (releases 2023-05 … 2026-09, tests and wheel
  CI in a public repository), installs from a wheel here and wraps the reference 国密 library: on this
  2-core machine sign ≈ 0.25 ms, verify / wrap / unwrap ≈ 0.5 ms, 15–40× gmalg (``python -m bench.seal``).
  Signing hashes ``e = SM3(Z_A || M)`` here and signs the digest: gmssl-pyx's message-level ``sm2_sign``
  recomputes ``d·G`` and signing tables on every call (≈ 2.4 ms).
  Not chosen: gmssl-fast 0.1.0 (one release, no source repository named), gmalglib and easy-gmssl (no
  wheel: they need a compiler or a system GmSSL), gmllc (a Windows DLL, proprietary licence), tongsuopy
  (no SM2 encryption, last release 2023).
- :class:`PureSM2`: **gmalg** (pure Python, ~10–25 ms per operation), used when gmssl-pyx cannot be
  imported (one debug log line says so); nothing else changes.

Formats. The suite's wire format is raw: private key the 32-byte scalar, public key ``04 || x || y``,
signature ``r || s`` (32 bytes each), ciphertext ``C1 (04 || x || y) || C3 (SM3, 32) || C2``
(GB/T 32918.4-2016 order), signer id ``1234567812345678``. GmSSL speaks DER: signatures are
``SEQUENCE {INTEGER r, INTEGER s}`` and ciphertexts ``SEQUENCE {INTEGER x, INTEGER y, OCTET STRING C3,
OCTET STRING C2}`` (GM/T 0009), converted here exactly, both ways.

Engines trust their caller (the suite) to have checked shapes, curve membership and scalar ranges, and
raise ``ValueError`` when a ciphertext does not open. GmSSL prints a source-location trace (file and line,
never data) to stderr when a signature fails or a ciphertext does not open; the answer is unaffected.
"""

from __future__ import annotations

import functools
import importlib
import logging
from types import ModuleType
from typing import Protocol

import gmalg
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmalg.errors import GMError

from lianban.crypto.hashing import sm3

log = logging.getLogger("lianban.crypto")

UID = b"1234567812345678"  # the GB/T 35276 default signer id, as every 国密 peer assumes
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_CURVE = b"".join(v.to_bytes(32, "big") for v in (
    P - 3, B,  # a, b, then the base point G
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0))
_INTEGER, _OCTETS, _SEQUENCE = 0x02, 0x04, 0x30


class SM2Engine(Protocol):
    """SM2 on raw bytes; inputs already checked by the caller (see :func:`is_point`, :func:`check_private`)."""

    name: str

    def generate(self) -> tuple[bytes, bytes]: ...  # (32-byte private, 65-byte public)
    def sign(self, private: bytes, msg: bytes) -> bytes: ...  # 64-byte r || s
    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool: ...
    def encrypt(self, public: bytes, data: bytes) -> bytes: ...  # C1 || C3 || C2
    def decrypt(self, private: bytes, ciphertext: bytes) -> bytes: ...  # ValueError if it does not open


def is_point(public: bytes) -> bool:
    """65-byte uncompressed point on the SM2 curve (cofactor 1, so on-curve means in the group)."""
    if len(public) != 65 or public[0] != 4:
        return False
    x, y = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    return x < P and y < P and (y * y - x * x * x + 3 * x - B) % P == 0


def check_private(private: bytes) -> bytes:
    """The key itself if it is a 32-byte scalar in [1, n-2]; ValueError (no key material) otherwise."""
    if len(private) != 32 or not 0 < int.from_bytes(private, "big") < N - 1:
        raise ValueError("SM2 private key must be a 32-byte scalar in [1, n-2]")
    return private


def signature_in_range(sig: bytes) -> bool:
    """64 bytes ``r || s`` with r and s in [1, n-1], as GB/T 32918.2 requires before any arithmetic."""
    return len(sig) == 64 and 0 < int.from_bytes(sig[:32], "big") < N and 0 < int.from_bytes(sig[32:], "big") < N


_PUBLIC: dict[bytes, bytes] = {}  # private → public for the last few keys; the caller holds them anyway
_PUBLIC_KEPT = 32


def _remember(private: bytes, public: bytes) -> tuple[bytes, bytes]:
    if len(_PUBLIC) >= _PUBLIC_KEPT:  # more keys than a hub or a department holds: start over
        _PUBLIC.clear()
    _PUBLIC[private] = public
    return private, public


def public_of(private: bytes) -> bytes:
    """``d·G``, which both engines need to sign: known for keys generated here, else computed once per process
    (a ~10 ms pure-Python multiplication)."""
    public = _PUBLIC.get(private)
    return public if public is not None else _remember(private, gmalg.SM2().generate_pk(private))[1]


@functools.lru_cache(maxsize=64)
def signer_digest(public: bytes) -> bytes:
    """``Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` (GB/T 32918.2 §5.5) for the default id."""
    return sm3((len(UID) * 8).to_bytes(2, "big") + UID + _CURVE + public[1:])


class PureSM2:
    """gmalg: pure Python, no native code; the fallback and the interoperability oracle."""

    name = "gmalg"

    def generate(self) -> tuple[bytes, bytes]:
        sk, pk = gmalg.SM2().generate_keypair()
        return _remember(int.from_bytes(sk, "big").to_bytes(32, "big"), pk)

    def sign(self, private: bytes, msg: bytes) -> bytes:
        r, s = gmalg.SM2(private, UID, public_of(private)).sign(msg)
        return r.rjust(32, b"\0") + s.rjust(32, b"\0")

    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool:
        return bool(gmalg.SM2(uid=UID, pk=public).verify(msg, sig[:32], sig[32:]))

    def encrypt(self, public: bytes, data: bytes) -> bytes:
        return gmalg.SM2(pk=public).encrypt(data)

    def decrypt(self, private: bytes, ciphertext: bytes) -> bytes:
        try:
            return gmalg.SM2(private, pk=public_of(private)).decrypt(ciphertext)
        except (GMError, IndexError) as exc:
            raise ValueError("SM2 ciphertext does not open") from exc


class NativeSM2:
    """gmssl-pyx (GmSSL 3.2): the fast path; converts GmSSL's DER to and from the raw wire format."""

    name = "gmssl-pyx"

    def __init__(self, lib: ModuleType) -> None:
        self._lib = lib

    def generate(self) -> tuple[bytes, bytes]:
        public, private = self._lib.sm2_key_generate()
        return _remember(bytes(private), b"\x04" + bytes(public))

    def sign(self, private: bytes, msg: bytes) -> bytes:
        digest = sm3(signer_digest(public_of(private)) + msg)
        der = self._lib.sm2_sign_sm3_digest(private, digest)
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool:
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        return bool(self._lib.sm2_verify(public[1:], msg, der, signer_id=UID))

    def encrypt(self, public: bytes, data: bytes) -> bytes:
        return ciphertext_from_der(self._lib.sm2_encrypt(public[1:], data))

    def decrypt(self, private: bytes, ciphertext: bytes) -> bytes:
        try:
            return bytes(self._lib.sm2_decrypt(private, ciphertext_to_der(ciphertext)))
        except self._lib.GmsslInnerError as exc:  # InvalidValueError is a subclass
            raise ValueError("SM2 ciphertext does not open") from exc


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    width = (size.bit_length() + 7) // 8
    return bytes([tag, 0x80 | width]) + size.to_bytes(width, "big") + body


def _der_integer(value: bytes) -> bytes:
    """A non-negative big-endian number as a minimal DER INTEGER (a 0x00 pad when the top bit is set)."""
    number = int.from_bytes(value, "big")
    body = number.to_bytes(number.bit_length() // 8 + 1, "big")
    return _der(_INTEGER, body)


def ciphertext_to_der(raw: bytes) -> bytes:
    """``C1 || C3 || C2`` (C1 = ``04 || x || y``) → GM/T 0009 ``SEQUENCE {x, y, C3, C2}``."""
    fields = _der_integer(raw[1:33]) + _der_integer(raw[33:65]) + _der(_OCTETS, raw[65:97]) + _der(_OCTETS, raw[97:])
    return _der(_SEQUENCE, fields)


def _tlv(der: bytes, at: int, tag: int) -> tuple[bytes, int]:
    """(value, next offset) of the DER element of type `tag` at `at`; ValueError if it is not one."""
    if der[at] != tag:
        raise ValueError("unexpected DER element")
    size, at = der[at + 1], at + 2
    if size & 0x80:
        width = size & 0x7F
        size, at = int.from_bytes(der[at:at + width], "big"), at + width
    if at + size > len(der):
        raise ValueError("truncated DER element")
    return der[at:at + size], at + size


def ciphertext_from_der(der: bytes) -> bytes:
    """GM/T 0009 ``SEQUENCE {x, y, C3, C2}`` → ``04 || x || y || C3 || C2``, coordinates 32 bytes each."""
    body, _ = _tlv(der, 0, _SEQUENCE)
    x, at = _tlv(body, 0, _INTEGER)
    y, at = _tlv(body, at, _INTEGER)
    c3, at = _tlv(body, at, _OCTETS)
    c2, _ = _tlv(body, at, _OCTETS)
    point = int.from_bytes(x, "big").to_bytes(32, "big") + int.from_bytes(y, "big").to_bytes(32, "big")
    return b"\x04" + point + c3 + c2


def load_engine(native: str = "gmssl_pyx") -> SM2Engine:
    """The native engine if the module `native` imports, else gmalg (with one debug line saying why)."""
    try:
        lib = importlib.import_module(native)
    except ImportError as exc:
        log.debug("SM2: %s not importable (%s); using the pure-Python gmalg path", native, exc)
        return PureSM2()
    return NativeSM2(lib)


@functools.cache
def fastest() -> SM2Engine:
    """The engine :class:`SMSuite` uses by default, chosen once per process."""
    return load_engine()
