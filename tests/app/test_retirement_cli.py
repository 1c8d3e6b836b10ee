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


def test_an_id_number_given_as_the_birth_month_is_not_echoed() -> None:
    """The birth month is in the applicant's ID number, so a clerk may paste the number itself: refused as any
    slip, the number masked (it was echoed whole: the value is cut at 20 characters, an ID number has 18)."""
    from datetime import date

    from simulators.people import make_id_number

    typed = make_id_number("341622", date(1965, 3, 14), 7, True)
    done = runner.invoke(app, ["retirement-age", "--category", "male", "--birth", typed])
    assert done.exit_code == 2 and "出生年月" in done.stderr
    assert typed not in done.stderr and f"{typed[:6]}********{typed[-4:]}" in done.stderr
