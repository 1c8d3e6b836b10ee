"""The gateway's nonce memory in the ledger: two workers of one server refuse each other's replays."""

from __future__ import annotations

from lianban.ledger.db import session_factory
from lianban.ledger.nonces import LedgerNonces
from lianban.wire.gateway import GatewayVerifier, sign_headers

APP, SECRET, PATH, BODY = "lianban-health", "s3cret", "/api/v1/departments/health/status", b'{"statuses": []}'
NOW = 1_800_000_000


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
