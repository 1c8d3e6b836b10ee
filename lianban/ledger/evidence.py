"""The evidence log (X-Road's message log): every message sent or received, chained with a keyed SM3.

Each entry's hash is an SM3-HMAC, under the hub's ``evidence`` key, of its predecessor's hash and its own
canonical fields: editing, deleting or reordering any entry breaks the chain from that point on, and
without the key nobody can rebuild a consistent chain. The head (last id and hash) is kept in a MACed
anchor row updated in the same transaction, so truncating the newest entries is detected too; locking
that row serialises appends. Monthly archives are JSON Lines files whose trailer is signed with the hub's
SM2 key: anyone with the hub's public key checks an archive on its own (with the chain key, every entry).

The pipeline appends through an :class:`EvidenceLog` (the chain key it was given, nothing read from the
environment): one entry per message sent, and one per wire exchange answered, carrying the signature and
the wire digest the transport verified (:class:`lianban.wire.signatures.Proof`), passed in explicitly.
Verifying and archiving only read: a missing chain key is a ConfigError, never a new key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index, sm3_hex
from lianban.crypto.suites import get_suite
from lianban.keys import keysets
from lianban.keys.names import EVIDENCE, hub_signing_name
from lianban.keys.rings import load_ring
from lianban.ledger.models import Evidence, EvidenceAnchor
from lianban.wire.signatures import Proof

GENESIS = "0" * 64
ARCHIVE_SIGNER = hub_signing_name("SM")
FIELDS = ("id", "at", "direction", "department", "kind", "case_nos", "digest", "signature", "key_id")


@dataclass(frozen=True)
class Message:
    """What is recorded about one message; `body` is digested, never stored."""

    direction: str  # "out" | "in"
    department: str
    kind: str
    case_nos: Sequence[str]
    body: bytes
    signature: str | None = None
    key_id: str | None = None
    digest: str | None = None  # when the wire bytes were digested elsewhere (a verified answer)


def canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps({k: entry[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def chain_hash(key: bytes, prev_hash: str, entry: Mapping[str, Any]) -> str:
    return blind_index(key, prev_hash + "|" + canonical(entry).decode())


def _anchor_mac(key: bytes, head_id: int, head_hash: str) -> str:
    return blind_index(key, f"anchor|{head_id}|{head_hash}")


def chain_keys(keys_dir: Path) -> dict[str, bytes]:
    """Every chain key by id; ConfigError naming the file when the ``evidence`` ring is missing."""
    return load_ring(keys_dir, EVIDENCE).keys


def _lock_head(session: Session) -> EvidenceAnchor:
    """Take the append lock (row lock on PostgreSQL, write lock on SQLite) and return the anchor."""
    session.execute(update(EvidenceAnchor).where(EvidenceAnchor.id == 1).values(head_id=EvidenceAnchor.head_id))
    anchor = session.get(EvidenceAnchor, 1)
    assert anchor is not None, "migration 0003 creates the anchor row"
    return anchor


def record(session: Session, messages: Iterable[Message], chain: tuple[str, bytes]) -> int:
    """Append `messages` to the chain inside the caller's transaction, keyed with `chain` (kid, key)."""
    kid, key = chain
    anchor = _lock_head(session)
    last_id, prev, count = anchor.head_id, anchor.head_hash, 0
    for m in messages:
        entry = {"id": last_id + 1, "at": datetime.now(UTC).isoformat(), "direction": m.direction,
                 "department": m.department, "kind": m.kind, "case_nos": json.dumps(sorted(set(m.case_nos))),
                 "digest": m.digest or sm3_hex(m.body), "signature": m.signature, "key_id": m.key_id}
        entry_hash = chain_hash(key, prev, entry)
        session.add(Evidence(**entry, prev_hash=prev, entry_hash=entry_hash, chain_kid=kid))
        prev, last_id, count = entry_hash, last_id + 1, count + 1
    if count:
        anchor.head_id, anchor.head_hash, anchor.chain_kid = last_id, prev, kid
        anchor.mac = _anchor_mac(key, last_id, prev)
    return count


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None  # Chinese sentence an auditor can act on

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad": self.first_bad, "problem": self.problem}


