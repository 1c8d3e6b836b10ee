"""The dashboard page, in Simplified Chinese: server-rendered HTML with inline SVG charts, no script at all.

Every figure of ``lianban status --json`` is on the page once in the 台账计数 table, marked
``data-key="<key>"`` (a nested count: ``<key>.<name>``, e.g. ``delivered.medical``), so a test or an operator can
hold the page against the CLI; the cards at the top repeat the most watched ones with the same mark. Every
value is HTML-escaped; nothing personal reaches the page (:mod:`lianban.app.dashboard.queries`). The one other
resource is the stylesheet ``dashboard.css`` beside the page (relative, so the page works under any prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

from lianban.app.dashboard import svg
from lianban.app.dashboard.board import Board
from lianban.app.dashboard.queries import party_name

__all__ = ["CARDS", "COUNT_LABELS", "DELIVERY_STATES", "figures", "render"]

#: ``lianban status`` keys as an operator reads them
COUNT_LABELS = {
    "cases": "已入账办件", "quarantined": "隔离中记录", "ever_quarantined": "累计隔离记录", "held_cases": "待补正办件",
    "corrected": "源头更正后入账", "case_items": "事项总数", "open_items": "未办结事项",
    "unreported_events": "待推送状态", "reported_events": "已推送皖事通办", "delivered": "已投递",
    "pending_deliveries": "待投递", "dead_letters": "死信",
    "status_counts": "事项状态", "parked_events": "皖事通办拒收的状态", "parked_status_rows": "无法读取的人社状态",
    "waiting_status_rows": "等待入账的人社状态", "illegal_transitions": "非法状态报告", "overdue_items": "超期事项",
    "open_by_department": "未办结（按部门）", "supplements": "补正材料", "released_by_operator": "操作员放行",
    "rejected": "操作员退回", "open_incidents": "未解除告警", "last_stage_run": "最近一次抽取",
    "items_not_in_catalog": "事项目录中已无的未办结事项（不计时限）",
}
#: the cards at the top: the figures an operator watches first
CARDS = ("cases", "open_items", "pending_deliveries", "dead_letters", "quarantined", "overdue_items",
         "illegal_transitions", "open_incidents")
ALARMING = {"dead_letters", "quarantined", "overdue_items", "illegal_transitions", "open_incidents"}
DELIVERY_STATES = {"pending": "待发送", "retry": "重试中", "accepted": "已接收", "refused": "被拒收",
                   "dead": "重试耗尽"}
DELIVERY_TONES = {"待发送": "neutral", "重试中": "warn", "已接收": "good", "被拒收": "bad", "重试耗尽": "bad"}
SUPPLEMENT_STATES = {"waiting": "等待入账", "pending": "待转交", "retry": "重试中", "accepted": "部门已接收",
                     "refused": "被拒收", "dead": "重试耗尽", "own": "人社自办", "parked": "无法读取"}
RUN_STATES = {"success": "成功", "failed": "失败", "running": "运行中", "queued": "排队中"}
STAGE_RUN = {"extracted": "抽取", "staged": "入账", "skipped_known": "重复行", "quarantined": "隔离"}
#: how the name in a nested count's key reads (default: a department's Chinese name)
NAMED_BY: dict[str, Callable[[str], str]] = {
    "status_counts": str, "supplements": lambda n: SUPPLEMENT_STATES.get(n, n),
    "last_stage_run": lambda n: STAGE_RUN.get(n, n), "items_not_in_catalog": lambda code: f"事项 {code}"}


def figures(status: Mapping[str, Any]) -> dict[str, int]:
    """Every count of ``lianban status --json`` by its page key (nested counts as ``key.name``)."""
    flat: dict[str, int] = {}
    for key, value in status.items():
        if isinstance(value, bool) or key == "last_stage_run":
            continue
        if isinstance(value, int):
            flat[key] = value
        elif isinstance(value, dict):
            flat.update({f"{key}.{name}": int(n) for name, n in value.items()})
    run = status.get("last_stage_run") or {}
    flat.update({f"last_stage_run.{k}": int(run[k]) for k in STAGE_RUN if k in run})
    return flat


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _figure(key: str, value: int) -> str:
    return f'<span class="figure" data-key="{_e(key)}">{value}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "无") -> str:
    """`rows`' cells are markup already (escape values before)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(anchor: str, title: str, body: str, note: str = "") -> str:
    small = f'<p class="note">{_e(note)}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{small}{body}</section>'


