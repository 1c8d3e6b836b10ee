"""``lianban forecast --months 24 [--json]``: the retirement wave (退休高峰预测) from HRSS's register.

Per month from next month: the people reaching statutory age (by category) and the 事项 each department can
expect from the item choices of the cases staged so far. ``--json`` prints the shape documented in
:mod:`lianban.domain.forecast`. The register is streamed in chunks: a million rows fit in memory.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console
from lianban.app.cli.retirement import refuse
from lianban.domain.catalog import load_catalog

CATEGORY_ZH = {"male": "男", "female55": "女55", "female50": "女50"}
#: short department names for the table's headers (the catalog's full names are long)


def forecast_command(
        months: Annotated[int, typer.Option("--months", min=1, max=240, help="预测月数（从下月起）")] = 24,
        day: Annotated[str | None, typer.Option("--date", help="以该日为当前日期 YYYY-MM-DD（默认北京时间今天）")]
        = None,
        as_json: JsonFlag = False) -> None:
    """退休高峰预测：逐月到龄人数（按类别）与各部门预计事项量 (retirement-wave forecast)."""
    from lianban.app import jobs

    result = jobs.forecast(months, checked_day(day))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    console.print(_table(result))
    console.print("各部门列为预计事项量 (expected items per department); "
                  f"历史依据 (history): {result['history']['note']}", soft_wrap=True)
    if not any(row["reaching_age"] for row in result["months"]):  # found by a newcomer: a demo's register is empty
        console.print("注意：人社参保登记（前置库 T_LB_CBRY）中没有人在预测期内到龄；登记为空时（如演示环境）可用 "
                      "`lianban seed --register N` 写入合成人员 (nobody in HRSS's register reaches retirement age in "
                      "these months: an empty register?)", soft_wrap=True)


def checked_day(text: str | None) -> str | None:
    """``--date`` as given when it is a date YYYY-MM-DD; otherwise one sentence and exit 2."""
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        refuse(f"日期 {text[:20]!r} 无效：应为 YYYY-MM-DD (--date must be YYYY-MM-DD)")


def _table(result: dict[str, Any]) -> Table:
    names = {key: d.short_name or d.name for key, d in load_catalog().departments.items()}
    rows = result["months"]
    departments = list(rows[0]["by_department"]) if rows else []
    table = Table(title=f"退休高峰预测（{len(rows)}个月）")
    table.add_column("月份", no_wrap=True)
    for header in ("到龄人数", *CATEGORY_ZH.values(), *(names.get(d, d) for d in departments)):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["month"], str(row["reaching_age"]), *(str(row["by_category"][c]) for c in CATEGORY_ZH),
                      *(f"{row['by_department'][d]:.1f}" for d in departments))
    return table