def _entry_problem(e: Mapping[str, Any], prev: str, expected_id: int | None,
                   keys: Mapping[str, bytes] | None) -> str | None:
    if expected_id is not None and e["id"] != expected_id:
        return f"第 {expected_id} 条之后顺序中断或有删除 (gap or reorder)"
    if e["prev_hash"] != prev:
        return f"第 {e['id']} 条与前一条不相连（删除或重排）"
    if keys is None:
        return None
    key = keys.get(e.get("chain_kid") or "")
    if key is None:
        return f"第 {e['id']} 条的链密钥 {e.get('chain_kid')!r} 未知 (unknown chain key)"
    if chain_hash(key, prev, e) != e["entry_hash"]:
        return f"第 {e['id']} 条内容已被篡改 (entry edited)"
    return None


def verify_entries(entries: Iterable[Mapping[str, Any]], keys: Mapping[str, bytes] | None,
                   start_prev: str = GENESIS) -> tuple[Verdict, int, str]:
    """Walk entries in order; returns the verdict and the last (id, hash) reached."""
    prev, expected_id, checked, last_id = start_prev, None, 0, 0
    for e in entries:
        problem = _entry_problem(e, prev, expected_id, keys)
        if problem:
            return Verdict(False, checked, e["id"], problem), last_id, prev
        prev, expected_id, checked, last_id = e["entry_hash"], e["id"] + 1, checked + 1, e["id"]
    return Verdict(True, checked), last_id, prev


def _row(e: Evidence) -> dict[str, Any]:
    return {**{k: getattr(e, k) for k in FIELDS}, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash,
            "chain_kid": e.chain_kid}


def _anchor_problem(anchor: EvidenceAnchor | None, keys: Mapping[str, bytes], last: tuple[int, str]) -> str | None:
    if anchor is None:
        return "证据链锚点缺失 (anchor row missing)"
    if anchor.head_id == 0 and not anchor.mac:
        return None if last[0] == 0 else "证据链锚点为空但存在记录 (anchor reset)"
    key = keys.get(anchor.chain_kid or "")
    if key is None or _anchor_mac(key, anchor.head_id, anchor.head_hash) != anchor.mac:
        return "证据链锚点校验失败（被篡改）(anchor forged)"
    if (anchor.head_id, anchor.head_hash) != last:
        return f"链尾缺失或被改写：锚点记录到第 {anchor.head_id} 条 (newest entries deleted or rewritten)"
    return None


def verify_ledger(session: Session, keys_dir: Path) -> Verdict:
    """Verify the whole chain in the ledger, every entry's keyed hash and the MACed head anchor."""
    keys = chain_keys(keys_dir)
    rows = (_row(e) for e in session.scalars(select(Evidence).order_by(Evidence.id)))
    verdict, last_id, last_hash = verify_entries(rows, keys)
    if not verdict.ok:
        return verdict
    problem = _anchor_problem(session.get(EvidenceAnchor, 1), keys, (last_id, last_hash))
    return Verdict(False, verdict.checked, last_id or None, problem) if problem else verdict


def _trailer_text(trailer: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in trailer.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":")).encode()


def archive_month(session: Session, month: str, out_dir: Path, keys_dir: Path) -> Path:
    """Write the entries of `month` (YYYY-MM) as JSON Lines with a trailer signed by the hub (SM2)."""
    rows = [_row(e) for e in session.scalars(select(Evidence).where(Evidence.at.like(f"{month}-%"))
                                            .order_by(Evidence.id))]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    trailer: dict[str, Any] = {
        "archive": month, "count": len(rows), "start_prev": rows[0]["prev_hash"] if rows else GENESIS,
        "head": rows[-1]["entry_hash"] if rows else GENESIS, "entries_sm3": sm3_hex("\n".join(lines).encode())}
    signer = keysets.load(keys_dir, ARCHIVE_SIGNER)
    kid, private = signer.active_private()
    trailer["signer_kid"] = kid
    trailer["signature"] = base64.b64encode(get_suite(signer.suite).sign(private, _trailer_text(trailer))).decode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"evidence-{month}.jsonl"
    path.write_text("\n".join([*lines, json.dumps(trailer)]) + "\n", encoding="utf-8")
    return path