def _cards(board: Board) -> str:
    status = board.status
    cards = "".join(f'<div class="card{" alarm" if key in ALARMING and status[key] else ""}">'
                    f"<small>{_e(COUNT_LABELS[key])}</small>{_figure(key, int(status[key]))}</div>" for key in CARDS)
    sent = [d["sent"] for d in board.days]
    trend = (f'<div class="card"><small>近 14 天投递</small><span class="figure">{sum(sent)}</span>'
             f"{svg.sparkline('近 14 天每日投递', sent)}</div>")
    return f'<div class="cards">{cards}{trend}</div>'


def _count_label(key: str) -> str:
    """A count's label: ``delivered.medical`` → 已投递：医疗保障局."""
    head, _, name = key.partition(".")
    if not name:
        return COUNT_LABELS.get(head, head)
    return f"{COUNT_LABELS.get(head, head)}：{NAMED_BY.get(head, party_name)(name)}"


def _counts(status: Mapping[str, Any]) -> str:
    pairs = [(_e(_count_label(k)), _figure(k, v)) for k, v in figures(status).items()]
    failing = "、".join(party_name(p) for p in status.get("failing_checks", [])) or "无"
    pairs += [("连接检查未通过", _e(failing)), ("全部办结并推送", "是" if status.get("done") else "否")]
    return '<dl class="counts">' + "".join(f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in pairs) \
        + "</dl>"


def _backlog(board: Board) -> str:
    rows = [(_e(r["name"]), _e(r["open"]), _e(r["oldest_since"]), _e(r["oldest_days"])) for r in board.backlog]
    chart = svg.bar_chart("各部门未办结事项", [(r["name"], r["open"]) for r in board.backlog])
    return chart + _table(("责任单位", "未办结事项", "最早受理时间", "已等待（天）"), rows, "没有未办结事项")


def _deliveries(board: Board) -> str:
    bars = [(DELIVERY_STATES.get(s, s), board.deliveries_by_state.get(s, 0)) for s in DELIVERY_STATES]
    return svg.bar_chart("投递状态", [b for b in bars if b[1]], tones=DELIVERY_TONES)


def _trends(board: Board) -> str:
    days = [d["day"][5:] for d in board.days]
    charts = (svg.line_chart("投递成功率（%）", days, [d["success_rate"] for d in board.days], "%", ceiling=100),
              svg.line_chart("投递时延中位数（分钟）", days, [d["latency_minutes"] for d in board.days], " 分钟"),
              svg.line_chart("每日状态事件", days, [d["events"] for d in board.days], " 条"))
    titles = ("投递成功率（按投递日）", "投递时延中位数（封装至部门接收）", "每日状态事件")
    return '<div class="grid">' + "".join(f"<figure><figcaption>{t}</figcaption>{c}</figure>"
                                          for t, c in zip(titles, charts, strict=True)) + "</div>"


def _overdue(board: Board) -> str:
    rows = [(_e(r["case_no"]), _e(f"{r['item_code']} {r['item_name']}"), _e(r["name"]), _e(r["status"]),
             _e(r["due"]), f'<span class="bad">{r["days_late"]}</span>') for r in board.overdue]
    return _table(("办件编号", "事项", "责任单位", "状态", "应办结日期", "超期天数"), rows, "没有超期事项")


