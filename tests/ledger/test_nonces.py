"""The gateway's nonce memory in the ledger: two workers of one server refuse each other's replays, and two
processes of the hub each other's replayed answers."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import get_suite
from lianban.keys import keysets
from lianban.ledger.db import session_factory
from lianban.ledger.nonces import LedgerNonces
from lianban.wire.gateway import GatewayVerifier, sign_headers
from lianban.wire.signatures import ResponseVerifier, SignatureAlert, sign, signed_text

APP, SECRET, PATH, BODY = "lianban-health", "s3cret", "/api/v1/departments/health/status", b'{"statuses": []}'
NOW = 1_800_000_000
ACK_PATH, ACK = "/api/v1/banjian/progress", b'{"accepted": 3, "duplicates": 0}'
PUSHED = sm3_hex(b'{"events": []}')  # the push the acknowledgement answers


def worker(ledger_url: str, now: float = NOW) -> GatewayVerifier:
    return GatewayVerifier({APP: SECRET}, clock=lambda: now, nonces=LedgerNonces(session_factory(ledger_url)))


def test_a_request_replayed_to_another_worker_is_refused(ledger_url: str) -> None:
    headers = sign_headers(APP, SECRET, "POST", PATH, BODY, timestamp=NOW)
    assert worker(ledger_url).verify("POST", PATH, headers, BODY) is None
    assert "重放" in (worker(ledger_url).verify("POST", PATH, headers, BODY) or "")


def test_the_same_nonce_from_another_app_is_not_a_replay(ledger_url: str) -> None:
    nonces = LedgerNonces(session_factory(ledger_url))
    assert nonces.remember(APP, "ab" * 16, NOW, NOW - 600)
    assert nonces.remember("lianban-housing_fund", "ab" * 16, NOW, NOW - 600)
    assert not nonces.remember(APP, "ab" * 16, NOW + 1, NOW - 599)


def test_nonces_are_forgotten_once_their_requests_would_be_stale_anyway(ledger_url: str) -> None:
    nonces = LedgerNonces(session_factory(ledger_url))
    assert nonces.remember(APP, "cd" * 16, NOW, NOW - 600)
    assert nonces.remember(APP, "ef" * 16, NOW + 601, NOW + 1)  # prunes the first
    assert nonces.remember(APP, "cd" * 16, NOW + 602, NOW + 2)


def _answer_check(ledger_url: str, keys: keysets.KeySet, party: str = "wanshi_tong") -> ResponseVerifier:
    """How one process (or run) of the hub checks a party's signed answers."""
    return ResponseVerifier(party, get_suite(keys.suite), keys.public, nonces=LedgerNonces(session_factory(ledger_url)))


def test_a_signed_answer_replayed_to_another_process_of_the_hub_is_refused(ledger_url: str, tmp_path: Path) -> None:
    """Each process remembered the answers' nonces on its own: an acknowledgement 皖事通办 signed for one push,
    replayed within its 5 minutes to the next run's push of as many events, was taken there, and the hub marked
    events reported that the platform never had."""
    keys = keysets.ensure(tmp_path, "wanshi_tong-signing")
    kid, private = keys.active_private()
    header = sign(get_suite(keys.suite), kid, private, 200, ACK_PATH, ACK, PUSHED)
    _answer_check(ledger_url, keys).verify(header, 200, ACK_PATH, ACK, PUSHED)
    with pytest.raises(SignatureAlert, match="重放"):
        _answer_check(ledger_url, keys).verify(header, 200, ACK_PATH, ACK, PUSHED)
    _answer_check(ledger_url, keys, party="health").verify(header, 200, ACK_PATH, ACK, PUSHED)  # another party's memory


def test_an_answer_nonce_longer_than_the_table_holds_is_remembered_by_its_digest(ledger_url: str,
                                                                                tmp_path: Path) -> None:
    keys = keysets.ensure(tmp_path, "wanshi_tong-signing")
    kid, private = keys.active_private()
    suite, ts, nonce = get_suite(keys.suite), str(int(time.time())), "n" * 100
    sig = base64.b64encode(suite.sign(private, signed_text(ts, nonce, 200, ACK_PATH, ACK, PUSHED))).decode()
    header = f"v=2;kid={kid};ts={ts};nonce={nonce};sig={sig}"
    _answer_check(ledger_url, keys).verify(header, 200, ACK_PATH, ACK, PUSHED)
    with pytest.raises(SignatureAlert, match="重放"):
        _answer_check(ledger_url, keys).verify(header, 200, ACK_PATH, ACK, PUSHED)
