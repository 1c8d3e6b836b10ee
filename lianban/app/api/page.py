"""The applicant's page ``/query``: a plain Chinese form (办件编号 + 查询密码) and the result, one table row per
item with its status in colour and its dates.

Server-rendered HTML, no script, no external font or file (the service hall's network is closed): the only
other resource is the stylesheet ``/query.css`` from the hub itself, so the Content-Security-Policy
(:mod:`lianban.app.api.guards`) can forbid everything else. Every value is HTML-escaped; the password is never
written back into the page.
"""

from __future__ import annotations

from datetime import date
from html import escape

from lianban.domain.clock import BEIJING, moment_of
from lianban.domain.statuses import Status
from lianban.domain.working_days import is_official
from lianban.ledger.applicant_view import CaseProgress, ItemProgress

#: CSS class of each status (colour in CSS below); no status yet: ``waiting``
STATUS_CLASS = {Status.ACCEPTED: "going", Status.UNDER_REVIEW: "going", Status.SUPPLEMENT: "attention",
                Status.APPROVED: "done", Status.COMPLETED: "done", Status.NOT_ACCEPTED: "refused",
                Status.REJECTED: "refused"}
WAITING = "等待部门反馈"

CSS = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
 background:#f5f6f8;color:#1d2129;line-height:1.6}
main{max-width:56rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
form{background:#fff;padding:1rem;border-radius:.5rem;display:grid;gap:.75rem}
label{display:grid;gap:.25rem;font-weight:600}
input{font-size:1.1rem;padding:.6rem;border:1px solid #c9cdd4;border-radius:.35rem}
button{font-size:1.1rem;padding:.7rem;border:0;border-radius:.35rem;background:#1658c9;color:#fff}
.message{padding:.75rem 1rem;border-radius:.5rem;margin:1rem 0;background:#fff3e8;color:#8a3b00}
.summary{margin:1rem 0}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:.5rem;overflow:hidden}
th,td{padding:.6rem;border-bottom:1px solid #e5e6eb;text-align:left;vertical-align:top}
th{background:#eef1f6}
.status{font-weight:700;white-space:nowrap}
.going{color:#1658c9}.attention{color:#b35c00}.done{color:#00864e}.refused{color:#c62828}.waiting{color:#6b7280}
small{color:#4e5969}
@media (max-width:40rem){
 thead{display:none}
 table,tbody,tr,td{display:block;width:auto}
 tr{border-bottom:6px solid #f5f6f8}
 td{border:0;padding:.3rem .75rem}
 td::before{content:attr(data-label)"：";font-weight:600;color:#4e5969}
}
"""

_COLUMNS = ("事项", "责任单位", "状态", "最近更新", "办理时限", "说明")


def beijing_time(moment: str | None) -> str:
    """A reported time as a person reads it: Beijing time to the minute ("2026-11-28 15:00"); as given when it
    is not ISO 8601, "—" when there is none (a time without offset is Beijing time: a department's own)."""
    if not moment:
        return "—"
    try:
        local = moment_of(moment).astimezone(BEIJING)
    except (ValueError, OverflowError):  # not ISO 8601, or past what a date can hold in Beijing (9999-12-31 22:00Z)
        return moment
    return local.strftime("%Y-%m-%d %H:%M")


def shown_day(day: str) -> str:
    """A due date as the applicant reads it, marked 估算 when it falls in a year whose holidays and 调休 are not
    published yet (counted Monday to Friday: :mod:`lianban.domain.working_days`)."""
    try:
        estimated = not is_official(date.fromisoformat(day))
    except ValueError:
        estimated = False
    return escape(day) + ("（估算）" if estimated else "")


def _cell(label: str, content: str) -> str:
    return f'<td data-label="{label}">{content}</td>'


def _notes(item: ItemProgress) -> str:
    parts = [escape(item.reason)] if item.reason else []
    if item.materials:
        due = f"，请于 {shown_day(item.supplement_due)} 前补交" if item.supplement_due else ""
        parts.append(f"需补正材料：{escape('、'.join(item.materials))}{due}")
    if item.result:
        parts.append(f"办理结果：{escape(item.result)}")
    return "<br>".join(parts) or "—"


def _row(item: ItemProgress) -> str:
    status = item.status or WAITING
    css = STATUS_CLASS.get(Status(status), "waiting") if item.status in set(Status) else "waiting"
    cells = (escape(item.item_name), escape(item.department), f'<span class="status {css}">{escape(status)}</span>',
             escape(beijing_time(item.changed_at)), shown_day(item.due_date) if item.due_date else "—", _notes(item))
    return "<tr>" + "".join(_cell(label, c) for label, c in zip(_COLUMNS, cells, strict=True)) + "</tr>"


def result_html(progress: CaseProgress) -> str:
    """The case's table (one row per chosen item)."""
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    rows = "".join(_row(i) for i in progress.items)
    return (f'<p class="summary">办件编号 <strong>{escape(progress.case_no)}</strong>，办件状态：'
            f'<strong>{escape(progress.status)}</strong></p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def page(case_no: str = "", message: str | None = None, progress: CaseProgress | None = None) -> str:
    """The whole page: the form (with `case_no` filled in, never the password), a message, the result."""
    note = f'<p class="message" role="alert">{escape(message)}</p>' if message else ""
    body = result_html(progress) if progress else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>退休一件事 办件进度查询</title><link rel="stylesheet" href="/query.css"></head>
<body><main><h1>退休一件事 · 办件进度查询</h1>
<form method="post" action="/query" autocomplete="off">
<label>办件编号<input name="case_no" value="{escape(case_no)}" maxlength="64" required></label>
<label>查询密码<input name="password" type="password" inputmode="numeric" maxlength="64" required></label>
<button type="submit">查询</button>
<small>办件编号和查询密码见人社窗口出具的受理回执。遗失查询密码请到窗口重新获取。</small>
</form>{note}{body}</main></body></html>"""
