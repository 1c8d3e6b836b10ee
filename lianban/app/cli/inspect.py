"""What an operator looks at: ledger progress and quarantined records."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console, emit
from lianban.app.config import Paths


def status(as_json: JsonFlag = False) -> None:
    """台账进度 (ledger progress)."""
    from lianban.ledger.progress import progress

    emit(progress(Paths.from_env().existing_ledger()).as_dict(), as_json, "办件进度 (progress)")


def quarantine(as_json: JsonFlag = False) -> None:
    """隔离区：未通过校验的记录及原因（脱敏显示），供人社前置库修正后重新同步 (quarantined records, masked)."""
    from lianban.pipeline.quarantine import list_held

    rows = [h.as_dict() for h in list_held(Paths.from_env().existing_ledger())]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"隔离记录 (quarantined): {len(rows)}")
    for column in ("序号", "办件编号", "姓名", "身份证号码", "联系电话", "原因"):
        table.add_column(column)
    for r in rows:
        rec = r["record"]
        table.add_row(str(r["source_seq"]), r["case_no"], rec["name"], rec["id_number"], rec["phone"],
                      "；".join(f"{x['message']}（{x['code']}）" for x in r["reasons"]))
    console.print(table)
    console.print("修正人社前置库中的记录并将其同步标志 TBBZ 置回 0，下一轮即重新抽取"
                  " (fix the record at the source and reset TBBZ to 0)")
