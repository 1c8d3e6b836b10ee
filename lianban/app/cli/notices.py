"""`lianban notices list [--failed]`: the SMS notices to people (双告知), never with a phone or a name."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console
from lianban.app.config import Paths

notices_app = typer.Typer(help="双告知短信：到龄提醒、待遇告知 (SMS notices to people)", no_args_is_help=True)
STATE_ZH = {"planned": "待发送", "sent": "已发送", "delivered": "已送达", "failed": "送达失败待重发",
            "dead": "发送失败", "invalid": "号码无效"}


@notices_app.command("list")
def notices_list(failed: Annotated[bool, typer.Option("--failed", help="只列出需要人工处理的（号码无效、发送失败）")]
                 = False, as_json: JsonFlag = False) -> None:
    """列出短信告知 (list notices; --failed: those a person must look at)."""
    from lianban.pipeline.sms_notices import NoticeState, listed

    states = (NoticeState.DEAD, NoticeState.INVALID) if failed else ()
    rows = [n.as_dict() for n in listed(Paths.from_env().existing_ledger(), states)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"短信告知 (notices): {len(rows)}")
    for column in ("编号", "类别", "期间", "对象（索引）", "状态", "发送次数", "原因"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), str(r["kind"]), str(r["period"]), str(r["person"]),
                      STATE_ZH.get(str(r["state"]), str(r["state"])), str(r["sends"]), str(r["reason"] or ""))
    console.print(table)
