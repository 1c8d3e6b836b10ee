"""`lianban case …`: the operator's view of cases — the list (by status, by history) and one case in full — and
the window's reset of a case's 查询密码."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from lianban.app.cli.labels import name
from lianban.app.cli.output import JsonFlag, console
from lianban.app.config import Paths
from lianban.domain.clock import in_beijing

if TYPE_CHECKING:
    from lianban.ledger.cases import CaseView, HistoryLine

case_app = typer.Typer(help="办件：列表与单个办件的进度 (cases: the list, and one case in full)", no_args_is_help=True)

HadStatus = Annotated[str | None, typer.Option("--had-status", help="某事项曾处于该状态 (some item was ever in it)")]
OverdueFlag = Annotated[bool, typer.Option("--overdue", help="有超期事项 (with an overdue item)")]


@case_app.command("list")
def case_list(had_status: HadStatus = None, overdue: OverdueFlag = False, as_json: JsonFlag = False) -> None:
    """列出办件及其状态，按办件编号排序 (cases and their status, by 办件编号)."""
    from lianban.ledger.cases import list_cases, status_named

    status = status_named(had_status) if had_status is not None else None
    # --overdue asks lianban.ledger.cases.is_overdue: not final and past its due date, today in Beijing
    rows = list_cases(Paths.from_env().existing_ledger(), status, overdue_only=overdue)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"办件 (cases): {len(rows)}")
    for column in ("办件编号", "状态"):
        table.add_column(column)
    for r in rows:
        table.add_row(Text(r.case_no), Text(r.status))
    console.print(table)


@case_app.command("show")
def case_show(case_no: Annotated[str, typer.Argument(help="办件编号 (case number)")],
              as_json: JsonFlag = False) -> None:
    """单个办件：各事项的当前状态与状态历史 (one case: each item's status and its history)."""
    from lianban.ledger.cases import show_case

    view = show_case(Paths.from_env().existing_ledger(), case_no)
    if as_json:
        typer.echo(json.dumps(view.as_dict(), ensure_ascii=False))
        return
    console.print(_case_table(view))


@case_app.command("reset-password")
def case_reset_password(case_no: Annotated[str, typer.Argument(help="办件编号 (case number)")],
                        as_json: JsonFlag = False) -> None:
    """重新生成查询密码，旧密码随即失效 (a new 查询密码 for the applicant; the old one stops working)."""
    from lianban.ledger.progress_query import reset_password

    paths = Paths.from_env()
    case_no, password = reset_password(paths.existing_ledger(), paths.keys_dir, case_no)
    if as_json:
        typer.echo(json.dumps({"case_no": case_no, "password": password}, ensure_ascii=False))
        return
    console.print(f"办件 {case_no} 的新查询密码：[bold]{password}[/bold]（旧密码已失效，请抄写在受理回执上交给申请人）"
                  f" (new 查询密码 for case {case_no}; the old one no longer works)", soft_wrap=True)


def _case_table(view: CaseView) -> Table:
    """One row per item (its current status and due date: 估算 when counted without a published holiday
    schedule, 超期 when past it), then one row per status event of it."""
    table = Table(title=f"办件 {view.case_no}：{view.status} (case)", caption="↳ 历史行的部门为上报部门 "
                  "(on a history line: the department that reported it)")
    for column in ("事项", "部门", "状态", "时限", "时间", "原因"):
        table.add_column(column, overflow="fold")
    for item in view.items:
        due = ((item.due_date or "—") + ("（估算）" if item.due_date_estimated else "")
               + ("（超期）" if item.overdue else ""))
        table.add_row(Text(item.item_code), Text(name(item.department)), Text(item.status or "未反馈"), Text(due),
                      "", "", style="bold")
        for h in item.history:  # text from departments goes in as Text: never read as markup
            table.add_row("", Text(name(h.source)), Text(f"↳ {h.status}"), "", Text(in_beijing(h.at)), Text(_reason(h)))
    return table


def _reason(line: HistoryLine) -> str:
    """The reason, and the materials asked for (补正资料) when there are any."""
    materials = f"（所需材料：{'、'.join(line.materials)}）" if line.materials else ""
    return (line.reason or "") + materials