def _trailer_problem(trailer: Mapping[str, Any], lines: list[str], keys_dir: Path) -> str | None:
    signer = keysets.load(keys_dir, ARCHIVE_SIGNER, public_only=True)
    public = signer.public.get(str(trailer.get("signer_kid")))
    signature = base64.b64decode(str(trailer.get("signature", "")))
    if public is None or not get_suite(signer.suite).verify(public, _trailer_text(trailer), signature):
        return "归档尾部签名无效 (archive trailer signature invalid)"
    if sm3_hex("\n".join(lines).encode()) != trailer.get("entries_sm3") or len(lines) != trailer.get("count"):
        return "归档内容与签名的尾部不符（条目被改动、删除或增加）(archive entries altered)"
    return None


def verify_archive(path: Path, keys_dir: Path, with_chain_key: bool = True) -> Verdict:
    """Verify an archive on its own: the hub's signature over its trailer and entries, the links between
    entries and, when the chain key is at hand (`with_chain_key`), every entry's keyed hash."""
    raw = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not raw or "archive" not in json.loads(raw[-1]):
        return Verdict(False, 0, None, "归档文件缺少尾部校验信息 (trailer missing)")
    trailer, lines = json.loads(raw[-1]), raw[:-1]
    entries = [json.loads(line) for line in lines]
    verdict, _last, head = verify_entries(entries, chain_keys(keys_dir) if with_chain_key else None,
                                          start_prev=trailer["start_prev"])
    if not verdict.ok:
        return verdict
    problem = _trailer_problem(trailer, lines, keys_dir) or (
        None if head == trailer["head"] else "归档链尾与尾部记录不符 (truncated archive)")
    return Verdict(False, verdict.checked, None, problem) if problem else verdict


def body_of(value: Any) -> bytes:
    """Canonical bytes of a message body (dataclasses, dicts, lists) for digesting."""

    def plain(v: Any) -> Any:
        return asdict(v) if is_dataclass(v) and not isinstance(v, type) else v

    data = [plain(v) for v in value] if isinstance(value, list | tuple) else plain(value)
    return json.dumps(data, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":")).encode()


class EvidenceLog:
    """Appends messages to the chain with one chain key (the active key of the ``evidence`` ring)."""

    def __init__(self, chain: tuple[str, bytes]) -> None:
        self._chain = chain

    @classmethod
    def load(cls, keys_dir: Path) -> EvidenceLog:
        """The log keyed with the active chain key in `keys_dir`; ConfigError when the ring is missing."""
        return cls(load_ring(keys_dir, EVIDENCE).active_key())

    def __repr__(self) -> str:
        return f"EvidenceLog(chain_kid={self._chain[0]!r})"

    def sent(self, session: Session, department: str, kind: str, case_nos: Sequence[str], body: Any,
             signature: str | None = None, key_id: str | None = None) -> None:
        """Record a message sent (whether or not an answer comes)."""
        record(session, [Message("out", department, kind, case_nos, body_of(body), signature, key_id)], self._chain)

    def received(self, session: Session, department: str, kind: str, case_nos: Sequence[str], answer: Any,
                 proofs: Sequence[Proof]) -> None:
        """Record the answer: one entry per wire exchange the transport verified (its signature, key id and
        wire digest); one unsigned entry over the answer's canonical body when there is no proof."""
        messages = [Message("in", department, kind, case_nos, b"", p.signature, p.key_id, p.answer_digest)
                    for p in proofs] or [Message("in", department, kind, case_nos, body_of(answer))]
        record(session, messages, self._chain)
