"""The 查询密码 at rest (lianban.crypto.passwords): an SM3-HMAC with the hub's own key, bound to its case, that
verifies only its password; the earlier scrypt hashes still verify and ask to be stored again."""

from __future__ import annotations

import base64
import hashlib
import time

from lianban.crypto.passwords import LEGACY_COST, Verdict, hash_password, new_password, verify_password

KEY = ("q1", b"k" * 16)
KEYS = {"q1": KEY[1]}
CASE = "BZTX202612000001"


def test_a_hash_verifies_its_password_only_and_never_holds_it() -> None:
    stored = hash_password("135790", CASE, KEY)
    assert "135790" not in stored and stored.startswith("sm3hmac$q1$")
    assert verify_password("135790", CASE, stored, KEYS.get) is Verdict.YES
    assert verify_password("135791", CASE, stored, KEYS.get) is Verdict.NO


def test_a_hash_copied_onto_another_case_does_not_open_it() -> None:
    stored = hash_password("135790", CASE, KEY)
    assert verify_password("135790", "BZTX202612000002", stored, KEYS.get) is Verdict.NO


def test_without_the_key_nothing_verifies() -> None:
    stored = hash_password("135790", CASE, KEY)
    assert verify_password("135790", CASE, stored, {}.get) is Verdict.NO  # retired or unknown key
    assert hash_password("135790", CASE, ("q2", b"x" * 16)) != stored


def test_a_match_under_a_key_no_longer_active_asks_to_be_stored_again() -> None:
    stored = hash_password("135790", CASE, KEY)
    keys = {**KEYS, "q2": b"x" * 16}
    assert verify_password("135790", CASE, stored, keys.get, active="q1") is Verdict.YES
    assert verify_password("135790", CASE, stored, keys.get, active="q2") is Verdict.YES_REHASH
    assert verify_password("135791", CASE, stored, keys.get, active="q2") is Verdict.NO


def test_no_stored_hash_costs_as_much_as_a_wrong_password() -> None:
    stored = hash_password("135790", CASE, KEY)

    def took(stored_hash: str | None) -> float:
        started = time.perf_counter()
        for _ in range(200):
            assert verify_password("000000", CASE, stored_hash, KEYS.get) is Verdict.NO
        return time.perf_counter() - started

    known, unknown = min(took(stored) for _ in range(5)), min(took(None) for _ in range(5))
    assert 0.5 < unknown / known < 2
    assert verify_password("000000", CASE, "not a hash", KEYS.get) is Verdict.NO


def test_an_earlier_scrypt_hash_still_opens_and_asks_to_be_stored_again() -> None:
    salt = b"s" * 16
    digest = hashlib.scrypt(b"246810", salt=salt, n=2 ** 10, r=8, p=1, dklen=32)
    stored = f"scrypt$10$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password("246810", CASE, stored, KEYS.get) is Verdict.YES_REHASH
    assert verify_password("246811", CASE, stored, KEYS.get) is Verdict.NO
    assert verify_password("246810", CASE, "scrypt$99$8$1$x$y", KEYS.get) is Verdict.NO


def test_while_earlier_hashes_remain_every_other_check_pays_one_scrypt_at_their_cost(
        scrypts: list[tuple[int, int, int]]) -> None:
    keyed = hash_password("135790", CASE, KEY)
    for stored in (None, keyed, "not a hash"):  # no case (or an unreadable hash), and a keyed case
        assert verify_password("000000", CASE, stored, KEYS.get, legacy_remain=True) is Verdict.NO
    assert verify_password("135790", CASE, keyed, KEYS.get, legacy_remain=True) is Verdict.YES
    assert scrypts == [LEGACY_COST] * 4


def test_without_earlier_hashes_no_check_pays_a_scrypt(scrypts: list[tuple[int, int, int]]) -> None:
    for stored in (None, hash_password("135790", CASE, KEY)):
        assert verify_password("000000", CASE, stored, KEYS.get) is Verdict.NO
    assert scrypts == []


def test_new_passwords_are_six_random_digits() -> None:
    drawn = {new_password() for _ in range(50)}
    assert all(len(p) == 6 and p.isdigit() for p in drawn) and len(drawn) > 40
