"""The Chinese an operator reads for the keys of a command's result (``lianban status``, ``run …``, ``audit
verify``, ``keys list``, ``alerts …``): the tables say ``已投递 (delivered)``, the JSON keeps its keys."""

from __future__ import annotations

import functools
import json
from typing import Any

#: a result's keys, as every command's table shows them (the same key reads the same in every command)
LABELS = {
    # lianban status
    "cases": "办件", "ever_quarantined": "曾隔离", "held_cases": "暂停办理的办件", "corrected": "源头已更正",
    "case_items": "事项", "open_items": "未办结事项", "unreported_events": "待推送状态",
    "reported_events": "已推送状态", "pending_deliveries": "待投递", "dead_letters": "死信",
    "status_counts": "事项状态分布", "parked_events": "搁置的状态推送", "parked_status_rows": "搁置的人社状态行",
    "waiting_status_rows": "待办件入账的人社状态行", "illegal_transitions": "被拒的状态变更",
    "overdue_items": "超期事项", "open_by_department": "各部门未办结", "supplements": "补正",
    "released_by_operator": "操作员放行", "rejected": "已退回", "open_incidents": "未解除告警",
    "failing_checks": "未通过的连通检查", "last_stage_run": "最近一次抽取",
    "items_not_in_catalog": "不在事项目录的事项", "done": "全部办结", "finished_at": "完成时间",
    # run stage, run deliver, run collect, run supplements, run report
    "extracted": "抽取", "quarantined": "隔离", "staged": "入账", "skipped_known": "已入账跳过",
    "deliveries": "投递记录", "notified": "已告知补正", "resumed": "更正后续办", "data_docs": "校验报告",
    "department": "部门", "sent": "已发送", "accepted": "已接收", "duplicates": "重复（部门已有）",
    "refused": "被拒收或无从转交", "retrying": "待重试", "dead": "终止", "split": "拆分重发的批次",
    "stopped_by": "提前停止原因",
    "source": "来源", "read": "读取", "changed": "状态变更", "skipped": "跳过", "waiting": "等待办件入账",
    "parked": "搁置", "pending": "待转交", "own": "人社自办", "requeued": "重新排队", "reported": "已推送",
    "error": "错误", "payments": "奖励发放",
    # notices run
    "deferred": "静默时段顺延", "invalid": "号码无效", "delivered": "已送达", "failed": "未送达", "window": "提醒月份",
    "unreadable": "无法读取", "due": "到龄人数", "planned": "已安排", "short": "缴费年限不足提示",
    "already": "此前已安排", "applied": "已申请（不再提醒）", "readdressed": "改发新号码", "repeated": "重复登记",
    "revised": "重新核定",
    # audit verify, keys list, alerts, seed
    "ok": "校验通过", "checked": "已校验条目", "first_bad": "首个异常条目", "problem": "问题",
    "chain_key": "持有链密钥", "kind": "类型", "active": "在用密钥", "keys": "全部密钥", "private_held": "持有私钥",
    "observed": "发现", "opened": "新开告警", "resolved": "已解除", "untold": "未能通知", "reasons": "原因",
    "busy": "另一轮正在通知", "lost": "通知被另一轮接管", "written": "写入", "frontend": "前置库",
}


@functools.cache
def _departments() -> dict[str, str]:
    from lianban.domain.catalog import load_catalog

    return {key: d.name for key, d in load_catalog().departments.items()}


def name(key: str) -> str:
    """`key` in the operator's Chinese: its label, a department's name, else itself."""
    return LABELS.get(key) or _departments().get(key) or key


def label(key: str) -> str:
    """`key` as a table's row shows it: ``已送达 (delivered)``, a department by its name, anything else as it is."""
    said = name(key)
    return key if said == key else f"{said} ({key})"


def shown(value: Any) -> str:
    """A result's value as a table shows it: yes or no in Chinese, nothing as "—", a mapping a line a key, each
    in the operator's Chinese (``医疗保障局：347``), a list joined; the rest as it is."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "\n".join(f"{name(str(k))}：{shown(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return "、".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in value) or "—"
    return str(value)
