"""Gateway request signing, the way Chinese government API gateways (政务服务网关) do it.

Every request to a department's REST gateway or to 皖事通办 carries four headers::

    X-App-Id     the caller's application id (应用标识)
    X-Timestamp  unix seconds when the request was signed
    X-Nonce      32 random hex characters, never reused
    X-Signature  hex SM3-HMAC, keyed with the app secret, over
                 "\\n".join([METHOD, path-with-query, timestamp, nonce, sm3_hex(body)])

:func:`sign_headers` and :class:`GatewayAuth` sign on the client side; :class:`GatewayVerifier` checks on
the server side and answers with a Chinese reason, or None when the request may pass. The verifier refuses a
bad signature, a timestamp more than :data:`MAX_SKEW_SECONDS` away from its clock, and a nonce it has seen.
Where it remembers nonces is a :class:`NonceMemory`: :class:`InMemoryNonces` for one process (the SMS and 皖事通办
simulators), a table shared by every worker otherwise, so a replay sent to another worker is refused too: the
ledger's for the hub's server (``lianban.ledger.nonces``), the department's own database for a simulated REST
department (``simulators.engine``). Secrets never appear in a header, a reason or a repr.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

import requests

from lianban.crypto.hashing import hmac_sm3_hex, sm3_hex

__all__ = ["GATEWAY_ERRORS", "MAX_SKEW_SECONDS", "GatewayAuth", "GatewayVerifier", "InMemoryNonces", "NonceMemory",
           "body_sm3", "sign_headers"]

HEADER_APP_ID = "X-App-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"
MAX_SKEW_SECONDS = 300
NONCE_BYTES = 16
MAX_NONCE_CHARS = 64
MAX_TIMESTAMP_CHARS = 12  # unix seconds have 10 digits until the year 2286

#: error codes every signed gateway answers with, whoever runs it (a department, 皖事通办) → meaning;
#: a department's own table adds its codes to these
GATEWAY_ERRORS: dict[str, str] = {
    "AUTH": "网关认证失败：应用标识、时间戳、随机数或签名无效",
    "BAD_JSON": "请求体不是合法的 JSON",
    "INVALID_REQUEST": "请求体不符合接口规范",
    "TOO_LARGE": "请求体超过大小限制",
}


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The canonical text both sides sign: method, path (with query), timestamp, nonce, SM3 of the body."""
    return _text_to_sign(method, path, timestamp, nonce, sm3_hex(body))


def _text_to_sign(method: str, path: str, timestamp: str, nonce: str, body_digest: str) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, body_digest])


def body_sm3(r: requests.PreparedRequest) -> str:
    """SM3 (hex) of the bytes `r` sends, worked out once per request: the signature covers it and the answer's
    proof records it (a push of 1,000 events is about 1 MB). Kept on the request with the body it was taken
    of, so a body replaced since is hashed afresh."""
    body = r.body or b""
    kept = getattr(r, _DIGEST_KEPT, None)
    if kept is not None and kept[0] is body:
        return str(kept[1])
    digest = sm3_hex(body.encode() if isinstance(body, str) else body)
    setattr(r, _DIGEST_KEPT, (body, digest))
    return digest


_DIGEST_KEPT = "_lianban_body_sm3"


def signature(secret: str, text: str) -> str:
    """Hex SM3-HMAC of `text` keyed with `secret`."""
    return hmac_sm3_hex(secret.encode(), text)


