"""`lianban notices list [--failed]`: the SMS notices to people (双告知), never with a phone or a name;
`lianban notices run [--json]`: plan the 到龄提醒 and 待遇告知 due, send them, collect receipts (counts only)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lianban.app.cli.output import JsonFlag, emit, emit_rows
from lianban.app.config import Paths

notices_app = typer.Typer(help="双告知短信：到龄提醒、待遇告知 (SMS notices to people)", no_args_is_help=True)
STATE_ZH = {"planned": "待发送", "sent": "已发送", "delivered": "已送达", "failed": "送达失败待重发",
            "dead": "发送失败", "invalid": "号码无效"}


@notices_app.command("list")
def notices_list(failed: Annotated[bool, typer.Option("--failed", help="只列出需要人工处理的（号码无效、发送失败）")]
                 = False, as_json: JsonFlag = False) -> None:
    """列出短信告知 (list notices; --failed: those a person must look at)."""
    from lianban.domain.sms import load_templates
    from lianban.pipeline.sms_notices import NoticeState, listed

    states = (NoticeState.DEAD, NoticeState.INVALID) if failed else ()
    rows = [n.as_dict() for n in listed(Paths.from_env().existing_ledger(), states)]
    names = {key: t.name for key, t in load_templates().templates.items()}  # 到龄提醒, 待遇告知, not the key
    emit_rows(rows, as_json, "短信告知 (notices)", [
        ("编号", lambda r: r["id"]), ("类别", lambda r: names.get(r["kind"], r["kind"])),
        ("期间", lambda r: r["period"]),
        ("对象（索引）", lambda r: r["person"]), ("状态", lambda r: STATE_ZH.get(r["state"], r["state"])),
        ("发送次数", _sends), ("原因", lambda r: r["reason"])])


def _sends(row: dict[str, object]) -> str:
    """Every send, and, when fewer, those that count toward the MAX_SENDS of the number and text it holds now (a
    notice rewritten for another number or other values starts afresh, its first few rewrites): "5（本轮 2/3）"."""
    from lianban.domain.sms import MAX_SENDS

    sends, here = row["sends"], row["sends_here"]
    return f"{sends}" if sends == here else f"{sends}（本轮 {here}/{MAX_SENDS}）"


@notices_app.command("run")
def notices_run(as_json: JsonFlag = False,
                day: Annotated[str | None, typer.Option(
                    "--date", help="按该日计算提醒窗口 YYYY-MM-DD（默认北京时间今天）")] = None) -> None:
    """运行双告知：到龄提醒、待遇告知、发送、回执，一步失败不影响其余各步；有失败时退出码为 1 (the lianban_notices
    DAG's four steps, for operators: each runs whatever became of the one before)."""
    from lianban.app import jobs
    from lianban.app.cli.forecast import checked_day

    result = jobs.notices_run(checked_day(day))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        for step, title in RUN_TITLES.items():
            emit(result[step], False, title)
    failed = [step for step in RUN_TITLES if "error" in result[step]]
    for step, title in RUN_TITLES.items():
        typer.echo(f"{title}：失败：{result[step]['error']}" if step in failed else f"{title}：完成", err=True)
    if failed:
        typer.echo(f"双告知 {len(RUN_TITLES)} 步中 {len(failed)} 步失败，其余各步已照常运行；排除原因后再运行本命令"
                   f"（已发送的不会重发） ({len(failed)} of {len(RUN_TITLES)} steps failed)", err=True)
        raise typer.Exit(1)


RUN_TITLES = {"reminders": "到龄提醒 (reminders planned)", "pensions": "待遇告知 (pension notices planned)",
              "sent": "发送 (sent)", "receipts": "回执 (delivery receipts)"}
