"""联络员每日汇总: each liaison's morning summary of its party (lianban.ledger.daily), once a day.

Sent through the same channels as the alerts (e-mail, SMS template ``daily_summary``), to every party's liaison
and the hub's duty desk; a party whose summary of the day went out (on at least one channel) is not sent it
again, whoever reruns the job. One run at a time sends (a lease, :mod:`lianban.ledger.leases`, renewed before
each summary): two at once sent each summary twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from lianban.domain.catalog import load_catalog
from lianban.domain.liaisons import HUB, Liaison
from lianban.ledger.daily import Summary, due, sent, summaries
from lianban.ledger.leases import Lease
from lianban.pipeline.alerts import Alert, CheckResult, Notifier, alone, deliver_alert, still_held

__all__ = ["send_daily"]


def _name(party: str) -> str:
    department = load_catalog().departments.get(party)
    return department.name if department else "联办枢纽"


def _alert(s: Summary, day: date, to: Liaison) -> Alert:
    name = _name(s.party)
    text = (f"联办日报（{day:%Y-%m-%d}，{name}）\n待办：{s.backlog} 件（最久已等 {s.oldest_wait_days} 天）\n"
            f"逾期：{s.overdue} 件\n死信：{s.dead_letters} 件\n隔离：{s.quarantined} 件\n"
            f"未解除告警：{s.open_incidents} 个\n"
            f"详见 `lianban status`、`lianban alerts list --open` 与运维手册 docs/runbook.md。")
    values = {"date": f"{day.month}月{day.day}日", "department": name[:12], "backlog": str(s.backlog),
              "oldest_wait": f"{s.oldest_wait_days}天", "overdue": str(s.overdue),
              "dead_letters": str(s.dead_letters), "quarantined": str(s.quarantined),
              "open_incidents": str(s.open_incidents)}
    return Alert(f"DAILY-{day:%Y%m%d}", "daily_summary", s.party, False, f"【联办日报】{day:%Y-%m-%d} {name}", text,
                 to, None, values, "daily_summary")


def send_daily(ledger_url: str, liaisons: dict[str, Liaison], channels: Sequence[Notifier],
               day: date) -> CheckResult:
    """Every party's summary of `day` not sent yet; counts only (``busy``: another run was sending them)."""
    return alone(ledger_url, "daily_summary", partial(_send, liaisons=liaisons, channels=channels, day=day))


def _send(sessions: sessionmaker[Session], result: CheckResult, lease: Lease, *, liaisons: dict[str, Liaison],
          channels: Sequence[Notifier], day: date) -> None:
    parties = [HUB, *load_catalog().departments]
    with sessions() as session:
        todo = [s for s in summaries(session, parties, day) if due(session, s.party, day)]
    result.observed = len(todo)
    for summary in todo:
        if not still_held(lease, result):
            return
        if not deliver_alert(_alert(summary, day, liaisons[summary.party]), channels, result):
            result.untold += 1
            continue
        with sessions.begin() as session:
            sent(session, summary.party, day)
