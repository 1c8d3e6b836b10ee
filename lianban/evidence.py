"""The evidence log (X-Road's message log): every message sent or received, chained with SM3.

Each entry hashes its predecessor's hash with its own canonical fields, so editing, deleting or
reordering any entry breaks the chain from that point on. A head anchor (``evidence_head`` watermark,
updated in the same transaction) makes deleting the newest entries detectable too. Appends are serialised
by locking that anchor first. Monthly archives are JSON Lines files that verify on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lianban.ledger.models import Evidence, Watermark
from lianban.ledger.store import set_watermark, utcnow
from lianban.sealing import sm3_hex

GENESIS = "0" * 64
HEAD = "evidence_head"
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


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps({k: entry[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return sm3_hex(prev_hash.encode() + b"|" + canonical(entry))


def _lock_head(session: Session) -> tuple[int, str]:
    """Take the append lock (row lock on PostgreSQL, write lock on SQLite); return the head (id, hash)."""
    session.execute(update(Watermark).where(Watermark.name == HEAD).values(updated_at=utcnow()))
    last = session.scalars(select(Evidence).order_by(Evidence.id.desc()).limit(1)).first()
    return (last.id, last.entry_hash) if last else (0, GENESIS)


def record(session: Session, messages: Iterable[Message]) -> int:
    """Append `messages` to the chain inside the caller's transaction; returns how many."""
    last_id, prev = _lock_head(session)
    count = 0
    for m in messages:
        entry = {"id": last_id + 1, "at": datetime.now(UTC).isoformat(), "direction": m.direction,
                 "department": m.department, "kind": m.kind, "case_nos": json.dumps(sorted(set(m.case_nos))),
                 "digest": sm3_hex(m.body), "signature": m.signature, "key_id": m.key_id}
        entry_hash = chain_hash(prev, entry)
        session.add(Evidence(**entry, prev_hash=prev, entry_hash=entry_hash))
        prev, last_id, count = entry_hash, last_id + 1, count + 1
    if count:
        session.flush()
        set_watermark(session, HEAD, last_id)
    return count


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None  # Chinese sentence an auditor can act on

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad": self.first_bad, "problem": self.problem}


def verify_entries(entries: Iterable[dict[str, Any]], start_prev: str = GENESIS,
                   head: tuple[int, str] | None = None) -> Verdict:
    """Walk entries in order: each must link to its predecessor and hash to itself."""
    prev, expected_id, checked = start_prev, None, 0
    for e in entries:
        if expected_id is not None and e["id"] != expected_id:
            return Verdict(False, checked, e["id"], f"第 {expected_id} 条之后顺序中断或有删除 (gap or reorder)")
        if e["prev_hash"] != prev:
            return Verdict(False, checked, e["id"], f"第 {e['id']} 条与前一条不相连（删除或重排）")
        if chain_hash(prev, e) != e["entry_hash"]:
            return Verdict(False, checked, e["id"], f"第 {e['id']} 条内容已被篡改 (entry edited)")
        prev, expected_id, checked = e["entry_hash"], e["id"] + 1, checked + 1
    if head and head[0] and (expected_id or 1) - 1 != head[0]:
        return Verdict(False, checked, head[0], f"链尾缺失：锚点记录到第 {head[0]} 条 (newest entries deleted)")
    return Verdict(True, checked)


def _row(e: Evidence) -> dict[str, Any]:
    return {**{k: getattr(e, k) for k in FIELDS}, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash}


def verify_ledger(session: Session) -> Verdict:
    """Verify the whole chain in the ledger against its head anchor."""
    anchor = session.get(Watermark, HEAD)
    rows = (_row(e) for e in session.scalars(select(Evidence).order_by(Evidence.id)))
    return verify_entries(rows, head=(anchor.value, "") if anchor else None)


def archive_month(session: Session, month: str, out_dir: Path) -> Path:
    """Write the entries of `month` (YYYY-MM) as JSON Lines with a trailer; verifiable on its own."""
    rows = [_row(e) for e in session.scalars(select(Evidence).where(Evidence.at.like(f"{month}-%"))
                                            .order_by(Evidence.id))]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"evidence-{month}.jsonl"
    trailer = {"archive": month, "count": len(rows), "start_prev": rows[0]["prev_hash"] if rows else GENESIS,
               "head": rows[-1]["entry_hash"] if rows else GENESIS}
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + [json.dumps(trailer)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def verify_archive(path: Path) -> Verdict:
    """Verify an archive file alone: its chain from its start hash, and that it ends at its recorded head."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or "archive" not in lines[-1]:
        return Verdict(False, 0, None, "归档文件缺少尾部校验信息 (trailer missing)")
    trailer, entries = lines[-1], lines[:-1]
    verdict = verify_entries(entries, start_prev=trailer["start_prev"])
    if verdict.ok and (len(entries) != trailer["count"] or (entries and entries[-1]["entry_hash"] != trailer["head"])):
        return Verdict(False, verdict.checked, None, "归档条数或链尾与尾部记录不符 (truncated archive)")
    return verdict


def body_of(value: Any) -> bytes:
    """Canonical bytes of a message body (dataclasses, dicts, lists) for digesting."""
    from dataclasses import asdict, is_dataclass

    def plain(v: Any) -> Any:
        if is_dataclass(v) and not isinstance(v, type):
            return asdict(v)
        return v

    data = [plain(v) for v in value] if isinstance(value, list | tuple) else plain(value)
    return json.dumps(data, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":")).encode()


def exchange(session: Session, department: str, kinds: tuple[str, str], case_nos: Sequence[str],
             sent: Any, received: Any, signature: str | None = None, key_id: str | None = None) -> None:
    """Record one request/answer pair: the message sent and the answer received."""
    record(session, [Message("out", department, kinds[0], case_nos, body_of(sent), signature, key_id),
                     Message("in", department, kinds[1], case_nos, body_of(received))])
