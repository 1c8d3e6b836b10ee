"""Signed answers: every department response carries an SM2 (or ECDSA) signature the hub verifies.

Header ``X-Lianban-Signature: v=2;kid=<kid>;ts=<unix>;nonce=<hex>;sig=<b64>`` over
``"v2\\n{ts}\\n{nonce}\\n{status}\\n{path}\\n" + SM3(body) + "\\n" + SM3(request body)``: the answer is
bound to the body of the request it answers, so a genuine answer cannot be passed off as the answer to a request
with another body on the same path (a status page of other keys, a batch answer given for another batch). Two
requests with the same body (a poll of the same keys repeated within the window) are not told apart: either
answer is the department's own, the older at most the window old. The hub refuses an
unknown key, a bad signature, a timestamp outside the window, a nonce it has seen and a version-1 signature (it
covers no request): a failed check is an alert (:class:`SignatureAlert`, retried later, never a silent drop).
On the hub, :class:`AnswerCheck` runs the check in the transport and keeps a :class:`Proof` of every verified
answer for the evidence log (which records the answer's digest and its signature).
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import Suite, get_suite
from lianban.errors import RetriableError
from lianban.keys import keysets
from lianban.keys.names import names_for
from lianban.wire.gateway import MAX_NONCE_CHARS, NonceMemory, body_sm3

HEADER = "X-Lianban-Signature"
MAX_SKEW = 300.0
REPLAYED = "随机数重复，疑似重放 (replayed nonce)"
#: the answers' nonces share the gateway's nonce table with the departments' callbacks, under this prefix and the
#: party's name (where a callback's are under its app id)
ANSWER_SCOPE = "answer/"
log = logging.getLogger("lianban.alerts")


class SignatureAlert(RetriableError):
    """A department answer failed verification: not trusted, not applied, retried; operators are alerted."""


VERSION = "2"
UNBOUND = "签名版本不受支持：应答签名须绑定所答请求（v=2） (signature version other than 2: not bound to the request)"


def signed_text(ts: str, nonce: str, status: int, path: str, body: bytes, request_digest: str) -> bytes:
    """What an answer's signature covers; `request_digest`: the SM3 (hex) of the body of the request it answers."""
    return _text(ts, nonce, status, path, sm3_hex(body), request_digest)


def _text(ts: str, nonce: str, status: int, path: str, body_digest: str, request_digest: str) -> bytes:
    return f"v{VERSION}\n{ts}\n{nonce}\n{status}\n{path}\n{body_digest}\n{request_digest}".encode()


def sign(suite: Suite, kid: str, private: bytes, status: int, path: str, body: bytes, request_digest: str) -> str:
    """The header value for one response to the request whose body's SM3 (hex) is `request_digest`."""
    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    sig = base64.b64encode(suite.sign(private, signed_text(ts, nonce, status, path, body, request_digest))).decode()
    return f"v={VERSION};kid={kid};ts={ts};nonce={nonce};sig={sig}"


def parse_header(value: str) -> dict[str, str]:
    """The fields of a signature header (v, kid, ts, nonce, sig); ValueError when any is missing."""
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    if not {"v", "kid", "ts", "nonce", "sig"} <= parts.keys():
        raise ValueError("incomplete")
    return parts


