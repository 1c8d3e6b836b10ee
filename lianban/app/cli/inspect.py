"""What an operator looks at: ledger progress, and what waits on a person (the quarantine has its own group:
lianban.app.cli.quarantine)."""

from __future__ import annotations

import json
from datetime import date
from typing import cast

import typer

from lianban.app.cli.output import JsonFlag, columns, emit, emit_rows
from lianban.app.config import Paths


def status_numbers(ledger_url: str, today: date | None = None) -> dict[str, object]:
    """What ``lianban status --json`` prints, for the ledger at `ledger_url` (the dashboard shows the same)."""
    from lianban.ledger.progress import progress

    return progress(ledger_url, today).as_dict()


def status(as_json: JsonFlag = False) -> None:
    """台账进度 (ledger progress)."""
    numbers = status_numbers(Paths.from_env().existing_ledger())
    emit(numbers, as_json, "办件进度 (progress)")
    gone = cast(dict[str, int], numbers["items_not_in_catalog"])
    if gone and not as_json:
        typer.echo("注意：事项 " + "、".join(f"{code}（{n} 项未办结）" for code, n in gone.items())
                   + " 已不在事项目录 schemas/catalog/items.yaml 中，不计时限；请恢复该事项，或待其办结 "
                   "(items no longer in the catalog: no time limit counted)")


def parked(as_json: JsonFlag = False) -> None:
    """搁置待处理的记录：皖事通办拒收的状态事件、无法读取或待入账的人社状态日志记录 (what waits on a person)."""
    from lianban.ledger.progress import parked as parked_rows

    shown = parked_rows(Paths.from_env().existing_ledger())
    if as_json:
        typer.echo(json.dumps(shown, ensure_ascii=False))
        return
    emit_rows(shown["events"], False, "皖事通办拒收、已搁置的状态事件（lianban run report --retry-parked 重推）",
              columns(("事件", "event_id"), ("办件编号", "case_no"), ("事项", "item_code"), ("状态", "status"),
                       ("搁置时间", "parked_at"), ("原因", "reason")))
    emit_rows(shown["status_rows"], False, "人社状态日志中尚未处理的记录", [
        *columns(("序号", "seq"), ("办件编号", "case_no")),
        ("状态", lambda r: _ROW_STATES.get(r["state"], r["state"])),
        ("每轮重读", lambda r: "是" if r["read_again"] else "否（请人社重写该记录）"),
        ("原因", lambda r: "；".join(r["reasons"])), *columns(("搁置时间", "since"))])


_ROW_STATES = {"parked": "无法读取", "waiting": "待办件入账"}
