"""Gateway signing: what a signed request carries and what the verifier refuses."""

from __future__ import annotations

import requests

from lianban.crypto.hashing import sm3_hex
from lianban.wire.gateway import GatewayAuth, GatewayVerifier, InMemoryNonces, body_sm3, sign_headers

APP, SECRET, PATH, BODY = "hub", "secret", "/api/v1/cases:status?x=1", b'{"keys": []}'
NOW = 1_700_000_000


def verifier(now: float = NOW) -> GatewayVerifier:
    return GatewayVerifier({APP: SECRET}, clock=lambda: now)


def signed(**kw: object) -> dict[str, str]:
    return sign_headers(APP, SECRET, "POST", PATH, BODY, timestamp=NOW, **kw)  # type: ignore[arg-type]


def test_a_correctly_signed_request_passes() -> None:
    headers = signed()
    assert set(headers) == {"X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert len(headers["X-Signature"]) == 64  # SM3 is 256 bits
    assert verifier().verify("POST", PATH, headers, BODY) is None


def test_headers_are_matched_case_insensitively() -> None:
    lower = {k.lower(): v for k, v in signed().items()}
    assert verifier().verify("post", PATH, lower, BODY) is None


def test_any_change_breaks_the_signature() -> None:
    v = verifier()
    assert "签名" in (v.verify("POST", PATH, signed(), b'{"keys": ["k"]}') or "")
    assert "签名" in (v.verify("POST", "/api/v1/cases:status?x=2", signed(), BODY) or "")
    assert "签名" in (v.verify("GET", PATH, signed(), BODY) or "")
    wrong_key = sign_headers(APP, "guess", "POST", PATH, BODY, timestamp=NOW)
    assert "签名" in (v.verify("POST", PATH, wrong_key, BODY) or "")


def test_timestamp_outside_five_minutes_is_refused() -> None:
    headers = signed()
    assert verifier(NOW + 300).verify("POST", PATH, headers, BODY) is None
    assert "时间戳" in (verifier(NOW + 301).verify("POST", PATH, signed(), BODY) or "")
    assert "时间戳" in (verifier(NOW - 301).verify("POST", PATH, signed(), BODY) or "")


def test_a_replayed_nonce_is_refused_but_a_forged_one_does_not_burn_it() -> None:
    v = verifier()
    headers = signed(nonce="ab" * 16)
    forged = {**headers, "X-Signature": "00" * 32}
    assert v.verify("POST", PATH, forged, BODY)  # refused, nonce not remembered
    assert v.verify("POST", PATH, headers, BODY) is None
    assert "重放" in (v.verify("POST", PATH, headers, BODY) or "")


def test_missing_headers_and_unknown_app_are_refused() -> None:
    v = verifier()
    assert "缺少" in (v.verify("POST", PATH, {}, BODY) or "")
    other = sign_headers("someone", SECRET, "POST", PATH, BODY, timestamp=NOW)
    assert "应用标识" in (v.verify("POST", PATH, other, BODY) or "")


def test_a_timestamp_or_signature_of_odd_characters_is_refused_not_a_crash() -> None:
    """A header read as Latin-1 may hold any byte: "²" is a digit to str.isdigit, "é" no hex."""
    v = verifier()
    assert "时间戳" in (v.verify("POST", PATH, {**signed(), "X-Timestamp": "\u00b2"}, BODY) or "")
    assert "签名" in (v.verify("POST", PATH, {**signed(), "X-Signature": "\u00e9" * 64}, BODY) or "")


def test_a_timestamp_of_hundreds_of_digits_is_refused_not_a_crash() -> None:
    """Too large for a float (and, past 4,300 digits, for int()): it was an OverflowError, a 500 to the sender."""
    v = verifier()
    for digits in (400, 5000):
        assert "时间戳" in (v.verify("POST", PATH, {**signed(), "X-Timestamp": "9" * digits}, BODY) or "")


def test_requests_auth_signs_path_with_query_and_exact_body() -> None:
    prepared = requests.Request("POST", "http://gw.invalid" + PATH, data=BODY, auth=GatewayAuth(APP, SECRET)).prepare()
    import time

    v = GatewayVerifier({APP: SECRET}, clock=time.time)
    assert v.verify("POST", PATH, dict(prepared.headers), BODY) is None
    assert SECRET not in repr(GatewayAuth(APP, SECRET)) and SECRET not in repr(v)


def test_the_body_digest_is_the_one_signed_and_follows_a_replaced_body() -> None:
    prepared = requests.Request("POST", "http://gw.invalid" + PATH, data=BODY, auth=GatewayAuth(APP, SECRET)).prepare()
    assert body_sm3(prepared) == sm3_hex(BODY)  # the signer's, kept for the answer's proof
    prepared.body = BODY + b" "  # a body replaced after signing is hashed afresh, never the old digest
    assert body_sm3(prepared) == sm3_hex(BODY + b" ")
    prepared.body = "text"
    assert body_sm3(prepared) == sm3_hex(b"text")


def test_an_overlong_nonce_is_refused_before_it_is_remembered() -> None:
    assert "过长" in (verifier().verify("POST", PATH, signed(nonce="a" * 65), BODY) or "")
    assert verifier().verify("POST", PATH, signed(nonce="a" * 64), BODY) is None


def test_the_signer_is_read_from_the_headers_whatever_their_case() -> None:
    assert GatewayVerifier.signer({"x-app-id": "dept"}) == "dept"
    assert GatewayVerifier.signer({}) == ""


def test_the_in_memory_nonces_forget_only_notes_older_than_the_horizon() -> None:
    nonces = InMemoryNonces()
    assert nonces.remember(APP, "n1", now=100.0, horizon=0.0)
    assert not nonces.remember(APP, "n1", now=150.0, horizon=100.0)  # noted at the horizon: still remembered
    assert nonces.remember("other", "n1", now=150.0, horizon=100.0)  # another app's nonce is not a replay
    assert nonces.remember(APP, "n1", now=201.0, horizon=100.5)  # aged out: no longer a replay


def test_a_note_made_with_the_clock_set_back_is_forgotten_in_its_turn_not_early() -> None:
    """Notes are forgotten from the oldest noted; one noted after a newer one (the clock set back) waits behind it,
    but a replay is still judged by its own time."""
    nonces = InMemoryNonces()
    assert nonces.remember(APP, "late", now=100.0, horizon=0.0)
    assert nonces.remember(APP, "early", now=50.0, horizon=0.0)
    assert not nonces.remember(APP, "early", now=60.0, horizon=40.0)
    assert nonces.remember(APP, "early", now=90.0, horizon=60.0)  # expired, though kept behind "late"
    assert not nonces.remember(APP, "early", now=95.0, horizon=60.0)  # noted afresh at 90
    assert not nonces.remember(APP, "late", now=95.0, horizon=60.0)


def test_the_in_memory_nonces_hold_only_the_window() -> None:
    """A day of requests a second, each window 600 s: the memory holds about one window's worth, not the day."""
    nonces = InMemoryNonces()
    for second in range(86_400):
        assert nonces.remember(APP, f"n{second}", now=float(second), horizon=second - 600.0)
    assert len(nonces._seen) == 601
