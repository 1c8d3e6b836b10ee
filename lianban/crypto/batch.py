"""One sealed envelope per batch per department (issue 4 §1): asymmetric cost per batch, not per record.

The hub seals a batch with one fresh data key: every payload is encrypted under it with its own 12-byte
nonce, the data key is wrapped once for the department's public key, and one signature covers a
header that carries the RFC 6962 hash-tree root of all sealed items::

    header   = {"v": 2, "suite", "batch_id", "department", "created_at" (ISO 8601, UTC), "nonce" (hex),
                "recipient_kid", "wrapped_key" (b64), "root" (hex), "count", "signer_kid",
                "signature" (b64, over canonical_header(header))}
    envelope = {"v": 2, "batch_id", "nonce" (b64, 12 bytes), "aad", "ct" (b64, ciphertext || tag)}

Leaf ``i`` of the tree is ``leaf_data(aad, nonce, ct)`` of envelope ``i``: the aad is length-prefixed so
that no bytes can move between aad and ciphertext without changing the leaf.

The receiver builds a :class:`BatchOpener`; ``open_header`` checks the header and unwraps the data key,
then the :class:`OpenedBatch` verifies the items against the signed root and opens them. Every refusal is
a ``RejectedError(message, code, reason)``; codes, in the order they are checked:

    FORMAT  the header or an envelope is malformed (missing or extra field, wrong type or version)
    SUITE   the header names another suite than the one agreed with this sender
    SIG     unknown or retired signer key id, or a bad signature; nothing else is trusted before this
    DEPT    the header names another department than the receiver's own (when the opener knows its own)
    STALE   created_at is more than ``max_skew`` seconds away from the receiver's clock
    REPLAY  this (batch_id, nonce) was opened before and the caller did not allow a repeat
    KEY     the recipient key id is unknown or retired, or the data key does not unwrap with it
    ROOT    the items do not hash to the signed root: one changed, dropped, added or reordered
    SEAL    an item does not open: tampered ciphertext, nonce or aad, or not the delivery expected

Replays and resends. A resend of the *same* sealed batch carries the same (batch_id, nonce), so it looks
exactly like a replay. ``open_header`` refuses it with REPLAY by default; a receiver whose processing is
idempotent (a department answering a duplicate resend with the receipts it already gave) passes
``allow_repeat=True`` and gets ``OpenedBatch.repeat == True`` instead, and must then change nothing.
A resend after the freshness window is STALE either way: the hub re-seals it (new nonce and time).
Messages name key ids and batch ids only, never key material or payloads.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from lianban.crypto import merkle
from lianban.crypto.suites import NONCE_BYTES, InvalidSeal, Suite, get_suite
from lianban.errors import ConfigError, RejectedError, RetriableError

VERSION = 2
DEFAULT_MAX_SKEW = 300.0  # seconds either side of the receiver's clock
DEFAULT_REPLAY_CAPACITY = 100_000  # batch nonces held at once; 500-record batches → 50 M records per window
_STR_FIELDS = ("suite", "batch_id", "department", "created_at", "nonce", "recipient_kid", "wrapped_key", "root",
               "signer_kid", "signature")
_HEADER_FIELDS = frozenset({"v", "count", *_STR_FIELDS})
_ITEM_FIELDS = frozenset({"v", "batch_id", "nonce", "aad", "ct"})

class Refusal(NamedTuple):
    """Why a batch (or one item) is refused: what happened and what to do, and the Chinese reason the
    receiver answers with (a department's error table lists the same reason under its own code)."""

    action: str
    reason: str


#: refusal code → Refusal, in the order the checks run (module docstring)
REFUSALS: dict[str, Refusal] = {
    "FORMAT": Refusal("batch header or item envelope is malformed; the sender must re-seal it", "批次封装格式错误"),
    "SUITE": Refusal("batch is sealed with another cipher suite than agreed; check the department's suite setting",
                     "批次使用了未约定的密码套件"),
    "SIG": Refusal("batch signature is invalid or its signer key id is unknown or retired; do not process it, "
                   "raise an alert", "批次签名无效或签名密钥未知"),
    "DEPT": Refusal("batch is addressed to another department than this receiver; check the address of the hub's "
                    "connection to that department", "批次的收件部门不是本部门（请核对枢纽该部门连接的地址）"),
    "STALE": Refusal("batch was created outside the allowed clock window; check clocks, the sender must re-seal it",
                     "批次时间戳超出允许窗口（请校对系统时钟）"),
    "REPLAY": Refusal("batch was already opened (same batch id and nonce); treat it as a replay",
                      "批次重复提交（疑似重放）"),
    "KEY": Refusal("recipient key id is unknown or retired, or the data key does not unwrap with it; "
                   "the sender must re-seal for a current key", "批次加密所用的接收方密钥未知或已停用"),
    "ROOT": Refusal("items do not match the signed hash-tree root (changed, missing, added or reordered); "
                    "do not process the batch", "批次内容与签名的摘要树不符（被篡改、删除或重排）"),
    "SEAL": Refusal("item cannot be opened or is bound to another delivery; do not process it",
                    "数据项解密或完整性校验失败"),
}
#: codes that refuse the whole batch (SEAL refuses one item, inside a receipt)
BATCH_REFUSALS = tuple(code for code in REFUSALS if code != "SEAL")


def is_batch_refusal(code: str) -> bool:
    """Whether a department's error code (``BATCH_SIG``, ``E_BATCH_KEY`` …) refuses a batch for its envelope:
    a matter of keys, clocks or tampering, never of one item in it."""
    return any(code.endswith(f"BATCH_{refusal}") for refusal in BATCH_REFUSALS)


def batch_refusal_codes(prefix: str) -> dict[str, str]:
    """The whole-batch refusal codes as a department spells them (e.g. ``BATCH_ROOT``, ``E_BATCH_ROOT``),
    each with the same Chinese reason the receiver answers with."""
    return {f"{prefix}{code}": REFUSALS[code].reason for code in BATCH_REFUSALS}


def _refuse(code: str, detail: str = "") -> RejectedError:
    refusal = REFUSALS[code]
    return RejectedError(f"{refusal.action}{f' ({detail})' if detail else ''}", code, refusal.reason)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _resolve(suite: Suite | str) -> Suite:
    return get_suite(suite) if isinstance(suite, str) else suite


class SealedBatch(NamedTuple):
    """What crosses the wire: one signed header and the item envelopes, in tree order."""

    header: dict[str, Any]
    envelopes: list[dict[str, Any]]


def canonical_header(header: Mapping[str, Any]) -> bytes:
    """The signed bytes: the header without "signature" as sorted, compact, UTF-8 JSON."""
    body = {k: v for k, v in header.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_data(aad: str, nonce: bytes, ct: bytes) -> bytes:
    """Tree leaf of one sealed item: ``len(aad) (4 bytes, big-endian) || aad || nonce || ct``."""
    raw = aad.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw + nonce + ct


def seal_batch(suite: Suite | str, recipient_kid: str, recipient_public: bytes, signer_kid: str,
               signer_private: bytes, department: str, items: Sequence[tuple[str, dict[str, Any] | bytes]],
               batch_id: str | None = None, now: datetime | None = None) -> SealedBatch:
    """Seal `items` ((aad, payload) pairs) for one department under one fresh data key and one signature; a
    payload is a dict, or its JSON already encoded as this function would (UTF-8, compact: what the at-rest
    vault keeps, passed on without being read).

    Nonces are a random 4-byte batch prefix and the item's 8-byte index, unique by construction.
    """
    suite = _resolve(suite)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    batch_id = batch_id or uuid.uuid4().hex
    dek, prefix = secrets.token_bytes(suite.data_key_bytes), secrets.token_bytes(NONCE_BYTES - 8)
    envelopes, leaves = [], []
    for index, (aad, payload) in enumerate(items):
        nonce = prefix + index.to_bytes(8, "big")
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False,
                                                                       separators=(",", ":")).encode("utf-8")
        ct = suite.seal_data(dek, nonce, body, aad.encode("utf-8"))
        leaves.append(leaf_data(aad, nonce, ct))
        envelopes.append({"v": VERSION, "batch_id": batch_id, "nonce": _b64(nonce), "aad": aad, "ct": _b64(ct)})
    header: dict[str, Any] = {
        "v": VERSION, "suite": suite.name, "batch_id": batch_id, "department": department,
        "created_at": now.astimezone(UTC).isoformat(timespec="seconds"), "nonce": secrets.token_hex(16),
        "recipient_kid": recipient_kid, "wrapped_key": _b64(suite.wrap(recipient_public, dek)),
        "root": merkle.root(leaves, suite.digest).hex(), "count": len(envelopes), "signer_kid": signer_kid,
    }
    header["signature"] = _b64(suite.sign(signer_private, canonical_header(header)))
    return SealedBatch(header, envelopes)


class ReplayCache:
    """(batch_id, nonce) pairs already opened, each kept until it would be refused as STALE anyway.

    In memory: each process has its own, so across processes it is idempotent processing by batch id
    that prevents a double effect (or inject one cache shared by them). Bounded: when `capacity` live
    entries are held, a new batch gets a RetriableError rather than silently forgetting an entry (which
    would reopen a replay).
    """

    def __init__(self, capacity: int = DEFAULT_REPLAY_CAPACITY) -> None:
        self.capacity = capacity
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def _evict(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            _, key = heapq.heappop(self._heap)
            self._expiry.pop(key, None)

    def seen(self, key: tuple[str, str], now: float) -> bool:
        self._evict(now)
        return key in self._expiry

    def remember(self, key: tuple[str, str], expires_at: float, now: float) -> None:
        self._evict(now)
        if key in self._expiry:
            return
        if len(self._expiry) >= self.capacity:
            wait = max(1.0, self._heap[0][0] - now)
            raise RetriableError(f"replay cache holds {self.capacity} live batches; try again later", wait)
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))


