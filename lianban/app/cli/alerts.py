"""`lianban alerts check|list`: liaison alerts (联络员告警) — tell each liaison once per incident, and list them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from lianban.app.cli.output import JsonFlag, console, emit
from lianban.app.config import Paths

alerts_app = typer.Typer(help="联络员告警：事件一开一关各通知一次 (liaison alerts)", no_args_is_help=True)


@alerts_app.command("check")
def alerts_check(as_json: JsonFlag = False) -> None:
    """检查台账并通知联络员：新事件告警一次，恢复后解除一次 (observe, open/resolve incidents, notify)."""
    from lianban.app.alerting import channels_from_env
    from lianban.domain.liaisons import load_liaisons
    from lianban.pipeline.alerts import check

    liaisons, channels = load_liaisons(), channels_from_env()  # both checked before the ledger is touched
    emit(check(Paths.from_env().existing_ledger(), liaisons, channels).as_dict(), as_json, "告警检查 (alerts)")


@alerts_app.command("list")
def alerts_list(open_only: Annotated[bool, typer.Option("--open", help="只列出未解除的事件")] = False,
                as_json: JsonFlag = False) -> None:
    """列出告警事件 (incidents, newest first)."""
    from lianban.domain.incidents import KINDS
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Incident

    query = select(Incident).order_by(Incident.id.desc())
    with session_factory(Paths.from_env().existing_ledger())() as session:
        rows: list[dict[str, object]] = [
            {"incident": f"INC-{i.id:06d}", "kind": i.kind, "what": KINDS[i.kind].what, "party": i.party,
             "state": i.state, "count": i.count, "peak": i.peak, "opened_at": i.opened_at.isoformat(),
             "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None, "told": i.notified_at is not None}
            for i in session.scalars(query) if not open_only or i.state == "open"]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"告警事件 (incidents): {len(rows)}")
    for column in ("事件", "部门", "情况", "状态", "涉及", "开始", "解除"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("incident", "party", "what")),
                      "未解除" if r["state"] == "open" else "已解除", str(r["count"]), str(r["opened_at"])[:16],
                      str(r["resolved_at"] or "")[:16])
    console.print(table)
