"""`lianban audit …`: the evidence log, verified and archived."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lianban.app.cli.output import JsonFlag, emit, emit_done
from lianban.app.config import Paths
from lianban.errors import ConfigError, FatalError

if TYPE_CHECKING:
    from lianban.ledger.evidence import Verdict

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

audit_app = typer.Typer(help="证据日志 (evidence log)", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(archive: Annotated[list[Path] | None, typer.Option(
                     help="verify an archive file alone, or several together: they must chain on (repeatable)")] = None,
                 against: Annotated[list[Path] | None, typer.Option(
                     help="an archive kept off-host: the ledger must still hold its head (repeatable)")] = None,
                 as_json: JsonFlag = False) -> None:
    """校验证据链：任一条被篡改、删除或重排即指出第一条；--against 另存的月度归档，核对台账仍含其链头
    (walk the chain, name the first bad entry; --against: and that it still holds each archive's head; --archive: the
    archives alone, and that those given chain on, none missing between them)."""
    from lianban.ledger import evidence
    from lianban.ledger.db import session_factory

    paths = Paths.from_env()
    shown: dict[str, object]
    if archive:
        verdict, chain_key = _verify_archives(archive, paths.keys_dir)
        shown = {**verdict.as_dict(), "chain_key": chain_key}
    else:
        heads, failed = _known_heads(against or [], paths.keys_dir)
        with session_factory(paths.existing_ledger())() as session:
            verdict = failed or evidence.verify_ledger(session, paths.keys_dir, heads)
        shown = verdict.as_dict()
    emit(shown, as_json, "证据链校验 (evidence chain)")
    if not verdict.ok:
        raise typer.Exit(1)


def _verify_archives(archives: list[Path], keys_dir: Path) -> tuple[Verdict, bool]:
    """Verify each archive alone (a failure among several names its file), then that they chain on."""
    from dataclasses import replace

    from lianban.ledger.evidence import Verdict
    from lianban.ledger.evidence_archive import link_problem

    checked, chain_key = 0, False
    for archive in archives:
        verdict, chain_key = _verify_archive(archive, keys_dir)
        if not verdict.ok:
            named = replace(verdict, problem=f"归档 {archive}：{verdict.problem}")
            return (verdict if len(archives) == 1 else named), chain_key
        checked += verdict.checked
    unlinked = link_problem(archives)
    return (Verdict(False, checked, unlinked[1], unlinked[0]) if unlinked else Verdict(True, checked)), chain_key


def _known_heads(archives: list[Path], keys_dir: Path) -> tuple[list[tuple[int, str]], Verdict | None]:
    """The head (id, hash) each archive's signed trailer records, once the archive verifies; else the verdict of
    the first that does not, naming it."""
    from dataclasses import replace

    from lianban.ledger.evidence_archive import archive_head

    heads: list[tuple[int, str]] = []
    for archive in archives:
        verdict, _ = _verify_archive(archive, keys_dir)
        if not verdict.ok:
            return heads, replace(verdict, problem=f"归档 {archive}：{verdict.problem}")
        heads.append(archive_head(archive))
    return heads, None


def _verify_archive(archive: Path, keys_dir: Path) -> tuple[Verdict, bool]:
    """Verify an archive file, and whether every entry's keyed hash was checked too: with the chain key where the
    keys folder holds it (the hub's), else with the hub's public key alone (an auditor's: the signed trailer
    still covers every entry). A file that is not there, or is no evidence archive at all, is a ConfigError
    (a slip of the operator's, exit 2) rather than a failed verdict (exit 1)."""
    from lianban.keys.names import EVIDENCE
    from lianban.ledger import evidence_archive

    if not archive.is_file():
        raise ConfigError(f"归档文件不存在或不是文件：{archive}；请检查 --archive 的路径 "
                          f"(archive file not found: {archive}; check --archive)")
    chain_key = (keys_dir / f"{EVIDENCE}.json").exists()
    try:
        return evidence_archive.verify_archive(archive, keys_dir, with_chain_key=chain_key), chain_key
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"无法读取证据归档 {archive}（{type(exc).__name__}）："
                          f"它不是 lianban audit archive 写出的证据归档，或已损坏 (cannot read {archive} as an "
                          f"evidence archive written by `lianban audit archive`, or it is damaged)") from None


@audit_app.command("archive")
def audit_archive(month: Annotated[str, typer.Option(help="YYYY-MM, a Beijing month (北京时间的月份)")],
                  out: Annotated[Path | None, typer.Option(help="folder for the archive (default <home>/archive)")]
                  = None,
                  as_json: JsonFlag = False) -> None:
    """按月归档证据日志（可独立校验）(write a self-verifying monthly archive)."""
    from lianban.app.setup import make_folder
    from lianban.ledger import evidence_archive
    from lianban.ledger.db import session_factory

    if not MONTH.fullmatch(month):
        raise ConfigError(f"--month 应为 YYYY-MM 格式的月份，如 2025-01，而不是 {month!r} "
                          f"(--month must be a month as YYYY-MM, e.g. 2025-01, not {month!r})")
    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    out = out or paths.home / "archive"  # the installation's, wherever the command is typed
    make_folder(out, "--out")
    path = out / f"evidence-{month}.jsonl"
    if path.exists():
        _refuse_unverified(path, paths.keys_dir)
    with session_factory(ledger)() as session:
        written = (evidence_archive.archive_once(session, month, out, paths.keys_dir) if path.exists()
                   else evidence_archive.archive_month(session, month, out, paths.keys_dir))
    said = (f"已归档 (archived): {path}" if written
            else f"该月已有完整归档，未改动 (already archived, left as it is): {path}")
    emit_done(said, {"month": month, "archive": str(path), "written": written is not None}, as_json)


def _refuse_unverified(path: Path, keys_dir: Path) -> None:
    """FatalError when the archive already at `path` does not verify: it is kept as found (evidence of what
    happened to it), never written over."""
    verdict, _ = _verify_archive(path, keys_dir)
    if not verdict.ok:
        raise FatalError(f"已有的归档 {path} 未通过校验（{verdict.problem}），未覆盖：请先查明原因，另存该文件后再归档 "
                         f"(the archive there fails verification: kept, not replaced)")