class ResponseVerifier:
    """Checks response signatures of one department (its public keys by kid) with a replay window: the nonces of
    the answers it let through, in `nonces` when given (the ledger's, shared by every process of the hub: an answer
    replayed to another run or process is refused too), else in this process's memory."""

    def __init__(self, department: str, suite: Suite, public_keys: Mapping[str, bytes],
                 max_skew: float = MAX_SKEW, capacity: int = 100_000, nonces: NonceMemory | None = None) -> None:
        self.department, self.suite, self.public_keys = department, suite, dict(public_keys)
        self.max_skew, self.capacity = max_skew, capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._nonces = nonces

    def _alert(self, why: str) -> SignatureAlert:
        log.error("告警 ALERT: %s 应答签名校验失败 (%s)", self.department, why)
        return SignatureAlert(f"{self.department} 应答签名校验失败：{why}（已告警，稍后重试）"
                              f" (response signature check failed: {why})")

    def _fresh(self, ts: str, nonce: str, now: float) -> str | None:
        if not abs(now - float(ts)) <= self.max_skew:  # so that NaN, which compares false, is stale too
            return "时间戳超出允许窗口 (stale timestamp)"
        if self._nonces is not None:  # noted under the party's name; a nonce too long for the table by its digest
            noted = nonce if len(nonce) <= MAX_NONCE_CHARS else sm3_hex(nonce.encode())
            fresh = self._nonces.remember(ANSWER_SCOPE + self.department, noted, now, now - 2 * self.max_skew)
            return None if fresh else REPLAYED
        while self._seen and next(iter(self._seen.values())) < now - 2 * self.max_skew:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return REPLAYED
        if len(self._seen) >= self.capacity:  # forgetting a nonce still in the window would let its replay pass
            return f"窗口内已记住 {self.capacity} 个随机数，达到上限，稍后重试 (nonce memory full)"
        self._seen[nonce] = now
        return None

    def verify(self, header: str | None, status: int, path: str, body: bytes, request_digest: str) -> str:
        """Raise SignatureAlert unless `header` is a valid, fresh signature over this response to the request
        whose body's SM3 (hex) is `request_digest`; the SM3 (hex) of `body` it covers (the evidence log records
        it)."""
        digest = sm3_hex(body)
        if not header:
            raise self._alert("缺少签名 (no signature)")
        try:
            p = parse_header(header)
            if p["v"] != VERSION:
                raise self._alert(UNBOUND)
            key = self.public_keys.get(p["kid"])
            if key is None:
                raise self._alert("签名密钥未知或已停用 (unknown or retired key)")
            if not self.suite.verify(key, _text(p["ts"], p["nonce"], status, path, digest, request_digest),
                                     base64.b64decode(p["sig"])):
                raise self._alert("签名无效 (bad signature)")
            stale = self._fresh(p["ts"], p["nonce"], time.time())
        except (ValueError, TypeError) as exc:
            raise self._alert(f"签名格式错误 (malformed: {type(exc).__name__})") from None
        if stale:
            raise self._alert(stale)
        return digest


SIGNED_METHODS = frozenset({"POST"})
#: answers a gateway (or whatever listens at a wrong address) gives before any department looks at the request:
#: moved elsewhere (never followed), login refused, no such endpoint, timed out or not ready, too large,
#: throttled. They carry no department signature, and nothing of them is applied (the connectors turn them into
#: a ConfigError or a retry)
GATEWAY_STATUSES = frozenset({301, 302, 303, 307, 308, 401, 403, 404, 405, 408, 413, 425, 429})
#: set on an answer :class:`AnswerCheck` let through unsigned (a gateway status, a 5xx without a signature): a
#: connector that reads a refusal out of such a body (a SOAP Fault) does not take it as the party's word
UNSIGNED = "lianban_unsigned"
MAX_KEPT_PROOFS = 10_000  # proofs nobody takes are dropped oldest first; the pipeline takes them per call


@dataclass(frozen=True)
class Proof:
    """One wire exchange whose answer carried the party's valid signature: what the evidence log records."""

    method: str
    path: str
    request_digest: str  # SM3 of the request body as sent
    answer_digest: str  # SM3 of the answer body as received
    signature: str  # the whole X-Lianban-Signature header value
    key_id: str


class AnswerCheck:
    """The transport's response hook for one party: every POST answer must carry the party's valid
    signature (else :class:`SignatureAlert`) — a gateway's refusal or failure without one is let through marked
    :data:`UNSIGNED`, one that carries one is checked —, and each verified answer leaves a :class:`Proof` here until
    the pipeline takes it (:meth:`take`) for the evidence log. Thread-safe; bounded by ``max_kept``."""

    def __init__(self, verifier: ResponseVerifier, max_kept: int = MAX_KEPT_PROOFS) -> None:
        self.verifier = verifier
        self._proofs: deque[Proof] = deque(maxlen=max_kept)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, keys_dir: Path, party: str, nonces: NonceMemory | None = None) -> AnswerCheck:
        """Checks answers with the party's public response-signing keys from `keys_dir`; remembers their nonces
        in `nonces` when given (else in this process)."""
        keys = keysets.load(keys_dir, names_for(party)[1], public_only=True)
        return cls(ResponseVerifier(party, get_suite(keys.suite), keys.public, nonces=nonces))

    def __call__(self, response: requests.Response) -> None:
        request = response.request
        if request.method not in SIGNED_METHODS:
            return
        header = response.headers.get(HEADER)
        if header is None and (response.status_code in GATEWAY_STATUSES or response.status_code >= 500):
            setattr(response, UNSIGNED, True)  # a gateway's refusal or failure: no department signature
            return
        path, request_digest = urlsplit(request.url or "").path, body_sm3(request)
        answer_digest = self.verifier.verify(header, response.status_code, path, response.content, request_digest)
        assert header is not None  # verify() refuses a missing signature
        proof = Proof(str(request.method), path, request_digest, answer_digest, header, parse_header(header)["kid"])
        with self._lock:
            self._proofs.append(proof)

    def take(self) -> list[Proof]:
        """Every proof kept since the last take, oldest first (and forget them: each is recorded once)."""
        with self._lock:
            proofs = list(self._proofs)
            self._proofs.clear()
        return proofs
