"""The 查询密码 at rest (lianban.crypto.passwords): a salted scrypt hash that verifies only its password."""

from __future__ import annotations

import time

from lianban.crypto.passwords import hash_password, new_password, verify_password


def test_a_hash_verifies_its_password_only_and_never_holds_it() -> None:
    stored = hash_password("135790")
    assert "135790" not in stored and stored.startswith("scrypt$")
    assert verify_password("135790", stored) and not verify_password("135791", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("135790") != hash_password("135790")


def test_no_stored_hash_costs_as_much_as_a_wrong_password() -> None:
    stored = hash_password("135790")

    def took(stored_hash: str | None) -> float:
        started = time.perf_counter()
        assert not verify_password("000000", stored_hash)
        return time.perf_counter() - started

    took(None)  # the dummy hash is made once, on first use
    known, unknown = min(took(stored) for _ in range(3)), min(took(None) for _ in range(3))
    assert 0.5 < unknown / known < 2
    assert not verify_password("000000", "not a hash")


def test_new_passwords_are_six_random_digits() -> None:
    drawn = {new_password() for _ in range(50)}
    assert all(len(p) == 6 and p.isdigit() for p in drawn) and len(drawn) > 40
