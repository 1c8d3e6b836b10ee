"""Known-answer tests: GB/T 32907 SM4, RFC 8998 SM4-GCM, GB/T 32905 SM3 (both engines), SM2 interoperating
with gmssl.

Each test taking ``sm`` runs on both SM2 engines (gmssl-pyx and gmalg, see conftest.py).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2 as gmssl_sm2

from lianban.crypto import hashing
from lianban.crypto.hashing import engines, openssl_hmac, openssl_sm3, sm3
from lianban.crypto.suites import InvalidSeal, KeyPair, SMSuite


def test_sm4_block_matches_gbt_32907_example_1() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


RFC8998_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
RFC8998_IV = bytes.fromhex("00001234567800000000ABCD")
RFC8998_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PT = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                           "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
RFC8998_CT = bytes.fromhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                           "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
RFC8998_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


def test_sm4_gcm_matches_rfc_8998_appendix_a1(sm: SMSuite) -> None:
    sealed = sm.seal_data(RFC8998_KEY, RFC8998_IV, RFC8998_PT, RFC8998_AAD)
    assert sealed == RFC8998_CT + RFC8998_TAG
    assert sm.open_data(RFC8998_KEY, RFC8998_IV, sealed, RFC8998_AAD) == RFC8998_PT


def test_sm4_gcm_refuses_the_rfc_vector_with_another_aad(sm: SMSuite) -> None:
    with pytest.raises(InvalidSeal):
        sm.open_data(RFC8998_KEY, RFC8998_IV, RFC8998_CT + RFC8998_TAG, RFC8998_AAD[:-1])


@pytest.mark.parametrize(("message", "expected"), [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
])
def test_sm3_matches_gbt_32905_examples(sm: SMSuite, message: bytes, expected: str) -> None:
    assert sm3(message).hex() == expected
    assert sm.digest(message).hex() == expected


SM3_ENGINES = {"gmssl-pyx": engines(), "openssl": engines("lianban_no_such_module")}


@pytest.mark.parametrize("engine", SM3_ENGINES)
@pytest.mark.parametrize(("message", "expected"), [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
])
def test_each_sm3_engine_matches_gbt_32905_examples(engine: str, message: bytes, expected: str) -> None:
    digest, _ = SM3_ENGINES[engine]
    assert digest(message).hex() == expected
    assert digest(bytearray(message)).hex() == expected  # any bytes-like, as cryptography's takes


def test_the_sm3_engines_agree_on_hmac_for_keys_and_messages_of_every_length() -> None:
    _, native = SM3_ENGINES["gmssl-pyx"]
    for key_bytes in (0, 1, 16, 32, 63, 64, 65, 200):  # shorter than, as long as and longer than a block (64)
        for message_bytes in (0, 1, 55, 56, 64, 1000):
            key, message = bytes(range(key_bytes)), bytes(reversed(range(256))) * 4
            assert native(key, message[:message_bytes]) == openssl_hmac(key, message[:message_bytes])


def test_the_native_sm3_engine_is_the_one_in_use() -> None:
    assert SM3_ENGINES["openssl"] == (openssl_sm3, openssl_hmac)
    assert hashing._SM3 is not openssl_sm3 and hashing._HMAC is not openssl_hmac  # gmssl-pyx is installed


@pytest.fixture(scope="module")
def sm2_key(sm: SMSuite) -> KeyPair:
    return sm.generate_signing_key()


def _gmssl(key: KeyPair) -> gmssl_sm2.CryptSM2:
    # gmssl takes the point without its 0x04 prefix; mode=1 is the C1C3C2 order of GB/T 32918.4-2016. Set after
    # construction: gmssl's constructor strips "04" with str.lstrip, which also eats an X beginning 0 or 4
    crypt = gmssl_sm2.CryptSM2(public_key="", private_key=key.private.hex(), mode=1)
    crypt.public_key = key.public[1:].hex()
    return crypt


def test_a_key_whose_x_begins_with_04_interoperates_too(sm: SMSuite) -> None:
    """One random key in 256 has an X beginning 0x04 (gmssl's constructor would strip it): it made CI fail."""
    key = next(k for k in (sm.generate_signing_key() for _ in range(20_000)) if k.public[1] == 0x04)
    message = b"batch header"
    assert _gmssl(key).verify_with_sm3(sm.sign(key.private, message).hex(), message)
    assert sm.verify(key.public, message, bytes.fromhex(_gmssl(key).sign_with_sm3(message)))


def test_sm2_signature_by_the_suite_verifies_with_gmssl(sm: SMSuite, sm2_key: KeyPair) -> None:
    message = "退休一件事 批次签名".encode()
    signature = sm.sign(sm2_key.private, message)
    assert _gmssl(sm2_key).verify_with_sm3(signature.hex(), message)
    assert not _gmssl(sm2_key).verify_with_sm3(signature.hex(), message + b"!")


def test_sm2_signature_by_gmssl_verifies_with_the_suite(sm: SMSuite, sm2_key: KeyPair) -> None:
    message = b"batch header"
    signature = bytes.fromhex(_gmssl(sm2_key).sign_with_sm3(message))
    assert sm.verify(sm2_key.public, message, signature)
    assert not sm.verify(sm2_key.public, b"batch headers", signature)


def test_sm2_key_wrap_interoperates_with_gmssl(sm: SMSuite, sm2_key: KeyPair) -> None:
    dek = bytes(range(16))
    assert _gmssl(sm2_key).decrypt(sm.wrap(sm2_key.public, dek)[1:]) == dek
    assert sm.unwrap(sm2_key.private, b"\x04" + _gmssl(sm2_key).encrypt(dek)) == dek
