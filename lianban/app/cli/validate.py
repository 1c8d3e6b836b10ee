"""``lianban validate FILE [--json]``: the validation suite over a file of 前置库 rows (issue 11 §5).

The file is CSV (a header row of the 前置库's column names: ``BJBH``, ``XM``, ``SFZHM``, ``CBDW``,
``TYSHXYDM``, ``JFYS``, ``DYZXSJ``, ``LXDH``, ``BLSX``, ``SPSJ``, ``YFDTXNL``, ``TXLX``; others are ignored)
or JSON Lines (one object per line with the same names); ``.jsonl``/``.ndjson`` or a first character ``{``
means JSON Lines. Every row is read as staging reads a 前置库 row (a row it cannot read has those reasons
alone: ``UNREADABLE_<FIELD>`` …) and judged by the same Great Expectations suite as staging, except "the same
person not twice among open cases", which needs the ledger. ``--json`` prints a list, in input order, of
``{"row": n, "valid": bool, "reasons": [{"code", "message"}]}`` (rows numbered from 1, the header not
counted). Exit 0 when every row is valid, 1 when some row is not; a file that cannot be read is one sentence
on stderr and exit 2.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from connectors.hrss.mapping import APPLICATION_COLUMNS
from lianban.app.cli.output import JsonFlag, console
from lianban.app.cli.retirement import refuse

#: 前置库 column → domain key (the columns a file may carry)
COLUMNS = {column: key for key, column in APPLICATION_COLUMNS.items()
           if key not in ("seq", "sync_flag", "synced_at", "password")}


class Unreadable(ValueError):
    """The file cannot be read as 前置库 rows: the sentence says why."""


def _json_lines(text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise Unreadable(f"第{number}行不是有效的 JSON (line {number} is not valid JSON)") from None
        if not isinstance(value, dict):
            raise Unreadable(f"第{number}行不是 JSON 对象 (line {number} is not a JSON object)")
        rows.append(value)
    return rows


def _csv(text: str) -> list[dict[str, Any]]:
    try:
        reader = csv.DictReader(text.splitlines())
        rows = list(reader)
    except csv.Error as exc:
        raise Unreadable(f"CSV 格式错误：{exc} (malformed CSV)") from None
    if not reader.fieldnames or not set(reader.fieldnames) & set(COLUMNS):
        raise Unreadable(f"CSV 表头中没有前置库列名（应含 {', '.join(list(COLUMNS)[:4])} 等） "
                         f"(the header names no 前置库 column)")
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's rows by domain key, in order; Unreadable with the sentence when it cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise Unreadable(f"文件不存在：{path} (no such file)") from None
    except IsADirectoryError:
        raise Unreadable(f"{path} 是目录，不是文件 (a directory, not a file)") from None
    except OSError as exc:
        raise Unreadable(f"无法读取 {path}（{type(exc).__name__}）：请检查路径与权限 (cannot read the file)") from None
    except UnicodeDecodeError:
        raise Unreadable(f"{path} 不是 UTF-8 文本 (not UTF-8 text)") from None
    json_lines = path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{")
    rows = _json_lines(text) if json_lines else _csv(text)
    return [{COLUMNS[k]: _scalar(v) for k, v in row.items() if k in COLUMNS} for row in rows]


def _scalar(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def validate_command(file: Annotated[Path, typer.Argument(help="CSV 或 JSON Lines 文件（前置库列名）")],
                     as_json: JsonFlag = False) -> None:
    """用校验规则检查一个前置库记录文件（CSV 或 JSON Lines），逐行列出原因 (validate a file of 前置库 rows)."""
    try:
        rows = read_rows(file)
    except Unreadable as exc:
        refuse(str(exc))
    verdicts = _judge(rows)
    if as_json:
        typer.echo(json.dumps(verdicts, ensure_ascii=False))
    else:
        _show(verdicts)
    raise typer.Exit(0 if all(v["valid"] for v in verdicts) else 1)


def _judge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row read as staging reads a 前置库 row (:func:`lianban.domain.intake.read`: one it cannot read has
    those reasons alone), the others judged by the suite."""
    from lianban.domain.catalog import load_catalog
    from lianban.domain.columns import record_columns
    from lianban.domain.intake import SourceRow, Unreadable, read
    from lianban.domain.rules.frame import frame_of
    from lianban.pipeline.validate.runner import validator

    catalog = load_catalog()
    read_rows = [read(SourceRow(n, row), catalog) for n, row in enumerate(rows, start=1)]
    records = [r for r in read_rows if not isinstance(r, Unreadable)]
    judged = iter(validator().run(frame_of(record_columns(records))).reasons if records else [])
    reasons = [r.coded() if isinstance(r, Unreadable) else next(judged) for r in read_rows]
    return [{"row": n, "valid": not r, "reasons": [x.as_dict() for x in r]} for n, r in enumerate(reasons, start=1)]


def _show(verdicts: list[dict[str, Any]]) -> None:
    invalid = [v for v in verdicts if not v["valid"]]
    table = Table(title="未通过校验的行 (invalid rows)")
    for column in ("行", "原因"):
        table.add_column(column)
    for v in invalid:
        table.add_row(str(v["row"]), Text("；".join(f"{r['message']}（{r['code']}）" for r in v["reasons"])))
    console.print(table)
    console.print(f"共 {len(verdicts)} 行，{len(invalid)} 行未通过 ({len(verdicts)} rows, {len(invalid)} invalid)",
                  soft_wrap=True)
