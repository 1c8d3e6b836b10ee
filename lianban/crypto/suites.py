"""Two cipher suites behind one small :class:`Suite` protocol, chosen per department by name.

=========  =====================================  ==========================================
           "SM" (国密, GB/T 39786)                 "NIST" (for departments without 国密)
=========  =====================================  ==========================================
data       SM4-GCM (RFC 8998), 16-byte data key    AES-256-GCM, 32-byte data key
key wrap   SM2 public-key encryption (GB/T 32918.4) ephemeral X25519 + HKDF-SHA256 → AES-256-GCM
signature  SM2 with SM3, uid ``1234567812345678``  ECDSA P-256 with SHA-256
digest     SM3 (GB/T 32905)                        SHA-256
=========  =====================================  ==========================================

Serialisation (raw bytes, no ASN.1, so keys fit a secrets backend as base64):

- SM private key: the 32-byte big-endian scalar; public key: 65 bytes ``04 || x || y``.
- SM wrapped key: ``C1 (65) || C3 (32) || C2`` (the GB/T 32918.4-2016 order), 113 bytes for a data key.
- NIST signing key: 32-byte P-256 scalar / 65-byte uncompressed point; recipient key: 32-byte X25519
  private / 32-byte public.
- NIST wrapped key: ``ephemeral public (32) || AES-256-GCM(data key) || tag (16)``, 80 bytes; HKDF binds
  both public keys, so a wrapped key opens only for the recipient it names.
- Signatures in both suites: 64 bytes ``r || s``, each 32 bytes big-endian.
- Sealed data: ``ciphertext || 16-byte tag``; nonces are 12 bytes.

``sign``, ``wrap`` and ``seal_data`` raise ``ValueError`` on a malformed key; ``verify`` answers False for
anything that does not verify; ``unwrap`` and ``open_data`` raise :class:`InvalidSeal` for anything that
does not open. Messages never contain key material.

SM2 runs on an engine from :mod:`lianban.crypto.sm2`: gmssl-pyx (GmSSL 3.2, ~0.2-0.6 ms per operation) when it
imports, else pure-Python gmalg (~10-25 ms); both produce and accept exactly the bytes above, so either end
of the wire may run either. Callers still pay SM2 per batch, not per record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lianban.crypto import sm2
from lianban.crypto.hashing import sha256, sm3
from lianban.errors import ConfigError

NONCE_BYTES = 12
TAG_BYTES = 16
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
_NIST_WRAP_INFO = b"lianban/v2 NIST key wrap"


def _cipher_contexts() -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """Makers of an encrypting and a decrypting context for an algorithm and a mode: cryptography's own, which
    its :class:`Cipher` calls once it has checked their types (SM4-GCM per item was 8 µs, 1.7 of them those
    checks; here the key and the nonce are checked by ``algorithms.SM4`` and ``modes.GCM`` as before, and the
    mode is always GCM). Where a release of cryptography no longer has them, through :class:`Cipher`."""
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        contexts = rust_openssl.ciphers
        return contexts.create_encryption_ctx, contexts.create_decryption_ctx
    except (ImportError, AttributeError):
        return _through_cipher()


def _through_cipher() -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    return (lambda algorithm, mode: Cipher(algorithm, mode).encryptor(),
            lambda algorithm, mode: Cipher(algorithm, mode).decryptor())


_ENCRYPTING, _DECRYPTING = _cipher_contexts()


class InvalidSeal(ValueError):
    """A wrapped key or sealed payload did not open: wrong key, tampered bytes or malformed input."""


@dataclass(frozen=True)
class KeyPair:
    """A private key and its public key, in the suite's documented serialisation."""

    private: bytes
    public: bytes

    def __repr__(self) -> str:  # a traceback must never print the private key
        return f"KeyPair(public={self.public.hex()[:16]}…)"


