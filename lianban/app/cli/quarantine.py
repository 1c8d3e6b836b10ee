"""`lianban quarantine …`: records that failed validation, and an operator's decision on each.

    lianban quarantine [--json]                     the same as ``quarantine list``
    lianban quarantine list [--state S] [--json]    every held row (masked) with its reasons and decision
    lianban quarantine show ID [--json]             one row
    lianban quarantine release ID --note TEXT       let it go as it is (next stage run delivers it)
    lianban quarantine reject ID --note TEXT        refuse the application (the applicant is told 不予受理)

A decision needs a note; it is recorded with the operator (``--operator``, default the login name) in the ledger
and the evidence log. Fixing the row in the 前置库 (同步标志 TBBZ back to 0) needs no decision: the next run takes it.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from lianban.app.cli.output import JsonFlag, console, emit_rows
from lianban.app.config import Paths

quarantine_app = typer.Typer(help="隔离区：未通过校验的记录，操作员放行或退回 (quarantined records and decisions)",
                             invoke_without_command=True)
Note = Annotated[str, typer.Option("--note", help="处理理由（必填，记入台账与证据日志） (why: required)")]
Operator = Annotated[str | None, typer.Option(help="操作员（默认为登录名） (who decides; default: login name)")]
QuarantineId = Annotated[int, typer.Argument(help="隔离记录编号（见 quarantine list 的“编号”列）")]
STATES = ("open", "released", "overridden", "rejected")
STATE_ZH = {"open": "待处理", "released": "源头已更正", "overridden": "已放行", "rejected": "已退回"}


@quarantine_app.callback()
def quarantine(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """隔离区：未通过校验的记录及原因（脱敏显示） (quarantined records, masked); no command: list them."""
    if ctx.invoked_subcommand is None:
        _list((), as_json)


@quarantine_app.command("list")
def quarantine_list(state: Annotated[list[str] | None, typer.Option(help=f"只列出某状态：{', '.join(STATES)}")] = None,
                    as_json: JsonFlag = False) -> None:
    """列出隔离记录 (list quarantined records)."""
    wrong = [s for s in state or () if s not in STATES]
    if wrong:
        raise typer.BadParameter(f"未知状态 {wrong[0]!r}，可选：{', '.join(STATES)}", param_hint="--state")
    _list(tuple(state or ()), as_json)


def _list(states: tuple[str, ...], as_json: bool) -> None:
    from lianban.pipeline.quarantine import list_held

    rows = [h.as_dict() for h in list_held(Paths.from_env().existing_ledger(), states)]
    waiting = sum(r["state"] == "open" for r in rows)
    emit_rows(rows, as_json, "隔离记录 (quarantined)", [
        ("编号", lambda r: r["id"]), ("序号", lambda r: r["source_seq"]), ("办件编号", lambda r: r["case_no"]),
        ("状态", lambda r: STATE_ZH.get(r["state"], r["state"])), ("姓名", lambda r: r["record"]["name"]),
        ("身份证号码", lambda r: r["record"]["id_number"]), ("联系电话", lambda r: r["record"]["phone"]),
        ("原因", lambda r: "；".join(map(_reason, r["reasons"])))])
    if as_json or (states and "open" not in states):  # rows of other states only: what waits is not known here
        return
    if not waiting:  # every row corrected at the source, let go or refused: nothing to do
        console.print("没有待处理的隔离记录" + ("（其余均已源头更正、放行或退回）" if rows else "")
                      + " (nothing waits for a decision)")
        return
    console.print(f"待处理的 {waiting} 条：修正人社前置库中的记录并将其同步标志 TBBZ 置回 0，下一轮即重新抽取；"
                  "或由操作员 `lianban quarantine release|reject 编号 --note 理由` 放行或退回 "
                  "(fix at the source, or decide)")


@quarantine_app.command("show")
def quarantine_show(quarantine_id: QuarantineId, as_json: JsonFlag = False) -> None:
    """查看一条隔离记录 (one quarantined record)."""
    from lianban.pipeline.quarantine import show_held

    held = show_held(Paths.from_env().existing_ledger(), quarantine_id).as_dict()
    if as_json:
        typer.echo(json.dumps(held, ensure_ascii=False))
        return
    table = Table(title=f"隔离记录 {quarantine_id}", show_header=False)
    for key, value in _shown(held).items():
        table.add_row(key, Text(value))  # the source's text: never read as markup
    console.print(table)


def _reason(reason: dict[str, str]) -> str:
    """One reason as an operator reads it: the message, its code after it."""
    return f"{reason['message']}（{reason['code']}）"


def _shown(held: dict[str, Any]) -> dict[str, str]:
    rec = held["record"]
    return {"办件编号": held["case_no"], "前置库序号": str(held["source_seq"]),
            "状态": STATE_ZH.get(held["state"], held["state"]), "隔离时间": held["held_at"] or "",
            "原因": "\n".join(map(_reason, held["reasons"])), "姓名": rec["name"], "身份证号码": rec["id_number"],
            "联系电话": rec["phone"], "参保单位": rec["employer_name"], "所选事项": ",".join(rec["items"]),
            "处理人": held["decided_by"] or "", "处理理由": held["decision_note"] or "",
            "处理时间": held["decided_at"] or ""}


@quarantine_app.command("release")
def quarantine_release(quarantine_id: QuarantineId, note: Note, operator: Operator = None,
                       as_json: JsonFlag = False) -> None:
    """放行：记录按原样进入下一轮推送（需写明理由） (release as it is, with a note)."""
    from lianban.app.jobs import release_quarantined

    done = release_quarantined(quarantine_id, note, operator or getpass.getuser())
    _said(done, as_json, f"已放行隔离记录 {quarantine_id}（办件 {done['case_no']}），下一轮 stage 时推送 (released)")


@quarantine_app.command("reject")
def quarantine_reject(quarantine_id: QuarantineId, note: Note, operator: Operator = None,
                      as_json: JsonFlag = False) -> None:
    """退回：申请不予受理，告知申请人原因（需写明理由） (refuse the application, with a note)."""
    from lianban.app.jobs import reject_quarantined

    done = reject_quarantined(quarantine_id, note, operator or getpass.getuser())
    head = f"已退回隔离记录 {quarantine_id}（办件 {done['case_no']}）"
    if done["case_staged"]:  # a row differing from its case as staged: the case goes on as it was staged
        _said(done, as_json, f"{head}：仅关闭本行；该办件已入账，按入账内容继续办理，不受影响，未告知申请人 "
                             f"(rejected: this row only; its staged case goes on as it was)")
        return
    if done["items_told"]:
        _said(done, as_json, f"{head}，{done['items_told']} 个事项告知申请人不予受理，下一轮报送皖事通办 (rejected)")
        return
    _said(done, as_json, f"{head}：台账中没有它待告知的事项（该行无法读取、所选事项不在目录中，或事项均已办结），"
                         f"未向申请人发出不予受理，也不报送皖事通办；请人社窗口直接告知申请人 "
                         f"(rejected; no item to tell: the HRSS window tells the applicant)")


def _said(done: dict[str, Any], as_json: bool, sentence: str) -> None:
    typer.echo(json.dumps(done, ensure_ascii=False) if as_json else sentence)
