"""How the demo talks to a person: one line per round, then a bilingual summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from lianban.ledger.progress import Progress

console = Console()


def print_round(number: int, p: Progress) -> None:
    console.print(f"第 {number} 轮 (round {number}): 办件 {p.cases} 件，未办结事项 {p.open_items} 项 "
                  f"(open items)，待推送状态 {p.unreported_events} 条 (unreported)，已推送 {p.reported_events} 条")


def _checks(s: dict[str, Any]) -> str:
    checks = s.get("operations", {}).get("health_checks", {})
    return f"{sum(1 for ok in checks.values() if ok)}/{len(checks)}"


def print_summary(s: dict[str, Any]) -> None:
    table = Table(title="退休一件事 联办演示结果 (demo summary)")
    table.add_column("项目 (what)")
    table.add_column("结果 (result)", justify="right")
    rows = [
        ("抽取 (extracted)", s["extracted"]),
        ("隔离并告知补正 (held, applicant told)", s["quarantined"]),
        ("源头更正后续办 (corrected at the source)", s["corrected"]),
        ("补正材料转送 (supplements)", sum(s["supplements"].values())),
        *((f"投递 {d} (delivered)", n) for d, n in s["delivered"].items()),
        *((f"{d} 收到 unique/duplicates", f"{r['unique']}/{r['duplicates']}")
          for d, r in s["department_received"].items()),
        ("推送皖事通办 (reported)", s["reported_to_wanshi_tong"]),
        ("超期事项 (overdue items)", s["overdue_items"]),
        ("拒绝采纳的非法状态 (illegal reports kept)", s["illegal_transitions"]),
        ("连接检查通过 (health checks passed)", _checks(s)),
        ("联络员告警短信 (liaison alerts by SMS)", s.get("operations", {}).get("alerts_sent_by_sms", 0)),
        ("对账 lianban report (reconciliation)", "平衡 (adds up)" if s["reconciliation"]["adds_up"]
         else "不平 (does not add up): " + "；".join(s["reconciliation"]["problems"])),
        *((f"推送状态 {k} (events)", v) for k, v in sorted(s["events_by_status"].items())),
        *((f"最终状态 {k}", v) for k, v in sorted(s["status_counts"].items())),
        ("轮次 (rounds)", s["rounds"]),
        ("耗时秒 (seconds)", s["seconds"]),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    verdict = "全部事项已办结并推送 (all items final and reported)" if s["complete"] else "未全部办结 (not complete)"
    console.print(verdict)
    for key, path in s["paths"].items():
        console.print(f"  {key}: {path}")
