"""The evidence log (X-Road's message log): every message sent or received, chained with a keyed SM3.

Each entry's hash is an SM3-HMAC, under the hub's ``evidence`` key, of its predecessor's hash and its own
canonical fields: editing, deleting or reordering any entry breaks the chain from that point on, and
without the key nobody can rebuild a consistent chain. Monthly archives are JSON Lines files whose trailer
(head id and hash included) is signed with the hub's SM2 key: anyone with the hub's public key checks an
archive on its own (with the chain key, every entry).

The head (last id and hash) is kept twice. In the ledger, a MACed anchor row updated in the same
transaction (truncating the newest entries is detected; locking that row serialises appends). Outside it,
``<keys_dir>/evidence-head.json``: head id, head hash, chain key id, time written and an SM3-HMAC over them,
moved forward by :class:`EvidenceLog` once the ledger transaction commits (``after_commit``), under an
``flock``, never back. A crash between commit and file write leaves the file behind the ledger, which is
not tampering: the file's head need only be an entry of the chain, with the same hash. If, when appending,
the file names a head the ledger does not hold (a rollback), the file is left where it is, as evidence,
and an alert is logged; after an investigated, legitimate restore, move it aside (keep it): the next
append writes a new one.

Threat model (威胁模型). Write access to the ledger alone (a DBA, SQL injection, a restored backup) hides
nothing: editing, deleting, reordering or forging entries (no chain key), truncating the newest, wiping
every entry and resetting the anchor (清空), and rolling entries and anchor back to an older genuine copy
(回滚), even with new entries appended since, are each detected and named by :func:`verify_ledger`.
Write access to the ledger and the keys folder (the hub's host, as its service user) is another matter:
that attacker holds the chain key and can rebuild a consistent chain and head file, or restore both from
one backup. Only copies held elsewhere catch that: the monthly archives signed by the hub (pass their
heads as ``known_heads``), 皖事通办's and the departments' signed acknowledgements, an off-host copy of the
head file. Nothing here prevents deletion; it makes it visible.

The pipeline appends through an :class:`EvidenceLog` (the chain key and keys folder it was given, nothing
read from the environment): one entry per message sent, and one per wire exchange answered, carrying the
signature and the wire digest the transport verified (:class:`lianban.wire.signatures.Proof`), passed in
explicitly. Verifying and archiving only read: a missing chain key is a ConfigError, never a new key, and
verifying never creates the head file (nor its lock).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache, partial
from pathlib import Path
from types import UnionType
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

import msgspec
from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index, sm3_hex
from lianban.errors import FatalError
from lianban.keys.names import EVIDENCE, hub_signing_name
from lianban.keys.rings import load_ring
from lianban.ledger.evidence_head import LISTENERS, PENDING, Pending, head_file_problem, reach_problem, read_head
from lianban.ledger.models import Evidence, EvidenceAnchor
from lianban.wire.signatures import Proof

GENESIS = "0" * 64
ARCHIVE_SIGNER = hub_signing_name("SM")
FIELDS = ("id", "at", "direction", "department", "kind", "case_nos", "digest", "signature", "key_id")

alerts = logging.getLogger("lianban.alerts")


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


_ANCHORS = cast(Table, EvidenceAnchor.__table__)


def _lock_head(session: Session) -> EvidenceAnchor:
    """Take the append lock (row lock on PostgreSQL, write lock on SQLite) and return the anchor.

    Every append of every process waits for it, so a transaction takes it last: what it records is read and
    judged first (the rows it will write locked then, on PostgreSQL), and the lock is held only while writing.
    One order for all (rows, then this lock) is also what keeps two such transactions from deadlocking."""
    # Core: the ORM's bulk update around it cost more than the lock itself
    session.execute(update(_ANCHORS).where(_ANCHORS.c.id == 1).values(head_id=_ANCHORS.c.head_id))
    anchor = session.get(EvidenceAnchor, 1)
    if anchor is None:  # migration 0003 creates it: gone, it was deleted in the ledger
        raise FatalError("证据链锚点缺失（台账中的锚点行被删除），未记录任何证据，流水线停止："
                         "请运行 lianban audit verify 查明台账被改动的情况 (the evidence anchor row is missing: "
                         "nothing recorded; run `lianban audit verify`)")
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
        return (f"第 {expected_id - 1} 条之后应为第 {expected_id} 条，却是第 {e['id']} 条（删除或重排）"
                f"(gap or reorder)")
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


def row_of(e: Evidence) -> dict[str, Any]:
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


def _hash_at(session: Session, entry_id: int) -> str | None:
    return session.scalar(select(Evidence.entry_hash).where(Evidence.id == entry_id))


def verify_ledger(session: Session, keys_dir: Path, known_heads: Iterable[tuple[int, str]] = ()) -> Verdict:
    """Verify the whole chain in the ledger, every entry's keyed hash and the MACed head anchor; then that
    the chain holds, with the same hash, the head mirrored outside the ledger (``evidence-head.json``) and
    any `known_heads` (id, hash) recorded elsewhere, such as a signed archive's trailer, and reaches that
    far. Read-only: it creates no key and no file."""
    keys = chain_keys(keys_dir)
    rows = (row_of(e) for e in session.scalars(select(Evidence).order_by(Evidence.id)))
    verdict, last_id, last_hash = verify_entries(rows, keys)
    if not verdict.ok:
        return verdict
    problem = _anchor_problem(session.get(EvidenceAnchor, 1), keys, (last_id, last_hash))
    if problem:
        return Verdict(False, verdict.checked, last_id or None, problem)
    hash_at = partial(_hash_at, session)
    found = head_file_problem(keys_dir, keys, last_id, hash_at)
    for head in known_heads:
        found = found or reach_problem("已知链头（如月度归档）", head, last_id, hash_at)
    return Verdict(False, verdict.checked, found[1], found[0]) if found else verdict


_LEAVES = frozenset({str, int, float, bool, type(None), bytes})
#: annotations msgspec renders byte for byte as ``json.dumps`` (sorted, ensure_ascii off, compact) does
_SAME_IN_MSGSPEC = frozenset({str, int, bool, type(None)})
_FAST = msgspec.json.Encoder(order="sorted")


def _is_record(kind: Any) -> bool:
    """Whether `kind` is a dataclass or a msgspec struct type: a body of named fields, rendered as a dict."""
    return isinstance(kind, type) and (is_dataclass(kind) or issubclass(kind, msgspec.Struct))


@cache
def _field_names(kind: Any) -> tuple[str, ...] | None:
    """The field names of dataclass or struct `kind`, in order (None for any other type)."""
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return tuple(kind.__struct_fields__)
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None


def _renders_alike(hint: Any) -> bool:
    """Whether a value of annotation `hint` is rendered the same by msgspec and by ``json.dumps(default=str)``:
    str, int, bool, None, string enums, tuples, lists, dicts by text and unions of them, and dataclasses or
    structs of only those.
    Not floats (exponents are written differently), nor dates, bytes or other enums (``default=str`` renders
    them)."""
    if hint in _SAME_IN_MSGSPEC or (isinstance(hint, type) and issubclass(hint, StrEnum)):
        return True
    if _is_record(hint):
        return _plain_record(hint)
    origin, args = get_origin(hint), get_args(hint)
    if (origin is tuple and len(args) == 2 and args[1] is Ellipsis) or (origin is list and len(args) == 1):
        return _renders_alike(args[0])
    if origin is dict and len(args) == 2:  # text keys: both sort them and write them as they are
        return args[0] is str and _renders_alike(args[1])
    return origin in (Union, UnionType) and all(_renders_alike(a) for a in args)


@cache
def _plain_record(kind: Any) -> bool:
    """Whether every field of dataclass or struct `kind` is annotated with what :func:`_renders_alike` allows
    and is public (msgspec leaves out a dataclass's fields named with a leading underscore), and, for a struct,
    whether msgspec writes it as a dict of every field under its own name (no renaming, tag, array or left-out
    defaults), as ``dataclasses.asdict`` would."""
    if issubclass(kind, msgspec.Struct):
        config = kind.__struct_config__
        if (kind.__struct_encode_fields__ != kind.__struct_fields__ or config.array_like or config.omit_defaults
                or config.tag is not None):
            return False
    try:
        hints = get_type_hints(kind)
    except (NameError, TypeError):
        return False
    names = _field_names(kind) or ()
    return all(not name.startswith("_") and _renders_alike(hints[name]) for name in names)


def _fields_of(v: Any) -> Any:
    """What :func:`dataclasses.asdict` makes of `v` (a struct, at any depth, made into the same dict of its
    fields), without its deep copy of every leaf (the JSON is the same; measured: the copy was 10 % of a report
    run pushing 60,000 events)."""
    kind: Any = type(v)
    if kind in _LEAVES:
        return v
    names = _field_names(kind)
    if names is not None:  # leaves kept inline: most fields are, and a call each was a fifth of a report's digest
        return {name: x if type(x := getattr(v, name)) in _LEAVES else _fields_of(x) for name in names}
    if isinstance(v, tuple) and hasattr(v, "_fields"):  # a named tuple, rebuilt as asdict does
        return type(v)(*[_fields_of(x) for x in v])
    if isinstance(v, list | tuple):
        return type(v)(_fields_of(x) for x in v)
    if isinstance(v, dict):
        return type(v)((_fields_of(k), _fields_of(x)) for k, x in v.items())
    return v


def body_of(value: Any) -> bytes:
    """Canonical bytes of a message body (dataclasses, msgspec structs, dicts, lists) for digesting:
    ``json.dumps`` of what :func:`dataclasses.asdict` makes of it (of a struct: the same dict of its fields),
    keys sorted, compact, ``default=str``. A dataclass or struct, or a list or tuple of them, whose fields hold
    only what both render alike (:func:`_renders_alike`: a report's events) is encoded by msgspec, 18 times
    faster, to the same bytes."""
    kinds: set[Any] = {type(v) for v in value} if isinstance(value, list | tuple) else {type(value)}
    if kinds and all(_is_record(kind) and _plain_record(kind) for kind in kinds):
        return _FAST.encode(value)

    def plain(v: Any) -> Any:
        return _fields_of(v) if _is_record(type(v)) else v

    data = [plain(v) for v in value] if isinstance(value, list | tuple) else plain(value)
    return json.dumps(data, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":")).encode()


class EvidenceLog:
    """Appends messages to the chain with one chain key (the active key of the ``evidence`` ring), and
    mirrors the new head beside the keys once each transaction commits."""

    def __init__(self, chain: tuple[str, bytes], keys_dir: Path) -> None:
        self._chain, self._keys_dir = chain, Path(keys_dir)

    @classmethod
    def load(cls, keys_dir: Path) -> EvidenceLog:
        """The log keyed with the active chain key in `keys_dir`; ConfigError when the ring is missing."""
        return cls(load_ring(keys_dir, EVIDENCE).active_key(), keys_dir)

    def __repr__(self) -> str:
        return f"EvidenceLog(chain_kid={self._chain[0]!r}, keys_dir={str(self._keys_dir)!r})"

    def sent(self, session: Session, department: str, kind: str, case_nos: Sequence[str], body: Any,
             signature: str | None = None, key_id: str | None = None, digest: str | None = None) -> None:
        """Record a message sent (whether or not an answer comes); `digest`: the SM3 of ``body_of(body)``, when
        it was computed elsewhere (the report's reader process)."""
        self._append(session, [Message("out", department, kind, case_nos, b"" if digest else body_of(body),
                                       signature, key_id, digest)])

    def received(self, session: Session, department: str, kind: str, case_nos: Sequence[str], answer: Any,
                 proofs: Sequence[Proof]) -> None:
        """Record the answer: one entry per wire exchange the transport verified (its signature, key id and
        wire digest); one unsigned entry over the answer's canonical body when there is no proof."""
        messages = [Message("in", department, kind, case_nos, b"", p.signature, p.key_id, p.answer_digest)
                    for p in proofs] or [Message("in", department, kind, case_nos, body_of(answer))]
        self._append(session, messages)

    def received_signed(self, session: Session, department: str, kind: str, case_nos: Sequence[str], digest: str,
                        signature: str, key_id: str) -> None:
        """Record a message a party sent the hub on its own (a status callback): the SM3 of its body as
        received, its signature and the signer's key or app id."""
        self._append(session, [Message("in", department, kind, case_nos, b"", signature, key_id, digest)])

    def _append(self, session: Session, messages: Sequence[Message]) -> None:
        """Append inside the caller's transaction; the head file follows once it commits."""
        if not record(session, messages, self._chain):
            return
        anchor = session.get(EvidenceAnchor, 1)  # locked by record(), holding the new head
        assert anchor is not None
        earlier: Pending | None = session.info.get(PENDING)
        frozen = earlier.frozen if earlier else self._disagrees(session, anchor.head_id)
        session.info[PENDING] = Pending(self._keys_dir, self._chain, anchor.head_id, anchor.head_hash, frozen)
        for name, listener in LISTENERS:
            if not event.contains(session, name, listener):
                event.listen(session, name, listener)

    def _disagrees(self, session: Session, head_id: int) -> bool:
        """Whether the head file names a head this chain (up to `head_id`, appends included) does not hold:
        after a rollback the file must stay where it is, as evidence, not move on to the new chain."""
        problem: str | None = None
        try:
            head = read_head(self._keys_dir)
        except (OSError, ValueError) as exc:
            problem = f"链外锚点文件无法读取 (head file unreadable): {exc}"
        else:
            found = head and reach_problem("链外锚点", (head["head_id"], head["head_hash"]), head_id,
                                            partial(_hash_at, session))
            problem = found[0] if found else None
        if problem:
            alerts.error("告警 ALERT: 链外锚点保留不动，作为证据 (head file kept as evidence): %s", problem)
        return problem is not None
