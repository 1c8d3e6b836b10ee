"""`lianban audit …`: the evidence log, verified and archived."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lianban.app.cli.output import JsonFlag, emit
from lianban.app.config import Paths

audit_app = typer.Typer(help="证据日志 (evidence log)", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(archive: Annotated[Path | None, typer.Option(help="verify an archive file alone")] = None,
                 as_json: JsonFlag = False) -> None:
    """校验证据链：任一条被篡改、删除或重排即指出第一条 (walk the chain, name the first bad entry)."""
    from lianban.ledger import evidence
    from lianban.ledger.db import session_factory

    paths = Paths.from_env()
    if archive:
        verdict = evidence.verify_archive(archive, paths.keys_dir)
    else:
        with session_factory(paths.ledger_url)() as session:
            verdict = evidence.verify_ledger(session, paths.keys_dir)
    emit(verdict.as_dict(), as_json, "证据链校验 (evidence chain)")
    if not verdict.ok:
        raise typer.Exit(1)


@audit_app.command("archive")
def audit_archive(month: Annotated[str, typer.Option(help="YYYY-MM")],
                  out: Annotated[Path, typer.Option(help="folder for the archive")] = Path("var/archive")) -> None:
    """按月归档证据日志（可独立校验）(write a self-verifying monthly archive)."""
    from lianban.ledger import evidence
    from lianban.ledger.db import session_factory

    paths = Paths.from_env()
    with session_factory(paths.ledger_url)() as session:
        path = evidence.archive_month(session, month, out, paths.keys_dir)
    typer.echo(f"已归档 (archived): {path}")