class Suite(Protocol):
    """What the batch envelope needs from a cipher suite."""

    name: str
    data_key_bytes: int

    def generate_signing_key(self) -> KeyPair: ...
    def generate_recipient_key(self) -> KeyPair: ...
    def wrap(self, recipient_public: bytes, dek: bytes) -> bytes: ...
    def unwrap(self, recipient_private: bytes, wrapped: bytes) -> bytes: ...
    def sign(self, private: bytes, msg: bytes) -> bytes: ...
    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool: ...
    def digest(self, data: bytes) -> bytes: ...
    def seal_data(self, dek: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...
    def open_data(self, dek: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...


class SMSuite:
    """国密: SM4-GCM, SM2 key wrap, SM2-with-SM3 signatures, SM3 digests."""

    name = "SM"
    data_key_bytes = 16

    def __init__(self, engine: sm2.SM2Engine | None = None) -> None:
        self.sm2 = engine or sm2.fastest()

    def _keypair(self) -> KeyPair:
        return KeyPair(*self.sm2.generate())

    def generate_signing_key(self) -> KeyPair:
        return self._keypair()

    def generate_recipient_key(self) -> KeyPair:
        return self._keypair()

    def wrap(self, recipient_public: bytes, dek: bytes) -> bytes:
        if not sm2.is_point(recipient_public):
            raise ValueError("recipient public key is not an SM2 point")
        return self.sm2.encrypt(recipient_public, dek)

    def unwrap(self, recipient_private: bytes, wrapped: bytes) -> bytes:
        if len(wrapped) != 65 + 32 + self.data_key_bytes or not sm2.is_point(wrapped[:65]):
            raise InvalidSeal("wrapped key has the wrong shape")
        sk = sm2.check_private(recipient_private)
        try:
            return self.sm2.decrypt(sk, wrapped)
        except ValueError as exc:
            raise InvalidSeal("wrapped key does not open with this private key") from exc

    def sign(self, private: bytes, msg: bytes) -> bytes:
        return self.sm2.sign(sm2.check_private(private), msg)

    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool:
        if not sm2.signature_in_range(sig) or not sm2.is_point(public):
            return False
        return self.sm2.verify(public, msg, sig)

    def digest(self, data: bytes) -> bytes:
        return sm3(data)

    def seal_data(self, dek: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        enc = _ENCRYPTING(algorithms.SM4(dek), modes.GCM(nonce))
        enc.authenticate_additional_data(aad)
        return enc.update(plaintext) + enc.finalize() + enc.tag

    def open_data(self, dek: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise InvalidSeal("sealed data has the wrong shape")
        try:
            dec = _DECRYPTING(algorithms.SM4(dek), modes.GCM(nonce, sealed[-TAG_BYTES:]))
            dec.authenticate_additional_data(aad)
            return dec.update(sealed[:-TAG_BYTES]) + dec.finalize()
        except (InvalidTag, ValueError) as exc:
            raise InvalidSeal("sealed data failed its integrity check") from exc


def _p256_private(private: bytes) -> ec.EllipticCurvePrivateKey:
    if len(private) != 32:
        raise ValueError("P-256 private key must be a 32-byte scalar")
    return ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1())


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> tuple[bytes, bytes]:
    """HKDF-SHA256 → (AES-256 key, 12-byte nonce); single use, since the ephemeral key is fresh."""
    okm = HKDF(hashes.SHA256(), 32 + NONCE_BYTES, None, _NIST_WRAP_INFO + ephemeral + recipient).derive(shared)
    return okm[:32], okm[32:]


class NistSuite:
    """AES-256-GCM, X25519+HKDF key wrap, ECDSA P-256/SHA-256 signatures, SHA-256 digests."""

    name = "NIST"
    data_key_bytes = 32

    def generate_signing_key(self) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return KeyPair(key.private_numbers().private_value.to_bytes(32, "big"), point)

    def generate_recipient_key(self) -> KeyPair:
        key = x25519.X25519PrivateKey.generate()
        return KeyPair(key.private_bytes_raw(), key.public_key().public_bytes(*_RAW))

    def wrap(self, recipient_public: bytes, dek: bytes) -> bytes:
        ephemeral = x25519.X25519PrivateKey.generate()
        eph_public = ephemeral.public_key().public_bytes(*_RAW)
        shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(recipient_public))
        key, nonce = _wrap_key(shared, eph_public, recipient_public)
        return eph_public + AESGCM(key).encrypt(nonce, dek, None)

    def unwrap(self, recipient_private: bytes, wrapped: bytes) -> bytes:
        if len(wrapped) != 32 + self.data_key_bytes + TAG_BYTES:
            raise InvalidSeal("wrapped key has the wrong shape")
        try:
            own = x25519.X25519PrivateKey.from_private_bytes(recipient_private)
            shared = own.exchange(x25519.X25519PublicKey.from_public_bytes(wrapped[:32]))
            key, nonce = _wrap_key(shared, wrapped[:32], own.public_key().public_bytes(*_RAW))
            return AESGCM(key).decrypt(nonce, wrapped[32:], None)
        except (InvalidTag, ValueError) as exc:
            raise InvalidSeal("wrapped key does not open with this private key") from exc

    def sign(self, private: bytes, msg: bytes) -> bytes:
        r, s = decode_dss_signature(_p256_private(private).sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public: bytes, msg: bytes, sig: bytes) -> bool:
        if len(sig) != 64:
            return False
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def digest(self, data: bytes) -> bytes:
        return sha256(data)

    def seal_data(self, dek: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return AESGCM(dek).encrypt(nonce, plaintext, aad)

    def open_data(self, dek: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise InvalidSeal("sealed data has the wrong shape")
        try:
            return AESGCM(dek).decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError) as exc:
            raise InvalidSeal("sealed data failed its integrity check") from exc


SUITES: dict[str, Suite] = {"SM": SMSuite(), "NIST": NistSuite()}


def public_key_ok(suite: str, signing: bool, public: bytes) -> bool:
    """Whether `public` is a public key of `suite` ("SM" or "NIST") as serialised above, for signing (`signing`)
    or for a recipient: an SM2 point; a P-256 point, uncompressed; 32 bytes of X25519."""
    if suite == "SM":
        return sm2.is_point(public)
    if not signing:
        return len(public) == 32
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        return False
    return len(public) == 65


def private_key_ok(suite: str, private: bytes) -> bool:
    """Whether `private` is a private key of `suite` as serialised above: a 32-byte scalar (in range, for SM2)."""
    if suite != "SM":
        return len(private) == 32
    try:
        sm2.check_private(private)
    except ValueError:
        return False
    return True


def get_suite(name: str) -> Suite:
    """The suite called `name` ("SM" or "NIST"); ConfigError naming the choices otherwise."""
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"算法套件 {name!r} 未知，应为 {' 或 '.join(sorted(SUITES))}：请检查 "
                          f"schemas/catalog/departments.yaml 中该部门的 suite (unknown cipher suite {name!r}; choose "
                          f"one of {sorted(SUITES)})") from None
