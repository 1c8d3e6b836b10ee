"""Monthly evidence archives: the entries of one month (a Beijing month, as operators count them) as JSON Lines,
with a trailer (count, first previous hash, head id and hash, SM3 of the entries) signed with the hub's SM2 key,
so anyone holding the hub's public key checks an archive on its own, and with the chain key every entry too.
Archives written before 2026-12-06 hold a UTC month; they verify as any other."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import get_suite
from lianban.errors import FatalError
from lianban.keys import keysets
from lianban.keys.files import write_private_text
from lianban.ledger.evidence import ARCHIVE_SIGNER, GENESIS, Verdict, chain_keys, row_of, verify_entries
from lianban.ledger.models import Evidence
from lianban.ledger.time_limits import beijing_date, beijing_midnight

_NAME = re.compile(r"evidence-(\d{4}-\d{2})\.jsonl")  # as archive_month names its file


def _trailer_text(trailer: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in trailer.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":")).encode()


def _bounds(month: str) -> tuple[str, str]:
    """When Beijing month `month` (YYYY-MM) begins and when the next one does, in UTC as ISO 8601 text to
    compare with ``Evidence.at`` (UTC, ISO 8601, so text sorts as time does, on SQLite and PostgreSQL alike)."""
    first, after = date.fromisoformat(f"{month}-01"), date.fromisoformat(f"{_month_after(month)}-01")
    return beijing_midnight(first).isoformat(), beijing_midnight(after).isoformat()


def archive_month(session: Session, month: str, out_dir: Path, keys_dir: Path) -> Path:
    """Write the entries of `month` (YYYY-MM, a Beijing month: 2026-12 begins 2026-11-30T16:00 UTC) as JSON Lines
    with a trailer signed by the hub (SM2): every entry from the month's first to its last, so that one stamped
    with another month by a host whose clock is a little off (appends from several hosts, around midnight at a
    month's end) leaves no gap in either month's chain. An archive already at its path is never written over
    (FatalError): it may be the copy an operator verified and took off-host (:func:`archive_once` decides)."""
    start, end = _bounds(month)
    first, last = session.execute(select(func.min(Evidence.id), func.max(Evidence.id))
                                  .where(Evidence.at >= start, Evidence.at < end)).one()
    rows = [row_of(e) for e in session.scalars(select(Evidence).where(Evidence.id.between(first, last))
                                            .order_by(Evidence.id))] if first is not None else []
    _check_entries(rows, month, keys_dir)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    trailer: dict[str, Any] = {
        "archive": month, "count": len(rows), "start_prev": rows[0]["prev_hash"] if rows else GENESIS,
        "head": rows[-1]["entry_hash"] if rows else GENESIS, "head_id": rows[-1]["id"] if rows else 0,
        "entries_sm3": sm3_hex("\n".join(lines).encode())}
    signer = keysets.load(keys_dir, ARCHIVE_SIGNER)
    kid, private = signer.active_private()
    trailer["signer_kid"] = kid
    trailer["signature"] = base64.b64encode(get_suite(signer.suite).sign(private, _trailer_text(trailer))).decode()
    path = out_dir / f"evidence-{month}.jsonl"  # written whole or not at all, and never over one there
    try:
        write_private_text(path, "\n".join([*lines, json.dumps(trailer)]) + "\n", replace=False)
    except FileExistsError:
        raise FatalError(f"{path} 已有归档，未覆盖：它可能是已核验并带离本机的那一份；请用 lianban audit archive 归档"
                         f"（完整的保留原样，该月结束前写的移到一旁后重写）(an archive is there already: never "
                         f"written over)") from None
    return path


def _check_entries(rows: list[dict[str, Any]], month: str, keys_dir: Path) -> None:
    """FatalError naming the first of `rows` that fails its chain (the chain key's check): the hub signs no
    archive of entries edited in the ledger, which a holder of its public key alone would find intact."""
    verdict, _, _ = verify_entries(rows, chain_keys(keys_dir), start_prev=rows[0]["prev_hash"] if rows else GENESIS)
    if not verdict.ok:
        raise FatalError(f"{month} 的证据未通过校验，未归档：{verdict.problem}；请运行 lianban audit verify 查明台账"
                         f"被改动的情况 (entries fail their chain: not archived; run `lianban audit verify`)")


def month_before(day: date) -> str:
    """The Beijing month (YYYY-MM) before the one `day` (a Beijing date) is in."""
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def _month_after(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    return f"{date(first.year + first.month // 12, first.month % 12 + 1, 1):%Y-%m}"


def months_missed(session: Session, out_dir: Path, before: str) -> list[str]:
    """The Beijing months before `before` (YYYY-MM) a run that archives `before` checks too, oldest first: from
    the month of the ledger's first entry (none before it: the ledger holds nothing of them), each month with no
    archive in `out_dir` (the host down all of the month after, or its archive moved away: a gap behind the newest
    archive too), and the newest archived and those after it (kept if whole, :func:`archive_once`)."""
    named = {m[1] for p in out_dir.glob("evidence-*.jsonl") if (m := _NAME.fullmatch(p.name))}
    first_at = session.scalar(select(Evidence.at).order_by(Evidence.id).limit(1))
    if first_at is None:
        return []
    month, newest = f"{beijing_date(datetime.fromisoformat(str(first_at))):%Y-%m}", max(named, default="")
    months = []
    while month < before:
        if month not in named or month >= newest:
            months.append(month)
        month = _month_after(month)
    return months


def archive_once(session: Session, month: str, out_dir: Path, keys_dir: Path) -> Path | None:
    """`month`'s archive in `out_dir` unless one reaching the month's last entry is there already (kept as it is:
    it may be the copy an operator verified and took off-host) or the ledger holds no entry of that month; the
    path written, else None. One short of it (``audit archive`` typed before the month ended) is moved aside,
    kept, and the whole month written."""
    start, end = _bounds(month)
    last = session.scalar(select(func.max(Evidence.id)).where(Evidence.at >= start, Evidence.at < end))
    path = out_dir / f"evidence-{month}.jsonl"
    if last is None or (path.exists() and not _short_of(path, last)):
        return None
    if path.exists():
        path.rename(path.with_name(f"evidence-{month}.upto-{archive_head(path)[0]}.jsonl"))
    return archive_month(session, month, out_dir, keys_dir)


def _short_of(path: Path, last_id: int) -> bool:
    """Whether the archive at `path` records a head before entry `last_id` (False when it cannot be read: left
    as found, for ``audit verify --archive`` to name)."""
    try:
        return archive_head(path)[0] < last_id
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False


def archive_head(path: Path) -> tuple[int, str]:
    """The head (id, hash) the trailer of archive `path` records (read once :func:`verify_archive` passed it)."""
    trailer = json.loads([line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][-1])
    return int(trailer["head_id"]), str(trailer["head"])


def _trailer_problem(trailer: Mapping[str, Any], lines: list[str], keys_dir: Path) -> str | None:
    signer, kid = keysets.load(keys_dir, ARCHIVE_SIGNER, public_only=True), str(trailer.get("signer_kid"))
    public = signer.public.get(kid) or signer.retired.get(kid)  # an archive outlives the key that signed it
    if public is None:
        return (f"归档由密钥 {kid} 签名，而本方公钥文件中没有这个密钥（含已停用的）：请用签名时的公钥文件核验 "
                f"(signed with key {kid}, which the public key file does not hold)")
    signature = base64.b64decode(str(trailer.get("signature", "")))
    if not get_suite(signer.suite).verify(public, _trailer_text(trailer), signature):
        return "归档尾部签名无效 (archive trailer signature invalid)"
    if sm3_hex("\n".join(lines).encode()) != trailer.get("entries_sm3") or len(lines) != trailer.get("count"):
        return "归档内容与签名的尾部不符（条目被改动、删除或增加）(archive entries altered)"
    return None


def _month_problem(path: Path, trailer: Mapping[str, Any]) -> str | None:
    """Whether a file named as :func:`archive_month` names it (``evidence-YYYY-MM.jsonl``) holds another month's
    archive (signed as such: its trailer's ``archive``), an older archive put in the place of this one."""
    named = _NAME.fullmatch(path.name)
    if named is None or trailer["archive"] == named[1]:
        return None
    return (f"归档文件名的月份 {named[1]} 与签名的尾部记录的月份 {trailer['archive']} 不符（被替换或重放）"
            f"(the archive of another month)")


def _json_lines(lines: list[str]) -> tuple[list[dict[str, Any]], int | None]:
    """Each line as a JSON object; the 1-based number of the first line that is not one."""
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return parsed, number
        if not isinstance(value, dict):
            return parsed, number
        parsed.append(value)
    return parsed, None


def verify_archive(path: Path, keys_dir: Path, with_chain_key: bool = True) -> Verdict:
    """Verify an archive on its own: the hub's signature over its trailer and entries, the links between
    entries and, when the chain key is at hand (`with_chain_key`), every entry's keyed hash. Anything in the
    file that is not what an archive holds is a failed verdict naming it; a file with not one archive line in
    it is no archive at all (ValueError), and no file is an OSError."""
    try:
        raw = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return Verdict(False, 0, None, "归档文件不是 UTF-8 文本（被改动或不是证据归档）(not an archive)")
    parsed, bad_line = _json_lines(raw)
    if not parsed:
        raise ValueError("not an evidence archive: no line is an entry or a trailer")
    if bad_line is not None:
        return Verdict(False, 0, None, f"归档第 {bad_line} 行不是合法记录（被改动或损坏）(line {bad_line} altered)")
    if not parsed or "archive" not in parsed[-1]:
        return Verdict(False, 0, None, "归档文件缺少尾部校验信息 (trailer missing)")
    trailer, entries, lines = parsed[-1], parsed[:-1], raw[:-1]
    try:
        verdict, _last, head = verify_entries(entries, chain_keys(keys_dir) if with_chain_key else None,
                                              start_prev=trailer["start_prev"])
        if not verdict.ok:
            return verdict
        problem = _trailer_problem(trailer, lines, keys_dir) or _month_problem(path, trailer) or (
            None if head == trailer["head"] else "归档链尾与尾部记录不符 (truncated archive)")
    except (KeyError, TypeError, ValueError):
        return Verdict(False, 0, None, "归档记录或尾部缺少字段（被改动）(entries or trailer altered)")
    return Verdict(False, verdict.checked, None, problem) if problem else verdict




def _span(path: Path) -> tuple[int, int, dict[int, str]]:
    """An archive's first and last entry ids and, by id, each entry's hash and (one before its first) the previous
    hash its trailer records (read once :func:`verify_archive` passed it); (0, 0, {}) when it holds none."""
    *entries, trailer = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not entries:
        return 0, 0, {}
    first = int(entries[0]["id"])
    return first, int(entries[-1]["id"]), {first - 1: str(trailer["start_prev"]),
                                           **{int(e["id"]): str(e["entry_hash"]) for e in entries}}


def link_problem(archives: Sequence[Path]) -> tuple[str, int] | None:
    """Whether archives (each verified alone) chain on, taken in the order of their entries: each one's first entry
    follows an entry of the one reaching furthest before it (its previous hash is that entry's hash), and no entry
    between them is in none; the problem and the first entry concerned when not."""
    spans = sorted(((*_span(path), path) for path in archives), key=lambda span: span[0])
    reach: tuple[int, dict[int, str], Path] | None = None
    for first, last, hashes, path in (span for span in spans if span[2]):
        if reach is not None:
            last_before, held, before = reach
            if first - 1 not in held:
                return (f"第 {last_before + 1}–{first - 1} 条不在所给的任何归档中（缺少某月的归档？）：{before} 之后是 "
                        f"{path} (entries missing between the archives)", last_before + 1)
            if held[first - 1] != hashes[first - 1]:
                return (f"归档 {path} 未接续 {before}：第 {first} 条记录的前一条哈希与之不符（归档不属于同一条证据链）"
                        f"(the archives do not chain on)", first)
        if reach is None or last > reach[0]:
            reach = (last, hashes, path)
    return None
