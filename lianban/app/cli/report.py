"""`lianban report`: the reconciliation report (对账) — every record's fate, with totals that add up."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console, progress_bar
from lianban.app.config import Paths

DELIVERY_ZH = {"window": "窗口办理", "delivered": "已投递", "refused": "被拒收", "dead": "重试耗尽",
               "pending": "待投递"}
CSV_COLUMNS = ("source_seq", "case_no", "fate", "read_at", "case_status", "item_code", "department", "delivery",
               "item_status", "reasons")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 YYYY-MM-DD，收到 {value!r}", param_hint=option) from None


def report(day: Annotated[str | None, typer.Option("--date", help="对账日 YYYY-MM-DD（北京时间，默认今天）")] = None,
           since: Annotated[str | None, typer.Option(help="起始日 YYYY-MM-DD（含），与 --date 组成区间")] = None,
           as_json: JsonFlag = False,
           as_csv: Annotated[bool, typer.Option("--csv", help="CSV，每个事项一行 (one per item)")] = False) -> None:
    """对账报告：每条记录的去向（入账、隔离、退回；各事项投递状态），合计必须平衡 (reconciliation)."""
    from lianban.ledger.reconciliation import reconcile
    from lianban.ledger.time_limits import beijing_today

    until = _day(day, "--date") or beijing_today()
    start = _day(since, "--since")
    if start is not None and start > until:
        raise typer.BadParameter(f"起始日 {start} 晚于对账日 {until}", param_hint="--since")
    with progress_bar("对账 (reconciling)") as advance:
        result = reconcile(Paths.from_env().existing_ledger(), until, start, progress=advance)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    elif as_csv:
        typer.echo(_csv(result.as_dict()), nl=False)
    else:
        _table(result.as_dict())
    if result.problems:  # with --json or --csv on stderr: stdout stays what a script parses
        said = Console(stderr=True) if as_json or as_csv else console
        said.print(f"[red]对账不平 (totals do not add up):[/red] {'；'.join(result.problems)}", soft_wrap=True)
        raise SystemExit(3)


def _csv(data: dict[str, object]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in data["records"]:  # type: ignore[attr-defined]
        head = [r["source_seq"], r["case_no"], r["fate"], r["read_at"], r["status"] or ""]
        reasons = "；".join(r["reasons"])
        for item in r["items"] or [None]:
            tail = [item["item_code"], item["department"], item["delivery"], item["status"] or ""] if item \
                else ["", "", "", ""]
            writer.writerow([*head, *tail, reasons])
    return out.getvalue()


def _table(data: dict[str, object]) -> None:
    totals: dict[str, int] = data["totals"]  # type: ignore[assignment]
    table = Table(title=f"对账 {data['since']} … {data['until']} (reconciliation)", show_header=False)
    rows = [("抽取 extracted", "extracted"), ("入账 staged", "staged"), ("隔离中 quarantined", "quarantined"),
            ("已退回 rejected", "rejected"), ("由更正行取代 replaced", "replaced"),
            ("重复行 duplicate", "duplicate"), ("事项 items", "items"),
            *((f"{DELIVERY_ZH[k]} {k}", k) for k in DELIVERY_ZH)]
    for label, key in rows:
        table.add_row(label, str(totals[key]))
    console.print(table)
