"""``lianban validate FILE [--json]``: CSV or JSON Lines with the 前置库's column names, the staging suite's
verdict per row in input order; an unreadable file is one sentence and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.hrss.mapping import APPLICATION_COLUMNS as A
from lianban.app.cli import app
from simulators.people import generate

runner = CliRunner()
KEYS = ("case_no", "name", "id_number", "employer_name", "employer_uscc", "contribution_months", "pension_start",
        "phone", "items", "approved_at", "original_age", "retirement_type")


@pytest.fixture(scope="module")
def apps() -> list[dict[str, Any]]:
    good = [a for a in generate(40, seed=3)][:4]
    return [good[0], {**good[1], "id_number": good[1]["id_number"][:17] + "x"}, good[2],
            {**good[3], "phone": "", "items": "01,15"}]


def write_csv(path: Path, apps: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([A[k] for k in KEYS])
        writer.writerows([["" if a[k] is None else a[k] for k in KEYS] for a in apps])
    return path


def write_jsonl(path: Path, apps: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps({A[k]: a[k] for k in KEYS}, ensure_ascii=False) + "\n" for a in apps),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("writer", [write_csv, write_jsonl])
def test_each_row_in_input_order_with_its_reasons(tmp_path: Path, apps: list[dict[str, Any]], writer: Any) -> None:
    path = writer(tmp_path / ("rows.csv" if writer is write_csv else "rows.jsonl"), apps)
    done = runner.invoke(app, ["validate", str(path), "--json"])
    assert done.exit_code == 1, done.output  # some row is invalid
    shown = json.loads(done.stdout)
    assert [v["row"] for v in shown] == [1, 2, 3, 4]
    assert [v["valid"] for v in shown] == [True, False, True, False]
    codes = [[r["code"] for r in v["reasons"]] for v in shown]
    assert codes[1][0] in ("ID_LOWER_X",) and codes[3] == ["REQUIRED_PHONE", "ITEMS_UNKNOWN"]
    assert all(set(r) == {"code", "message"} for v in shown for r in v["reasons"])


def test_a_valid_file_exits_0_and_reads_as_a_table(tmp_path: Path, apps: list[dict[str, Any]]) -> None:
    done = runner.invoke(app, ["validate", str(write_csv(tmp_path / "ok.csv", [apps[0], apps[2]]))])
    assert done.exit_code == 0 and "共 2 行，0 行未通过" in done.stdout


@pytest.mark.parametrize(
    ("name", "body", "named"),
    [("missing.csv", None, "不存在"), ("broken.jsonl", b'{"BJBH": "A1"}\n{"BJBH": \n', "第2行"),
     ("list.jsonl", b'{"BJBH": "A1"}\n[1, 2]\n', "第2行"), ("latin1.csv", "BJBH,XM\nA1,é\n".encode("latin-1"), "UTF-8"),
     ("other.csv", b"a,b\n1,2\n", "表头")],
)
def test_a_file_that_cannot_be_read_is_one_sentence_and_exit_2(tmp_path: Path, name: str, body: bytes | None,
                                                               named: str) -> None:
    path = tmp_path / name
    if body is not None:
        path.write_bytes(body)
    done = runner.invoke(app, ["validate", str(path), "--json"])
    assert done.exit_code == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", str(tmp_path)])
    assert done.exit_code == 2 and "目录" in done.stderr


def test_a_row_s_brackets_are_shown_in_its_reasons_as_typed(tmp_path: Path, apps: list[dict[str, Any]]) -> None:
    """第4节: a file's own text (an item code "[/]") in a reason is shown, not read as markup (the table crashed)."""
    done = runner.invoke(app, ["validate", str(write_csv(tmp_path / "b.csv", [{**apps[0], "items": "01,[/]"}]))],
                         env={"COLUMNS": "200"})
    assert done.exit_code == 1 and "[/]" in done.stdout, done.output


def test_a_row_staging_cannot_read_is_invalid_here_too(tmp_path: Path, apps: list[dict[str, Any]]) -> None:
    """What staging refuses as it reads a row (a 办件编号 it cannot take, an invisible character in a name, a
    lone surrogate from a JSON escape) is refused here with the same reasons: such rows passed, or the command
    ended in a traceback, while staging quarantined them."""
    rows = [{**apps[0], "case_no": apps[0]["case_no"] + "/1"}, {**apps[2], "name": "张\u200b三"},
            {**apps[0], "name": "\ud800"}]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps({A[k]: a[k] for k in KEYS}) + "\n" for a in rows), encoding="utf-8")
    done = runner.invoke(app, ["validate", str(path), "--json"])
    assert done.exit_code == 1, done.output
    shown = json.loads(done.stdout)
    assert [[r["code"] for r in v["reasons"]] for v in shown] == [
        ["UNREADABLE_CASE_NO"], ["UNREADABLE_NAME"], ["UNREADABLE_NAME"]]
    assert "\\ud800" not in done.stdout and "办件编号只能包含" in shown[0]["reasons"][0]["message"]
