"""Signed answers: every department response carries an SM2 (or ECDSA) signature the hub verifies.

Header ``X-Lianban-Signature: v=1;kid=<kid>;ts=<unix>;nonce=<hex>;sig=<b64>`` over
``"v1\\n{ts}\\n{nonce}\\n{status}\\n{path}\\n" + SM3(body)``. The hub refuses an unknown key, a bad
signature, a timestamp outside the window and a nonce it has seen: a failed check is an alert
(:class:`SignatureAlert`, retried later, never a silent drop).
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import Suite, get_suite
from lianban.errors import RetriableError
from lianban.keys import keysets
from lianban.keys.names import names_for

HEADER = "X-Lianban-Signature"
MAX_SKEW = 300.0
log = logging.getLogger("lianban.alerts")


class SignatureAlert(RetriableError):
    """A department answer failed verification: not trusted, not applied, retried; operators are alerted."""


def signed_text(ts: str, nonce: str, status: int, path: str, body: bytes) -> bytes:
    return f"v1\n{ts}\n{nonce}\n{status}\n{path}\n{sm3_hex(body)}".encode()


def sign(suite: Suite, kid: str, private: bytes, status: int, path: str, body: bytes) -> str:
    """The header value for one response."""
    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    sig = base64.b64encode(suite.sign(private, signed_text(ts, nonce, status, path, body))).decode()
    return f"v=1;kid={kid};ts={ts};nonce={nonce};sig={sig}"


def parse_header(value: str) -> dict[str, str]:
    """The fields of a signature header (v, kid, ts, nonce, sig); ValueError when any is missing."""
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    if not {"v", "kid", "ts", "nonce", "sig"} <= parts.keys():
        raise ValueError("incomplete")
    return parts


class ResponseVerifier:
    """Checks response signatures of one department (its public keys by kid) with a replay window."""

    def __init__(self, department: str, suite: Suite, public_keys: Mapping[str, bytes],
                 max_skew: float = MAX_SKEW, capacity: int = 100_000) -> None:
        self.department, self.suite, self.public_keys = department, suite, dict(public_keys)
        self.max_skew, self.capacity = max_skew, capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _alert(self, why: str) -> SignatureAlert:
        log.error("告警 ALERT: %s 应答签名校验失败 (%s)", self.department, why)
        return SignatureAlert(f"{self.department} 应答签名校验失败：{why}（已告警，稍后重试）"
                              f" (response signature check failed: {why})")

    def _fresh(self, ts: str, nonce: str, now: float) -> str | None:
        if abs(now - float(ts)) > self.max_skew:
            return "时间戳超出允许窗口 (stale timestamp)"
        while self._seen and (next(iter(self._seen.values())) < now - 2 * self.max_skew
                              or len(self._seen) >= self.capacity):
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return "随机数重复，疑似重放 (replayed nonce)"
        self._seen[nonce] = now
        return None

    def verify(self, header: str | None, status: int, path: str, body: bytes) -> None:
        """Raise SignatureAlert unless `header` is a valid, fresh signature over this response."""
        if not header:
            raise self._alert("缺少签名 (no signature)")
        try:
            p = parse_header(header)
            key = self.public_keys.get(p["kid"])
            if key is None:
                raise self._alert("签名密钥未知或已停用 (unknown or retired key)")
            if not self.suite.verify(key, signed_text(p["ts"], p["nonce"], status, path, body),
                                     base64.b64decode(p["sig"])):
                raise self._alert("签名无效 (bad signature)")
            stale = self._fresh(p["ts"], p["nonce"], time.time())
        except (ValueError, TypeError) as exc:
            raise self._alert(f"签名格式错误 (malformed: {type(exc).__name__})") from None
        if stale:
            raise self._alert(stale)


SIGNED_METHODS = frozenset({"POST"})


@dataclass(frozen=True)
class VerifiedAnswer:
    """The department's signature on the last answer verified in this context, for the evidence log."""

    key_id: str
    signature: str  # the whole X-Lianban-Signature header value
    digest: str  # SM3 of the answer's wire bytes


_last_answer: ContextVar[VerifiedAnswer | None] = ContextVar("lianban_last_answer", default=None)


def take_verified_answer() -> VerifiedAnswer | None:
    """The last answer verified in this context (and forget it, so it is never recorded twice)."""
    answer = _last_answer.get()
    _last_answer.set(None)
    return answer


def response_check(keys_dir: Path, department: str) -> Callable[[requests.Response], None]:
    """A requests response hook body: every POST answer must carry the department's valid signature."""
    _, signing = names_for(department)
    keys = keysets.load(keys_dir, signing, public_only=True)
    verifier = ResponseVerifier(department, get_suite(keys.suite), keys.public)

    def check(response: requests.Response) -> None:
        request = response.request
        if request.method not in SIGNED_METHODS or response.status_code in (401, 413, 429) \
                or response.status_code >= 500:
            return  # gateway-level refusals and failures carry no department signature
        path = urlsplit(request.url or "").path
        header = response.headers.get(HEADER)
        verifier.verify(header, response.status_code, path, response.content)
        assert header is not None  # verify() refuses a missing signature
        _last_answer.set(VerifiedAnswer(parse_header(header)["kid"], header, sm3_hex(response.content)))

    return check