def _quarantined(board: Board) -> str:
    rows = [(_e(r["id"]), _e(r["case_no"]), _e(r["held_at"]), _e("；".join(r["reasons"]))) for r in board.quarantined]
    return _table(("编号", "办件编号", "隔离时间", "原因"), rows, "没有隔离中的记录")


def _dead(board: Board) -> str:
    rows = [(_e(r["name"]), _e(r["case_no"]), _e(r["item_code"]), _e(DELIVERY_STATES.get(r["state"], r["state"])),
             _e(r["attempts"]), _e(r["reason"])) for r in board.dead_letters]
    return _table(("责任单位", "办件编号", "事项", "状态", "次数", "原因"), rows, "没有死信")


def _illegal(board: Board) -> str:
    rows = [(_e(r["name"]), _e(r["case_no"]), _e(r["item_code"]), _e(f"{r['from']} → {r['to']}"), _e(r["reason"]),
             _e(r["recorded_at"])) for r in board.illegal_reports]
    return _table(("报告方", "办件编号", "事项", "状态变化", "说明", "记录时间"), rows, "没有非法状态报告")


def _runs(board: Board) -> str:
    if board.dag_runs is None:
        return '<p class="empty bad">无法读取 DAG 运行记录，请在 Airflow 界面查看</p>'
    rows = [(_e(r["dag_id"]), _e(r["run_id"]), f'<span class="run {_e(r["state"])}">'
             f'{_e(RUN_STATES.get(r["state"], r["state"]))}</span>', _e(r["started_at"]), _e(r["ended_at"]))
            for r in board.dag_runs]
    return _table(("DAG", "运行", "状态", "开始", "结束"), rows, "暂无运行记录")


def _health(board: Board) -> str:
    rows = [(_e(r["name"]), '<span class="good">正常</span>' if r["ok"] else '<span class="bad">未通过</span>',
             _e(r["checked_at"]), _e(r["step"] or ""), _e(r["reason"])) for r in board.health]
    return _table(("对象", "结果", "检查时间", "失败步骤", "原因"), rows, "尚无连接检查记录")


def _incidents(board: Board) -> str:
    rows = [(_e(r["incident"]), _e(r["name"]), _e(r["what"]), _e(r["count"]), _e(r["opened_at"]),
             "已通知" if r["told"] else "待通知", _e(r["todo"])) for r in board.incidents]
    return _table(("事件", "部门", "情况", "涉及", "开始时间", "联络员", "处置"), rows, "没有未解除的告警")


def render(board: Board) -> str:
    """The whole page."""
    sections = [
        _section("counts", "台账计数（与 lianban status 一致）", _counts(board.status)),
        _section("backlog", "各部门积压", _backlog(board)),
        _section("deliveries", "投递状态", _deliveries(board)),
        _section("trends", "近 14 天", _trends(board)),
        _section("overdue", "超期事项（按承诺时限）", _overdue(board), "处置：lianban case list --overdue"),
        _section("quarantine", "隔离记录（未通过校验）", _quarantined(board),
                 "处置：人社在前置库更正；或 lianban quarantine release|reject 编号 --note 理由"),
        _section("dead", "死信（被部门拒收或重试耗尽）", _dead(board), "处置：lianban deliveries retry"),
        _section("illegal", "非法状态报告（未采纳）", _illegal(board)),
        _section("runs", "DAG 最近运行", _runs(board)),
        _section("health", "部门连接检查（最近一次）", _health(board)),
        _section("incidents", "未解除的告警", _incidents(board)),
    ]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>联办运行看板</title><link rel="stylesheet" href="dashboard.css"></head>
<body><main><header><h1>退休一件事 · 联办运行看板</h1>
<p class="note">更新于 {_e(board.generated_at)}（北京时间）· 只读；处置请用 lianban 命令 ·
<a href="numbers.json">JSON</a></p></header>{_cards(board)}{"".join(sections)}</main></body></html>"""
