"""SM4-GCM envelopes bound to their delivery, SM3 digests and blind indexes (lianban.crypto.vault)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lianban.crypto.hashing import blind_index, sm3_hex
from lianban.crypto.vault import open_envelope, open_plaintext, seal
from lianban.errors import RejectedError
from lianban.keys.rings import KeyRing, ensure_ring, rotate_ring

PAYLOAD = {"name": "测试人", "id_number": "34162219650115003X", "contribution_months": 300}
AAD = "idem-1|BZTX202502000001|11"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return ensure_ring(tmp_path, "medical")


def flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip_hides_the_plaintext(ring: KeyRing) -> None:
    envelope = seal(ring, PAYLOAD, AAD)
    assert envelope["alg"] == "SM4-GCM" and envelope["kid"] == ring.active and envelope["aad"] == AAD
    assert "测试人" not in str(envelope) and "34162219650115003X" not in str(envelope)
    assert open_envelope(ring, envelope, expect_aad=AAD) == PAYLOAD
    assert seal(ring, PAYLOAD, AAD)["nonce"] != envelope["nonce"]


def test_the_plaintext_opens_as_the_compact_json_sealed_and_is_refused_alike(ring: KeyRing) -> None:
    envelope = seal(ring, PAYLOAD, AAD)
    assert open_plaintext(ring, envelope, AAD) == json.dumps(PAYLOAD, ensure_ascii=False,
                                                             separators=(",", ":")).encode()
    with pytest.raises(RejectedError) as caught:
        open_plaintext(ring, {**envelope, "ct": flip(envelope["ct"])}, AAD)
    assert caught.value.code == "SEAL" and "测试人" not in f"{caught.value} {caught.value.reason}"


_VALUES = st.one_of(st.text(alphabet=st.characters(codec="utf-8")), st.integers(-(2 ** 63), 2 ** 63 - 1),
                   st.booleans(), st.none())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(alphabet=st.characters(codec="utf-8")), _VALUES, max_size=12))
def test_any_payload_of_text_numbers_and_flags_is_sealed_as_json_dumps_compact_bytes(
        ring: KeyRing, payload: dict[str, Any]) -> None:
    """Control characters, quotes, backslashes, U+2028 and every plane: what a department opens is the text
    json.dumps writes (compact, non-ASCII as it is), whichever encoder the vault uses."""
    expected = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert open_plaintext(ring, seal(ring, payload, AAD), AAD) == expected
    assert json.loads(expected) == payload


@pytest.mark.parametrize(
    ("field", "damage"),
    [("ct", flip), ("nonce", flip), ("aad", lambda a: a + "x"), ("kid", lambda k: k + "-old"),
     ("alg", lambda _: "AES-GCM")],
)
def test_tampering_is_refused_with_a_chinese_reason(ring: KeyRing, field: str, damage: Any) -> None:
    envelope = seal(ring, PAYLOAD, AAD)
    with pytest.raises(RejectedError) as caught:
        open_envelope(ring, {**envelope, field: damage(envelope[field])})
    assert caught.value.code == "SEAL"
    assert "测试人" not in f"{caught.value} {caught.value.reason}"
    assert any("\u4e00" <= c <= "\u9fff" for c in caught.value.reason)


@pytest.mark.parametrize("stored", [None, 3, "alg kid nonce aad ct", ["aad", "kid"],
                                    ["v", "kid", "aad", "alg", "nonce", "ct"]])
def test_an_envelope_that_is_no_object_is_refused_as_a_bad_seal(ring: KeyRing, stored: Any) -> None:
    """What a damaged at-rest column decodes to (JSON null, a number, a list of names) is refused, not a crash."""
    for opener in (open_plaintext, open_envelope):
        with pytest.raises(RejectedError) as caught:
            opener(ring, stored, AAD)
        assert caught.value.code == "SEAL" and caught.value.reason == "数据包格式不完整，无法解密"


def test_an_envelope_whose_payload_is_no_object_does_not_open_as_one(ring: KeyRing) -> None:
    envelope = seal(ring, ["not", "an", "object"], AAD)  # type: ignore[arg-type]
    with pytest.raises(RejectedError) as caught:
        open_envelope(ring, envelope, AAD)
    assert caught.value.code == "SEAL"


def test_envelope_moved_to_another_delivery_is_refused(ring: KeyRing) -> None:
    envelope = seal(ring, PAYLOAD, AAD)
    with pytest.raises(RejectedError) as caught:
        open_envelope(ring, envelope, expect_aad="idem-2|BZTX202502000001|12")
    assert caught.value.code == "SEAL"


def test_another_departments_ring_cannot_open(tmp_path: Path, ring: KeyRing) -> None:
    envelope = seal(ring, PAYLOAD, AAD)
    other = ensure_ring(tmp_path, "health")
    with pytest.raises(RejectedError, match="key id unknown"):
        open_envelope(other, envelope)


def test_rotation_seals_with_the_new_key_and_still_opens_old_envelopes(tmp_path: Path, ring: KeyRing) -> None:
    old = seal(ring, PAYLOAD, AAD)
    rotated = rotate_ring(tmp_path, "medical")
    new = seal(rotated, PAYLOAD, AAD)
    assert new["kid"] == rotated.active != ring.active == old["kid"]
    assert open_envelope(rotated, old, AAD) == open_envelope(rotated, new, AAD) == PAYLOAD


def test_sm4_known_answer_gb_t_32907() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm3_known_answer_gb_t_32905() -> None:
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_blind_index_is_deterministic_per_key_and_differs_across_keys() -> None:
    k1, k2 = b"\x01" * 16, b"\x02" * 16
    assert blind_index(k1, "34162219650115003X") == blind_index(k1, "34162219650115003X")
    assert blind_index(k1, "34162219650115003X") != blind_index(k2, "34162219650115003X")
    assert blind_index(k1, "34162219650115003X") != blind_index(k1, "341622196501150046")
    assert len(blind_index(k1, "x")) == 64
