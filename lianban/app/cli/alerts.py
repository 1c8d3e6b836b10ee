"""`lianban alerts check|daily|list`: liaison alerts (联络员告警) — each incident told once each way, a daily
summary once a day, and the incidents listed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy import select

from lianban.app.cli.labels import name
from lianban.app.cli.output import JsonFlag, emit, emit_rows
from lianban.app.config import Paths

alerts_app = typer.Typer(help="联络员告警：事件一开一关各通知一次 (liaison alerts)", no_args_is_help=True)


@alerts_app.command("check")
def alerts_check(as_json: JsonFlag = False) -> None:
    """检查台账并通知联络员：新事件告警一次，恢复后解除一次 (observe, open/resolve incidents, notify)."""
    from lianban.app.jobs import alerts_check as run

    done = run()  # the DAG's job: fails, saying so, when an alert went nowhere
    _busy(done, "另一次告警检查正在通知联络员，本次未通知任何人；它结束后再运行即可 "
                "(another check is telling the liaisons)")
    emit(done, as_json, "告警检查 (alerts)")


@alerts_app.command("daily")
def alerts_daily(day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD（默认北京时间今天）")] = None,
                 as_json: JsonFlag = False) -> None:
    """发送联络员每日汇总（每方每天一次） (each liaison's daily summary, once a day)."""
    from lianban.app.jobs import daily_summary

    done = daily_summary(_summary_day(day))
    _busy(done, "另一次每日汇总正在发送，本次未发送；它结束后再运行即可 (another run is sending the summaries)")
    emit(done, as_json, "每日汇总 (daily summary)")


def _busy(done: dict[str, Any], sentence: str) -> None:
    if done.get("busy"):
        typer.echo(sentence, err=True)
    if done.get("lost"):
        typer.echo("本次发送期间租约已被另一次运行接管，已停止发送；余下的由那次运行发出 "
                   "(another run took the sending over; this one stopped)", err=True)


def _summary_day(day: str | None) -> str | None:
    """`day` as given, when it is a date no later than today in Beijing: a day ahead would be marked sent, and
    every party's summary withheld until it comes."""
    from lianban.ledger.time_limits import beijing_today

    if day is None:
        return None
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 YYYY-MM-DD，收到 {day!r}", param_hint="--date") from None
    if when > beijing_today():
        raise typer.BadParameter(f"日期 {when} 晚于今天（北京时间 {beijing_today()}），不能预发每日汇总",
                                 param_hint="--date")
    return day


@alerts_app.command("list")
def alerts_list(open_only: Annotated[bool, typer.Option("--open", help="只列出未解除的事件")] = False,
                as_json: JsonFlag = False) -> None:
    """列出告警事件 (incidents, newest first)."""
    from lianban.domain.incidents import KINDS
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Incident
    from lianban.ledger.time_limits import beijing_text

    query = select(Incident).order_by(Incident.id.desc())
    with session_factory(Paths.from_env().existing_ledger())() as session:
        rows: list[dict[str, Any]] = [
            {"incident": f"INC-{i.id:06d}", "kind": i.kind, "what": KINDS[i.kind].what, "party": i.party,
             "state": i.state, "count": i.count, "peak": i.peak, "opened_at": beijing_text(i.opened_at),
             "resolved_at": beijing_text(i.resolved_at) if i.resolved_at else None, "told": i.notified_at is not None}
            for i in session.scalars(query) if not open_only or i.state == "open"]
    emit_rows(rows, as_json, "告警事件 (incidents)", [
        ("事件", lambda r: r["incident"]), ("部门", lambda r: name(r["party"])), ("情况", lambda r: r["what"]),
        ("状态", lambda r: "未解除" if r["state"] == "open" else "已解除"), ("涉及", lambda r: r["count"]),
        ("开始", lambda r: str(r["opened_at"])[:16]), ("解除", lambda r: str(r["resolved_at"] or "")[:16])])

