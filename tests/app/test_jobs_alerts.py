"""The alert jobs as the DAG tasks alert_liaisons and daily_summary call them: an alert that went out on no channel
fails the task (Airflow shows it red and retries it), and the retry sends it once the channel is back, without
sending again what already went."""

from __future__ import annotations

import os

import pytest

from lianban.app import jobs
from lianban.app.config import Paths, conn_env_name
from lianban.app.up import free_port
from lianban.errors import LianbanError
from tests.app.cli_kit import lianban
from tests.app.test_alerts import Inbox, inbox  # noqa: F401  (the local SMTP server fixture)


def _smtp_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIANBAN_SMTP_URL", f"smtp://127.0.0.1:{free_port()}?from=alerts@lianban.example.gov.cn")
    monkeypatch.delenv(conn_env_name("sms"), raising=False)


def test_an_alert_that_went_nowhere_fails_the_task_and_goes_on_its_retry(
        paths: Paths, inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    working = os.environ["LIANBAN_SMTP_URL"]
    jobs.record_task_failure("lianban_exchange", "deliver_medical", "manual__1")
    _smtp_down(monkeypatch)
    with pytest.raises(LianbanError, match="告警未能发出"):
        jobs.alerts_check()
    assert inbox.messages == []
    monkeypatch.setenv("LIANBAN_SMTP_URL", working)  # the mail server is back: Airflow's retry
    assert jobs.alerts_check()["opened"] == 1
    assert jobs.alerts_check()["sent"] == {} and len(inbox.messages) == 1


def test_a_daily_summary_that_went_nowhere_fails_the_task(paths: Paths, inbox: Inbox,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    working = os.environ["LIANBAN_SMTP_URL"]
    _smtp_down(monkeypatch)
    with pytest.raises(LianbanError, match="每日汇总未能发出"):
        jobs.daily_summary("2026-12-02")
    monkeypatch.setenv("LIANBAN_SMTP_URL", working)
    assert jobs.daily_summary("2026-12-02")["sent"]["email"] == len(inbox.messages) > 0


def test_the_alerts_check_command_says_so_too(paths: Paths, inbox: Inbox,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    jobs.record_task_failure("lianban_exchange", "deliver_medical", "manual__1")
    _smtp_down(monkeypatch)
    done = lianban(paths.home, "alerts", "check", "--json", LIANBAN_SMTP_URL=os.environ["LIANBAN_SMTP_URL"])
    assert done.returncode == 2 and "告警未能发出" in done.stdout and "Traceback" not in done.stderr
