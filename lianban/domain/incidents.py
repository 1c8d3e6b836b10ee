"""What can go wrong that a liaison must hear about (告警), as data: each kind's Chinese name, what to do, and
its section of the runbook (``docs/runbook.md``). Pure: the ledger observes (lianban.ledger.incidents), the
pipeline notifies (lianban.pipeline.alerts).

An *incident* is one kind of trouble at one party, from when it is first seen until it is no longer seen: its
liaison hears once when it opens and once when it clears, however many checks see it in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lianban.domain.clock import BEIJING

__all__ = ["KINDS", "Kind", "opened_text", "resolved_text", "sms_values", "subject"]

RUNBOOK = "docs/runbook.md"


@dataclass(frozen=True)
class Kind:
    key: str
    what: str  # 发生了什么 (no personal data, ever)
    todo: str  # 怎么办
    section: str  # the runbook's section


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("delivery_failing", "投递连续失败（部门接口不可达、超时或拒绝）",
         "用 `lianban connectors check 部门` 逐步诊断连接；部门恢复后自动重投，无需人工补发", "1"),
    Kind("dead_letters", "有投递成为死信（被部门拒收或重试耗尽）",
         "用 `lianban deliveries list --department 部门` 查看原因，修正后 `lianban deliveries retry`", "2"),
    Kind("overdue", "有事项超过承诺办结时限",
         "用 `lianban case list --overdue` 查看逾期事项，督促责任部门办理", "3"),
    Kind("quarantine_spike", "隔离记录激增（前置库数据未通过校验）",
         "用 `lianban quarantine list` 查看原因，请人社在前置库更正，或由操作员放行、退回", "4"),
    Kind("illegal_status", "收到不符合状态机的状态报告（未采纳）",
         "用 `lianban status` 查看非法状态数，与部门核对其状态上报逻辑", "5"),
    Kind("supplements_stuck", "补正材料未能送达部门（被拒收、重试耗尽或无法读取）",
         "用 `lianban supplements list` 查看原因，修正后 `lianban supplements retry`", "6"),
    Kind("health_failing", "定时连接检查未通过",
         "用 `lianban connectors check 部门` 复查，按失败步骤的说明处置", "7"),
    Kind("task_failed", "Airflow 任务运行失败",
         "在 Airflow 界面查看失败任务的日志；任务会按重试设置自动重试", "8"),
    Kind("status_rows_parked", "人社状态日志有记录无法读取，已搁置",
         "用 `lianban parked` 查看原因，在 connectors/hrss/statuses.py 补充映射并部署后自动补记", "9"),
    Kind("events_parked", "皖事通办拒收状态事件，已搁置",
         "用 `lianban parked` 查看平台给出的原因，修正后运行 `lianban run report --retry-parked`", "10"),
    Kind("status_rows_waiting", "人社状态日志有记录所属办件超过1天仍未入账",
         "用 `lianban parked` 查看其办件编号，用 `lianban quarantine list` 查看该申请是否被隔离；请人社更正申请"
         "或状态日志中的办件编号", "11"),
)}


def _local(moment: datetime) -> datetime:
    """A ledger time (naive UTC, or aware) in Beijing time."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING)


def _when(moment: datetime) -> str:
    return _local(moment).strftime("%Y-%m-%d %H:%M")


def subject(kind: Kind, party_name: str, incident: str, resolved: bool) -> str:
    return f"【联办{'告警解除' if resolved else '告警'}】{party_name}：{kind.what}（{incident}）"


def opened_text(kind: Kind, party_name: str, incident: str, count: int, since: datetime) -> str:
    return (f"联办告警（事件 {incident}）\n部门：{party_name}\n情况：{kind.what}\n涉及：{count} 件\n"
            f"开始时间：{_when(since)}（北京时间）\n处置：{kind.todo}（运维手册 {RUNBOOK} 第{kind.section}节）\n"
            f"恢复后将另行通知。")


def resolved_text(kind: Kind, party_name: str, incident: str, count: int, since: datetime,
                  resolved: datetime) -> str:
    return (f"联办告警解除（事件 {incident}）\n部门：{party_name}\n情况：{kind.what}\n"
            f"已于 {_when(resolved)} 恢复（自 {_when(since)} 起，最多涉及 {count} 件）。")


def _short(moment: datetime) -> str:
    local = _local(moment)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def sms_values(kind: Kind, party_name: str, incident: str, count: int, since: datetime,
               resolved: datetime | None) -> dict[str, str]:
    """The placeholders of the SMS templates ``incident_opened`` / ``incident_resolved`` (schemas/sms)."""
    values = {"incident": incident, "department": party_name[:12], "what": kind.what.split("（")[0][:40],
              "since": _short(since), "count": str(count)}
    return {**values, "resolved_at": _short(resolved)} if resolved else {**values, "runbook": f"第{kind.section}节"}