def _check_shape(header: Mapping[str, Any]) -> None:
    if not isinstance(header, Mapping) or set(header) != _HEADER_FIELDS or header["v"] != VERSION:
        raise _refuse("FORMAT", "header fields or version")
    count = header["count"]
    if any(not isinstance(header[f], str) for f in _STR_FIELDS) or type(count) is not int or count < 0:
        raise _refuse("FORMAT", "header field types")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OpenedBatch:
    """A header that passed every check, with its data key; verifies and opens the batch's items. The parts of
    each envelope :meth:`verify_items` read (aad, nonce, ciphertext) are kept, with the envelope, for
    :meth:`open_item` to open that very envelope without reading them again (reading them twice was 3 % of the
    simulated departments' work in a delivery)."""

    __slots__ = ("_dek", "_verified", "header", "repeat", "suite")

    def __init__(self, suite: Suite, header: Mapping[str, Any], dek: bytes, repeat: bool = False) -> None:
        self.suite, self.header, self._dek, self.repeat = suite, dict(header), dek, repeat
        self._verified: dict[int, tuple[Mapping[str, Any], tuple[str, bytes, bytes]]] = {}

    @property
    def batch_id(self) -> str:
        return str(self.header["batch_id"])

    @property
    def department(self) -> str:
        return str(self.header["department"])

    def __repr__(self) -> str:
        return f"OpenedBatch(batch_id={self.batch_id!r}, count={self.header['count']}, repeat={self.repeat})"

    def _parts(self, envelope: Mapping[str, Any], code: str) -> tuple[str, bytes, bytes]:
        """(aad, nonce, ct) of a well-formed envelope of this batch."""
        if not isinstance(envelope, Mapping) or set(envelope) != _ITEM_FIELDS or envelope["v"] != VERSION:
            raise _refuse("FORMAT", f"item envelope of batch {self.batch_id}")
        aad = envelope["aad"]
        try:
            nonce, ct = _unb64(envelope["nonce"]), _unb64(envelope["ct"])
            aad.encode("utf-8")  # a lone surrogate from a JSON escape cannot be hashed or bound
        except (binascii.Error, TypeError, ValueError, AttributeError):
            raise _refuse("FORMAT", f"item envelope of batch {self.batch_id}") from None
        if envelope["batch_id"] != self.batch_id:
            raise _refuse(code, f"item names another batch than {self.batch_id}")
        return aad, nonce, ct

    def verify_items(self, envelopes: Sequence[Mapping[str, Any]]) -> None:
        """Refuse with ROOT unless `envelopes`, in this order, are exactly the items the header signed."""
        if len(envelopes) != self.header["count"]:
            raise _refuse("ROOT", f"batch {self.batch_id}: {len(envelopes)} items, header says {self.header['count']}")
        parts = [self._parts(e, "ROOT") for e in envelopes]
        expected = str(self.header["root"]).encode("utf-8", "replace")
        if not hmac.compare_digest(merkle.root([leaf_data(*p) for p in parts], self.suite.digest).hex().encode(),
                                   expected):
            raise _refuse("ROOT", f"batch {self.batch_id}")
        self._verified = {id(e): (e, p) for e, p in zip(envelopes, parts, strict=True)}

    def open_item(self, envelope: Mapping[str, Any], expect_aad: str | None = None) -> dict[str, Any]:
        """The payload of one item; SEAL when it does not open or its aad is not `expect_aad`."""
        verified = self._verified.get(id(envelope))
        aad, nonce, ct = verified[1] if verified is not None and verified[0] is envelope else \
            self._parts(envelope, "SEAL")
        if expect_aad is not None and aad != expect_aad:
            raise _refuse("SEAL", f"item of batch {self.batch_id} is bound to another delivery")
        try:
            # msgspec: json.loads's values in a fifth of its time; NaN, infinities and UTF-16 refused (ValueError)
            payload = msgspec.json.decode(self.suite.open_data(self._dek, nonce, ct, aad.encode("utf-8")))
        except (InvalidSeal, ValueError):
            raise _refuse("SEAL", f"item of batch {self.batch_id}") from None
        if not isinstance(payload, dict):
            raise _refuse("SEAL", f"item of batch {self.batch_id} is not an object")
        return payload

    def open_all(self, envelopes: Sequence[Mapping[str, Any]],
                 expect_aads: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """verify_items, then every payload in order (each checked against `expect_aads` when given)."""
        self.verify_items(envelopes)
        expected: Sequence[str | None] = expect_aads if expect_aads is not None else [None] * len(envelopes)
        if len(expected) != len(envelopes):
            raise ValueError("expect_aads must name one aad per envelope")
        return [self.open_item(e, a) for e, a in zip(envelopes, expected, strict=True)]


class BatchOpener:
    """The receiving side of one sender: its suite, our private keys and its public keys, both by kid.

    Retiring a key means leaving it out of `recipient_keys` (our side) or `signer_keys` (theirs): batches
    naming it are then refused with KEY or SIG. `department`, the receiver's own (catalog key), refuses with
    DEPT a batch whose signed header names another. `clock` and `replay` are injectable for tests and for a
    shared cache.
    """

    def __init__(self, suite: Suite | str, recipient_keys: Mapping[str, bytes], signer_keys: Mapping[str, bytes],
                 *, max_skew: float = DEFAULT_MAX_SKEW, replay: ReplayCache | None = None,
                 clock: Callable[[], datetime] = _utcnow, department: str | None = None) -> None:
        self.suite = _resolve(suite)
        self.department = department
        self._recipient_keys = dict(recipient_keys)
        self.signer_keys = dict(signer_keys)
        self.max_skew = max_skew
        self.replay = replay if replay is not None else ReplayCache()
        self.clock = clock

    def __repr__(self) -> str:
        return (f"BatchOpener(suite={self.suite.name!r}, recipient_kids={sorted(self._recipient_keys)}, "
                f"signer_kids={sorted(self.signer_keys)})")

    def _verify_signature(self, header: Mapping[str, Any]) -> None:
        public = self.signer_keys.get(header["signer_kid"])
        if public is None:
            raise _refuse("SIG", f"signer key id {header['signer_kid']!r} unknown or retired")
        try:
            signature = _unb64(header["signature"])
        except (binascii.Error, ValueError):
            raise _refuse("SIG", f"batch {header['batch_id']}: signature is not base64") from None
        try:
            signed = canonical_header(header)
        except UnicodeEncodeError:
            raise _refuse("FORMAT", f"batch {header['batch_id']!r}: text is not valid Unicode") from None
        if not self.suite.verify(public, signed, signature):
            raise _refuse("SIG", f"batch {header['batch_id']}")

    def _created_at(self, header: Mapping[str, Any], now: datetime) -> datetime:
        try:
            created = datetime.fromisoformat(header["created_at"])
        except ValueError:
            raise _refuse("FORMAT", f"batch {header['batch_id']}: created_at") from None
        if created.tzinfo is None:
            raise _refuse("FORMAT", f"batch {header['batch_id']}: created_at has no time zone")
        if abs((now - created).total_seconds()) > self.max_skew:
            raise _refuse("STALE", f"batch {header['batch_id']} created {header['created_at']}")
        return created

    def _unwrap(self, header: Mapping[str, Any]) -> bytes:
        kid = header["recipient_kid"]
        private = self._recipient_keys.get(kid)
        if private is None:
            raise _refuse("KEY", f"recipient key id {kid!r}")
        try:
            dek = self.suite.unwrap(private, _unb64(header["wrapped_key"]))
        except (InvalidSeal, binascii.Error):
            raise _refuse("KEY", f"batch {header['batch_id']} does not unwrap with key {kid!r}") from None
        except ValueError:
            raise ConfigError(f"recipient key {kid!r} is malformed for suite {self.suite.name}") from None
        if len(dek) != self.suite.data_key_bytes:
            raise _refuse("KEY", f"batch {header['batch_id']}: data key has the wrong size")
        return dek

    def open_header(self, header: Mapping[str, Any], *, allow_repeat: bool = False) -> OpenedBatch:
        """Check a batch header (module docstring, FORMAT … KEY) and unwrap its data key.

        A (batch_id, nonce) seen before is REPLAY unless `allow_repeat`, which opens it with
        ``repeat=True`` for a receiver that answers repeats idempotently. A full replay cache raises
        RetriableError; a malformed private key of ours raises ConfigError.
        """
        _check_shape(header)
        if header["suite"] != self.suite.name:
            raise _refuse("SUITE", f"batch {header['batch_id']} uses {header['suite']!r}, agreed {self.suite.name!r}")
        self._verify_signature(header)
        if self.department is not None and header["department"] != self.department:
            raise _refuse("DEPT", f"batch {header['batch_id']} is addressed to {header['department']!r}, "
                                  f"this receiver is {self.department!r}")
        now = self.clock()
        created = self._created_at(header, now)
        key = (header["batch_id"], header["nonce"])
        repeat = self.replay.seen(key, now.timestamp())
        if repeat and not allow_repeat:
            raise _refuse("REPLAY", f"batch {header['batch_id']}")
        dek = self._unwrap(header)
        self.replay.remember(key, created.timestamp() + self.max_skew, now.timestamp())
        return OpenedBatch(self.suite, header, dek, repeat)
