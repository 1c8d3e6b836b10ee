"""``lianban notices run`` and ``lianban forecast`` as an operator runs them: the SMS gateway through its
``AIRFLOW_CONN_DEPT_SMS`` connection, counts only (no phone, no ID number) on the screen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from typer.testing import CliRunner

from lianban.app.config import Paths, connection_json
from lianban.app.jobs import reminder_months
from lianban.app.setup import seed_register
from lianban.errors import ConfigError
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app

runner = CliRunner()
DAY = "2026-11-20"


@pytest.fixture
def gateway(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serve_in_background(create_app("hub", "secret", GatewayConfig(rate_limit=1000))) as url:
        monkeypatch.setenv("AIRFLOW_CONN_DEPT_SMS", connection_json(url, "hub", "secret", read_timeout=10))
        yield url


def test_notices_run_plans_sends_and_collects_once(paths: Paths, gateway: str) -> None:
    from lianban.app.cli import app

    seed_register(paths, 400, 11, reference=date.fromisoformat(DAY))
    first = runner.invoke(app, ["notices", "run", "--json", "--date", DAY])
    assert first.exit_code == 0, first.output
    done = json.loads(first.stdout)
    planned = done["reminders"]["planned"] + done["pensions"]["planned"]
    assert done["reminders"]["planned"] > 0 and done["pensions"]["planned"] == 20
    sent = done["sent"]
    assert sent["sent"] + sent["deferred"] + sent["invalid"] == planned  # deferred: the test ran at night
    outbox = requests.get(f"{gateway}/_sim/outbox", timeout=5).json()["messages"]
    assert len(outbox) == sent["sent"]
    again = json.loads(runner.invoke(app, ["notices", "run", "--json", "--date", DAY]).stdout)
    assert (again["reminders"]["planned"], again["pensions"]["planned"]) == (0, 0)
    assert len(requests.get(f"{gateway}/_sim/outbox", timeout=5).json()["messages"]) == sent["sent"] + \
        again["sent"]["sent"] and again["sent"]["sent"] <= sent["deferred"]  # only what the night held back
    table = runner.invoke(app, ["notices", "run", "--date", DAY])
    assert table.exit_code == 0 and "到龄提醒" in table.stdout
    listed = runner.invoke(app, ["notices", "list"])
    assert listed.exit_code == 0 and "待遇告知" in listed.stdout and "pension_notice" not in listed.stdout
    assert not any(m["phone"] in table.stdout + first.stdout for m in outbox)


def test_a_failing_step_does_not_stop_the_others_and_the_run_exits_1(paths: Paths, gateway: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The command stopped at its first failing step (a traceback, nothing planned nor sent), where the DAG's
    tasks run whatever became of the one before: a bad reminder window now fails 到龄提醒 alone, named, and the
    待遇告知 are still planned and sent."""
    from lianban.app.cli import app

    seed_register(paths, 400, 11, reference=date.fromisoformat(DAY))
    monkeypatch.setenv("LIANBAN_REMINDER_MONTHS", "three")
    done = runner.invoke(app, ["notices", "run", "--json", "--date", DAY])
    assert done.exit_code == 1, done.output
    result = json.loads(done.stdout)
    assert list(result) == ["reminders", "pensions", "sent", "receipts"]
    assert "LIANBAN_REMINDER_MONTHS" in result["reminders"]["error"] and result["pensions"]["planned"] == 20
    sent = result["sent"]
    assert sent["sent"] + sent["deferred"] + sent["invalid"] == 20 and "error" not in result["receipts"]
    said = done.stderr.splitlines()
    assert said[0].startswith("到龄提醒 (reminders planned)：失败：LIANBAN_REMINDER_MONTHS 应为 0–24 的整数")
    assert said[1:4] == ["待遇告知 (pension notices planned)：完成", "发送 (sent)：完成",
                         "回执 (delivery receipts)：完成"]
    assert "4 步中 1 步失败" in said[4]
    table = runner.invoke(app, ["notices", "run", "--date", DAY])
    assert table.exit_code == 1 and "待遇告知" in table.stdout and "到龄提醒 (reminders planned)：失败" in table.stderr
    outbox = requests.get(f"{gateway}/_sim/outbox", timeout=5).json()["messages"]
    assert len(outbox) == sent["sent"] and not any(m["phone"] in done.output + table.output for m in outbox)


def test_forecast_prints_a_chinese_table_and_json(paths: Paths) -> None:
    from lianban.app.cli import app

    seed_register(paths, 500, 3, reference=date.fromisoformat(DAY))
    shown = runner.invoke(app, ["forecast", "--months", "24", "--json", "--date", DAY])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    assert [m["month"] for m in result["months"]][:2] == ["2026-12", "2027-01"] and len(result["months"]) == 24
    assert set(result["months"][0]) == {"month", "reaching_age", "by_category", "by_department"}
    table = runner.invoke(app, ["forecast", "--months", "3", "--date", DAY])
    assert table.exit_code == 0 and "退休高峰预测" in table.stdout and "到龄人数" in table.stdout
    assert "尚无办件" in table.stdout and "没有人在预测期内到龄" not in table.stdout


def test_a_forecast_over_an_empty_register_says_so(paths: Paths) -> None:
    """Found by a newcomer: after `make demo` the forecast gave 0 for every month and nothing said why."""
    from lianban.app.cli import app

    seed_register(paths, 0, 3, reference=date.fromisoformat(DAY))
    table = runner.invoke(app, ["forecast", "--months", "3", "--date", DAY])
    assert table.exit_code == 0, table.output
    assert "没有人在预测期内到龄" in table.stdout and "lianban seed --register" in table.stdout


def test_a_bad_date_is_one_sentence_and_exit_2(paths: Paths) -> None:
    from lianban.app.cli import app

    done = runner.invoke(app, ["forecast", "--date", "2026-13-01"])
    assert done.exit_code == 2 and "YYYY-MM-DD" in done.output


@pytest.mark.parametrize(("raw", "months"), [("", 3), ("6", 6), ("0", 0)])
def test_the_reminder_window_comes_from_the_environment(raw: str, months: int) -> None:
    assert reminder_months({"LIANBAN_REMINDER_MONTHS": raw}) == months


@pytest.mark.parametrize("raw", ["three", "-1", "25", "²", "3²"])  # "²": a digit to isdigit, no number to int
def test_a_bad_reminder_window_says_what_to_set(raw: str) -> None:
    with pytest.raises(ConfigError, match="LIANBAN_REMINDER_MONTHS"):
        reminder_months({"LIANBAN_REMINDER_MONTHS": raw})


def test_a_step_s_database_trouble_is_named_as_the_rest_of_the_command_line_names_it(
        paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's database error was always "数据库不可用或结构不符", where the rest of the command line says what
    SQLite said: here the ledger busy with another writer (wait and run again), not a setting to check."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from lianban.app import jobs
    from lianban.app.cli import app

    def busy() -> None:
        raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(jobs, "plan_pension_notices", busy)
    done = runner.invoke(app, ["notices", "run", "--json", "--date", DAY])
    assert done.exit_code == 1, done.output
    assert json.loads(done.stdout)["pensions"]["error"].startswith("数据库正被其他任务或命令长时间占用")
