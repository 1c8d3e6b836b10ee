"""``lianban retirement-age``: issue 13 §1's JSON for the worked examples; a slip is one sentence and exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lianban.app.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("category", "birth", "age", "text", "month"),
    [("male", "1965-01", 721, "60岁1个月", "2025-02"), ("male", "1965-05", 722, "60岁2个月", "2025-07"),
     ("female55", "1971-04", 664, "55岁4个月", "2026-08"), ("female50", "1984-10", 659, "54岁11个月", "2039-09"),
     ("male", "1976-09", 756, "63岁", "2039-09")],
)
def test_worked_examples_as_json(category: str, birth: str, age: int, text: str, month: str) -> None:
    done = runner.invoke(app, ["retirement-age", "--category", category, "--birth", birth, "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert list(shown) == ["statutory_age_months", "statutory_age", "retirement_month", "min_contribution_months",
                           "earliest_flexible_month", "latest_flexible_month"]
    assert (shown["statutory_age_months"], shown["statutory_age"], shown["retirement_month"]) == (age, text, month)


def test_without_json_a_chinese_table() -> None:
    done = runner.invoke(app, ["retirement-age", "--category", "female50", "--birth", "1984-10"])
    assert done.exit_code == 0 and "54岁11个月" in done.stdout and "最早弹性提前退休月份" in done.stdout


@pytest.mark.parametrize(
    ("category", "birth", "named"),
    [("boy", "1965-01", "boy"), ("male", "1965-13", "1965-13"), ("male", "sixty", "sixty"),
     ("male", "1965-1", "1965-1"), ("female", "1970-01", "female")],
)
def test_bad_input_is_one_sentence_on_stderr_and_exit_2(category: str, birth: str, named: str) -> None:
    done = runner.invoke(app, ["retirement-age", "--category", category, "--birth", birth, "--json"])
    assert done.exit_code == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in done.stderr
