"""`lianban supplements …`: 补正 submissions that did not reach their department, and putting them back."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from lianban.app.cli.output import JsonFlag, console, emit_done
from lianban.app.config import Paths

supplements_app = typer.Typer(help="补正材料转送的死信 (补正 submissions that did not get through)",
                              no_args_is_help=True)


@supplements_app.command("list")
def supplements_list(as_json: JsonFlag = False) -> None:
    """列出未送达的补正材料：被拒收、重试耗尽或无法读取 (refused, out of retries, or unreadable)."""
    from lianban.pipeline.dead_letters import list_dead_supplements

    rows = list_dead_supplements(Paths.from_env().existing_ledger())
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"补正死信 (supplements not delivered): {len(rows)}")
    for column in ("序号", "办件编号", "事项", "部门", "状态", "次数", "原因"):
        table.add_column(column)
    for r in rows:  # as Text: a department's reason is never read as markup
        table.add_row(*map(Text, (str(r.source_seq), r.case_no, r.item_code or "", r.department or "", r.state,
                                  str(r.attempts), r.last_error or "")))
    console.print(table)


@supplements_app.command("retry")
def supplements_retry(as_json: JsonFlag = False) -> None:
    """把被拒收或重试耗尽的补正重新排队（保留补正编号，部门不会重复受理）(requeue; ids keep them single)."""
    from lianban.pipeline.dead_letters import requeue_supplements

    count = requeue_supplements(Paths.from_env().existing_ledger())
    emit_done(f"已重新排队 {count} 条补正 (requeued)，下一轮转送时发送；无法读取的补正请由人社在前置库更正",
              {"requeued": count}, as_json)
