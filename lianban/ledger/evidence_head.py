"""The evidence chain's head mirrored outside the ledger: ``<keys_dir>/evidence-head.json``.

Head id, head hash, chain key id, time written and an SM3-HMAC over them, moved forward by
:class:`lianban.ledger.evidence.EvidenceLog` once the ledger transaction commits (``after_commit``), under an
``flock``, never back. A crash between commit and file write leaves the file behind the ledger, which is
not tampering: the file's head need only be an entry of the chain, with the same hash. Verifying only reads
it (:func:`head_file_problem`): a wiped or rolled-back ledger no longer reaches the head the file records.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, SessionTransaction

from lianban.crypto.hashing import blind_index
from lianban.keys.files import write_private_json
from lianban.keys.names import EVIDENCE_HEAD

HEAD_FIELDS = ("head_id", "head_hash", "chain_kid", "written_at")  # MACed, in this order
alerts = logging.getLogger("lianban.alerts")


def head_path(keys_dir: Path) -> Path:
    """The chain's head mirrored outside the ledger, beside the keys (not a key: ``keys list`` skips it)."""
    return Path(keys_dir) / f"{EVIDENCE_HEAD}.json"


def _head_mac(key: bytes, head: Mapping[str, Any]) -> str:
    return blind_index(key, "head-file|" + "|".join(str(head[k]) for k in HEAD_FIELDS))


def read_head(keys_dir: Path) -> dict[str, Any] | None:
    """The head file as written (its MAC unchecked); None when there is none, ValueError when malformed."""
    try:
        data = json.loads(head_path(keys_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except RecursionError:  # nested deeper than the parser goes: malformed like any other
        raise ValueError(f"{head_path(keys_dir)} is not an evidence head file") from None
    if not (isinstance(data, dict) and type(data.get("head_id")) is int
            and all(isinstance(data.get(k), str) for k in (*HEAD_FIELDS[1:], "mac"))):
        raise ValueError(f"{head_path(keys_dir)} is not an evidence head file")
    return data


def _advance_head(keys_dir: Path, chain: tuple[str, bytes], head_id: int, head_hash: str) -> None:
    """Move the head file forward to `head_id`, never back. Appenders in other processes race here, so the
    read-compare-write holds an exclusive ``flock`` on ``evidence-head.lock``; the write is atomic (0600)."""
    path = head_path(keys_dir)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = read_head(keys_dir)
        except ValueError as exc:  # left as found, for whoever investigates; verify names it
            alerts.error("告警 ALERT: 链外锚点文件格式错误，未更新 (head file malformed, left alone): %s", exc)
            return
        if current is not None and current["head_id"] >= head_id:
            return
        kid, key = chain
        head = {"head_id": head_id, "head_hash": head_hash, "chain_kid": kid,
                "written_at": datetime.now(UTC).isoformat()}
        write_private_json(path, {**head, "mac": _head_mac(key, head)})
    finally:
        os.close(fd)  # releases the lock


PENDING = "lianban.evidence.head"  # session.info: the head to mirror once the transaction commits


@dataclass(frozen=True)
class Pending:
    keys_dir: Path
    chain: tuple[str, bytes] = field(repr=False)
    head_id: int
    head_hash: str
    frozen: bool  # the head file disagrees with the ledger: keep it as evidence, do not move it


def _after_commit(session: Session) -> None:
    pending: Pending | None = session.info.pop(PENDING, None)
    if pending is None or pending.frozen:
        return
    try:
        _advance_head(pending.keys_dir, pending.chain, pending.head_id, pending.head_hash)
    except OSError as exc:  # the ledger has committed: the file stays behind, which verify accepts
        alerts.error("告警 ALERT: 证据已提交，但链外锚点文件 %s 未能更新 (head file not written): %s",
                     head_path(pending.keys_dir), exc)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """Rolled back (a savepoint too; what stays is mirrored by the next commit): nothing to mirror now."""
    session.info.pop(PENDING, None)


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended (after ``after_commit`` when it committed, or closed without one)."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_commit", _after_commit), ("after_soft_rollback", _forget), ("after_transaction_end", _forget_at_end))


def reach_problem(what: str, head: tuple[int, str], last_id: int,
                   hash_at: Callable[[int], str | None]) -> tuple[str, int] | None:
    """Whether a head recorded elsewhere (`what`) is an entry of the ledger's chain, which reaches `last_id`;
    the problem and the first entry concerned when it is not."""
    head_id, head_hash = head
    if head_id <= 0:
        return None
    if head_id > last_id:
        return (f"证据链被清空或回滚：{what}记录到第 {head_id} 条，台账只有 {last_id} 条 "
                f"(chain wiped or rolled back)", last_id + 1)
    if hash_at(head_id) != head_hash:
        return (f"证据链被回滚后改写：台账第 {head_id} 条与{what}记录的不同 "
                f"(chain rolled back and rewritten)", head_id)
    return None


def head_file_problem(keys_dir: Path, keys: Mapping[str, bytes], last_id: int,
                       hash_at: Callable[[int], str | None]) -> tuple[str, int | None] | None:
    path = head_path(keys_dir)
    try:
        head = read_head(keys_dir)
    except (OSError, ValueError):
        return f"链外锚点文件 {path} 无法读取或格式错误 (head file unreadable)", None
    if head is None:
        return None if last_id == 0 else (f"链外锚点文件 {path} 缺失，而台账有 {last_id} 条 "
                                          f"(head file missing)", None)
    key = keys.get(head["chain_kid"])
    if key is None:
        return f"链外锚点的链密钥 {head['chain_kid']!r} 未知 (head file keyed with an unknown chain key)", None
    if _head_mac(key, head) != head["mac"]:
        return f"链外锚点文件 {path} 校验失败（被篡改）(head file forged)", None
    return reach_problem("链外锚点", (head["head_id"], head["head_hash"]), last_id, hash_at)


