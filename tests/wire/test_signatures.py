"""Signed answers: the hub accepts only a fresh, valid signature by a known key over the answer and the request it
answers, once; failures alert."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import pytest

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import get_suite
from lianban.keys import keysets
from lianban.wire.signatures import ResponseVerifier, SignatureAlert, sign, signed_text

SM = get_suite("SM")
BODY = b'{"receipts": []}'
REQUEST = sm3_hex(b'{"items": []}')  # the SM3 of the request body the answers answer
PATH = "/soap/medical"


@pytest.fixture
def keys(tmp_path: Path) -> keysets.KeySet:
    return keysets.ensure(tmp_path, "medical-signing")


def _verifier(keys: keysets.KeySet) -> ResponseVerifier:
    return ResponseVerifier("medical", SM, keys.public)


def _header(keys: keysets.KeySet, body: bytes = BODY, status: int = 200, path: str = PATH) -> str:
    kid, private = keys.active_private()
    return sign(SM, kid, private, status, path, body, REQUEST)


def test_a_valid_answer_passes_and_gives_the_digest_of_the_body_it_covers(keys: keysets.KeySet) -> None:
    assert _verifier(keys).verify(_header(keys), 200, PATH, BODY, REQUEST) == sm3_hex(BODY)


@pytest.mark.parametrize(("what", "status", "path", "body", "request_digest"), [
    ("body", 200, PATH, b'{"receipts": [1]}', REQUEST),
    ("status", 500, PATH, BODY, REQUEST),
    ("path", 200, "/api/v1/other", BODY, REQUEST),
    ("request", 200, PATH, BODY, sm3_hex(b'{"items": [1]}')),  # a genuine answer, to another request
])
def test_any_change_to_the_answer_or_its_request_fails(keys: keysets.KeySet, what: str, status: int, path: str,
                                                       body: bytes, request_digest: str) -> None:
    with pytest.raises(SignatureAlert, match="签名无效"):
        _verifier(keys).verify(_header(keys), status, path, body, request_digest)


def test_missing_unknown_or_replayed_signatures_alert(keys: keysets.KeySet, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    verifier = _verifier(keys)
    stranger = keysets.ensure(tmp_path / "other", "medical-signing")
    header = _header(keys)
    verifier.verify(header, 200, PATH, BODY, REQUEST)
    with caplog.at_level(logging.ERROR), pytest.raises(SignatureAlert, match="重放"):
        verifier.verify(header, 200, PATH, BODY, REQUEST)
    assert "告警" in caplog.text
    with pytest.raises(SignatureAlert, match="缺少签名"):
        verifier.verify(None, 200, PATH, BODY, REQUEST)
    with pytest.raises(SignatureAlert, match="未知或已停用"):
        verifier.verify(_header(stranger), 200, PATH, BODY, REQUEST)


def test_a_stale_answer_is_refused(keys: keysets.KeySet, monkeypatch: pytest.MonkeyPatch) -> None:
    header = _header(keys)
    later = time.time() + 301
    monkeypatch.setattr("lianban.wire.signatures.time.time", lambda: later)
    with pytest.raises(SignatureAlert, match="窗口"):
        _verifier(keys).verify(header, 200, PATH, BODY, REQUEST)


def test_a_header_missing_a_field_is_malformed_even_with_extra_fields(keys: keysets.KeySet) -> None:
    header = ";".join(p for p in _header(keys).split(";") if not p.startswith("nonce=")) + ";extra=1"
    with pytest.raises(SignatureAlert, match="签名格式错误"):
        _verifier(keys).verify(header, 200, PATH, BODY, REQUEST)


def test_a_replay_is_refused_even_once_the_nonce_memory_is_full(keys: keysets.KeySet) -> None:
    """Found in review: a full memory forgot its oldest nonce though it was still inside the window, and a replay
    of that answer then passed. Now a new answer waits (SignatureAlert: retried later) until a nonce ages out."""
    verifier = ResponseVerifier("medical", SM, keys.public, capacity=2)
    first = _header(keys)
    verifier.verify(first, 200, PATH, BODY, REQUEST)
    verifier.verify(_header(keys), 200, PATH, BODY, REQUEST)
    with pytest.raises(SignatureAlert, match="上限"):
        verifier.verify(_header(keys), 200, PATH, BODY, REQUEST)
    with pytest.raises(SignatureAlert, match="重放"):
        verifier.verify(first, 200, PATH, BODY, REQUEST)


def test_nonces_older_than_the_window_make_room(keys: keysets.KeySet, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = ResponseVerifier("medical", SM, keys.public, capacity=1)
    verifier.verify(_header(keys), 200, PATH, BODY, REQUEST)
    later = time.time() + 2 * verifier.max_skew + 1
    monkeypatch.setattr("lianban.wire.signatures.time.time", lambda: later)
    assert verifier.verify(_header(keys), 200, PATH, BODY, REQUEST) == sm3_hex(BODY)


@pytest.mark.parametrize("ts", ["nan", "NaN", "inf", "-inf"])
def test_a_signed_time_that_is_no_moment_is_stale(keys: keysets.KeySet, ts: str) -> None:
    """Python reads "nan" as a float that every comparison calls false: a department's signer that wrote it would
    have had its answers taken as fresh, and replayable once their nonces were forgotten."""
    kid, private = keys.active_private()
    sig = base64.b64encode(SM.sign(private, signed_text(ts, "n1", 200, PATH, BODY, REQUEST))).decode()
    with pytest.raises(SignatureAlert, match="窗口"):
        _verifier(keys).verify(f"v=2;kid={kid};ts={ts};nonce=n1;sig={sig}", 200, PATH, BODY, REQUEST)


def test_a_version_1_signature_which_covers_no_request_is_refused(keys: keysets.KeySet) -> None:
    """Version 1 signed the answer alone: valid as it may be, it does not say which request it answers."""
    kid, private = keys.active_private()
    ts = str(int(time.time()))
    text = f"v1\n{ts}\nn1\n200\n{PATH}\n{sm3_hex(BODY)}".encode()
    header = f"v=1;kid={kid};ts={ts};nonce=n1;sig={base64.b64encode(SM.sign(private, text)).decode()}"
    with pytest.raises(SignatureAlert, match="v=2"):
        _verifier(keys).verify(header, 200, PATH, BODY, REQUEST)