def sign_headers(app_id: str, secret: str, method: str, path: str, body: bytes,
                 timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four gateway headers for one request; `timestamp` and `nonce` default to now and fresh random."""
    return _signed_headers(app_id, secret, method, path, sm3_hex(body), timestamp, nonce)


def _signed_headers(app_id: str, secret: str, method: str, path: str, body_digest: str,
                    timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(NONCE_BYTES)
    sig = signature(secret, _text_to_sign(method, path, ts, nonce, body_digest))
    return {HEADER_APP_ID: app_id, HEADER_TIMESTAMP: ts, HEADER_NONCE: nonce, HEADER_SIGNATURE: sig}


class GatewayAuth(requests.auth.AuthBase):
    """Signs every prepared request (path including query, exact body bytes) with the gateway headers."""

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id = app_id
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(_signed_headers(self.app_id, self._secret, r.method or "GET", r.path_url, body_sm3(r)))
        return r

    def __repr__(self) -> str:
        return f"GatewayAuth(app_id={self.app_id!r})"


class NonceMemory(Protocol):
    """Where a verifier remembers the nonces it let through."""

    def remember(self, app_id: str, nonce: str, now: float, horizon: float) -> bool:
        """Note (app_id, nonce) at `now`; False when it was noted before. Notes older than `horizon` may go."""
        ...


class InMemoryNonces:
    """One process's nonce memory (thread-safe). Behind several workers a replay sent to another worker
    would pass: use the ledger's (``lianban.ledger.nonces.LedgerNonces``) there."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # in the order noted
        self._lock = threading.Lock()

    def remember(self, app_id: str, nonce: str, now: float, horizon: float) -> bool:
        """Notes older than `horizon` go from the front, so each call costs what it forgets, not all it holds. A
        note behind a newer one (the clock set back) waits for that one: kept longer, never forgotten early."""
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < horizon:
                self._seen.popitem(last=False)
            seen = self._seen.get((app_id, nonce))
            if seen is not None and seen >= horizon:
                return False
            self._seen.pop((app_id, nonce), None)  # an expired note kept behind a newer one: noted afresh
            self._seen[(app_id, nonce)] = now
            return True


class GatewayVerifier:
    """Server side: checks the gateway headers and remembers nonces for twice the allowed clock skew.

    ``verify`` returns None when the request may pass, otherwise a Chinese reason for the 401 answer.
    Thread-safe; a nonce is only remembered once its signature checked out, so forged requests cannot
    burn nonces. Who signed a passing request: :meth:`signer`.
    """

    def __init__(self, credentials: Mapping[str, str], max_skew: int = MAX_SKEW_SECONDS,
                 clock: Callable[[], float] = time.time, nonces: NonceMemory | None = None) -> None:
        self._credentials = dict(credentials)
        self.max_skew = max_skew
        self._clock = clock
        self._nonces: NonceMemory = nonces or InMemoryNonces()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str | None:
        h = {k.lower(): v for k, v in headers.items()}
        app_id, ts, nonce, sig = (h.get(n.lower(), "") for n in
                                  (HEADER_APP_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE))
        if not (app_id and ts and nonce and sig):
            return "缺少网关签名请求头（X-App-Id、X-Timestamp、X-Nonce、X-Signature）"
        if len(nonce) > MAX_NONCE_CHARS:
            return f"请求随机数过长（最多{MAX_NONCE_CHARS}个字符）"
        secret = self._credentials.get(app_id)
        if secret is None:
            return "应用标识未注册，请核对 X-App-Id"
        now = self._clock()
        fits = ts.isascii() and ts.isdigit() and len(ts) <= MAX_TIMESTAMP_CHARS  # "²" is a digit to isdigit
        if not fits or abs(now - int(ts)) > self.max_skew:  # 400 digits: too large for a float, so refused first
            return f"请求时间戳超出允许范围（±{self.max_skew}秒），请校准服务器时钟"
        expected = signature(secret, string_to_sign(method, path, ts, nonce, body))
        if not secrets.compare_digest(expected.encode(), sig.lower().encode("utf-8", "replace")):  # any header bytes
            return "签名校验失败，请核对应用密钥与签名算法"
        if not self._nonces.remember(app_id, nonce, now, now - 2 * self.max_skew):
            return "请求随机数已被使用，疑似重放请求，已拒绝"
        return None

    @staticmethod
    def signer(headers: Mapping[str, str]) -> str:
        """The app id a request claims (to be trusted only once :meth:`verify` passed)."""
        return next((v for k, v in headers.items() if k.lower() == HEADER_APP_ID.lower()), "")

    def __repr__(self) -> str:
        return f"GatewayVerifier(apps={sorted(self._credentials)}, max_skew={self.max_skew})"
