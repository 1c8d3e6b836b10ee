"""What every command prints (lianban.app.cli.output)."""

from __future__ import annotations

import json

import pytest

from lianban.app.cli.output import emit


def test_a_value_with_brackets_is_printed_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    """A value from a source or a department (a reason, an error) may hold brackets: the table shows them as
    written, where rich read them as markup (``[/]`` raised MarkupError, ``[bold]`` vanished)."""
    said = "材料 [/] 与 [bold]户口簿[/bold]"
    emit({"reason": said, "items": ["[red]01[/red]"]}, False, "结果 [x]")
    shown = capsys.readouterr().out
    assert said in shown and "[red]01[/red]" in shown and "结果 [x]" in shown


def test_json_is_one_object_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    emit({"reason": "材料 [/]", "n": 2}, True, "结果")
    assert json.loads(capsys.readouterr().out) == {"reason": "材料 [/]", "n": 2}


@pytest.mark.parametrize("args", [
    ["report", "--date", "34162219600101001X"],
    ["report", "--since", "13812345678"],
    ["alerts", "daily", "--date", "13812345678"],
])
def test_a_bad_argument_is_not_repeated_when_it_is_an_id_number_or_phone(args: list[str]) -> None:
    """An ID number or phone typed in the wrong place is masked in the usage error that names it."""
    from typer.testing import CliRunner

    from lianban.app.cli import app

    said = CliRunner().invoke(app, args)
    assert said.exit_code == 2, said.output
    assert "YYYY-MM-DD" in said.output and args[-1] not in said.output
    assert "341622********001X" in said.output or "138****5678" in said.output
