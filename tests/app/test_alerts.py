"""Liaison alerts against real servers (a local SMTP server, the simulated SMS gateway, the simulated departments):
an induced department outage is one alert to that department's liaison, by e-mail and SMS, however often it is
checked, and one "resolved" once the department is back."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from lianban.app.cli import app
from lianban.app.config import Paths, conn_env_name, connection_json
from lianban.app.demo import connections
from lianban.app.up import free_port
from lianban.domain.liaisons import load_liaisons
from lianban.errors import ConfigError
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.ledger.store import utcnow
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app
from tests.delivery_kit import deliver_items

DEPT = "housing_fund"
SMS_APP, SMS_SECRET = "lianban-alerts", "sms-secret-for-alert-tests"


class Inbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        message = message_from_bytes(envelope.content, policy=default)  # the default policy: an EmailMessage
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("LIANBAN_SMTP_URL", f"smtp://127.0.0.1:{port}?from=alerts@lianban.example.gov.cn")
    yield box
    controller.stop()


@pytest.fixture
def sms_outbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serve_in_background(create_app(SMS_APP, SMS_SECRET, GatewayConfig())) as url:
        monkeypatch.setenv(conn_env_name("sms"), connection_json(url, SMS_APP, SMS_SECRET))
        yield f"{url}/_sim/outbox"


def _check() -> dict[str, Any]:
    done = CliRunner().invoke(app, ["alerts", "check", "--json"])
    assert done.exit_code == 0, done.output
    result: dict[str, Any] = json.loads(done.output)
    return result


def _waiting(paths: Paths) -> int:
    with session_factory(paths.ledger_url)() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery).where(Delivery.department == DEPT,
                                                                                  Delivery.state == "retry")) or 0)


def _to(inbox: Inbox, address: str) -> list[tuple[list[str], EmailMessage]]:
    return [(to, mail) for to, mail in inbox.messages if to[0] == address]


def _deliver_again(paths: Paths) -> None:
    """The next deliver run, now (the rows' back-off skipped, as if its time had come)."""
    from lianban.app.jobs import deliver

    with session_factory(paths.ledger_url).begin() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    deliver(DEPT)


def test_an_outage_is_one_alert_to_its_liaison_and_one_resolved_after(
        paths: Paths, simulation: Any, inbox: Inbox, sms_outbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reachable = connections(simulation.urls, paths.home)[conn_env_name(DEPT)]
    monkeypatch.setenv(conn_env_name(DEPT), connection_json(f"http://127.0.0.1:{free_port()}", "x", "y"))
    deliver_items(paths, DEPT, 20, 5, "01,14")  # the housing fund is down: every delivery waits to retry
    _deliver_again(paths)
    first, again = _check(), _check()
    assert first["opened"] >= 1 and first["sent"]["email"] == first["sent"]["sms"] == first["opened"], first
    assert (again["opened"], again["sent"]) == (0, {}), again  # checked again: nobody hears anything twice
    liaisons = load_liaisons()
    [(to, mail)] = _to(inbox, liaisons[DEPT].email)  # the synthetic approvals are old: HRSS's own items may be late
    assert to == [liaisons[DEPT].email, liaisons["hub"].email]  # the department's liaison, the duty desk in copy
    assert "住房公积金管理中心" in mail["Subject"] and "投递连续失败" in mail["Subject"]
    body = mail.get_content()
    assert f"涉及：{_waiting(paths)} 件" in body and "docs/runbook.md 第1节" in body
    assert "lianban connectors check" in body

    monkeypatch.setenv(conn_env_name(DEPT), reachable)  # the housing fund is back
    _deliver_again(paths)
    cleared = _check()
    assert (cleared["resolved"], cleared["sent"]) == (1, {"email": 1, "sms": 1}), cleared
    mails = _to(inbox, liaisons[DEPT].email)
    assert len(mails) == 2 and "告警解除" in mails[1][1]["Subject"]
    texts = [m["text"] for m in requests.get(sms_outbox, timeout=10).json()["messages"]
             if m["phone"] == liaisons[DEPT].mobile]
    assert len(texts) == 2 and "联办告警" in texts[0] and "联办告警解除" in texts[1]
    assert _check()["sent"] == {}


def test_without_a_channel_the_check_refuses_to_run(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIANBAN_SMTP_URL", raising=False)
    monkeypatch.delenv(conn_env_name("sms"), raising=False)
    done = CliRunner().invoke(app, ["alerts", "check"])
    assert done.exit_code != 0 and "告警渠道" in str(done.exception or done.output)


def test_a_wrong_sms_connection_is_said_and_email_still_carries_the_alerts(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from lianban.app.alerting import EmailNotifier, channels_from_env

    secret = "Sms-Conn-Pa55"
    env = {"LIANBAN_SMTP_URL": "smtp://127.0.0.1:25?from=alerts@lianban.example.gov.cn",
           conn_env_name("sms"): '{"conn_type": "http", "password": "' + secret + '"'}
    with caplog.at_level("WARNING", logger="lianban.alerts"):
        channels = channels_from_env(env)
    assert [type(c) for c in channels] == [EmailNotifier]
    assert "dept_sms 的连接配置有误" in caplog.text and secret not in caplog.text


def test_a_failed_airflow_task_is_an_alert_to_the_duty_desk(paths: Paths, inbox: Inbox,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """What the DAGs' on_failure_callback does (dags/lianban_defaults.record_failure), then the alerts check."""
    from types import SimpleNamespace

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "dags"))
    from lianban_defaults import record_failure, task_defaults

    assert task_defaults()["on_failure_callback"] is record_failure
    ti = SimpleNamespace(dag_id="lianban_exchange", task_id="deliver_medical", run_id="manual__1")
    record_failure({"ti": ti, "run_id": "manual__1", "exception": RuntimeError("341602199001011234")})
    done = _check()
    assert done["opened"] == 1
    [(to, mail)] = [m for m in inbox.messages if "Airflow" in m[1]["Subject"]]
    assert to == [load_liaisons()["hub"].email] and "341602199001011234" not in mail.get_content()


def test_every_liaison_gets_one_daily_summary_a_day(paths: Paths, simulation: Any, inbox: Inbox,
                                                    sms_outbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # in the daytime: from 21:00 to 08:00 Beijing time the gateway defers the summary (quiet hours), and the
    # test would fail by the hour it runs at
    monkeypatch.setattr("connectors.sms.connector.in_quiet_hours", lambda _now: False)
    deliver_items(paths, DEPT, 10, 9, "01,14")
    first = CliRunner().invoke(app, ["alerts", "daily", "--date", "2026-12-02", "--json"])
    again = CliRunner().invoke(app, ["alerts", "daily", "--date", "2026-12-02", "--json"])
    parties = len(load_liaisons())
    assert json.loads(first.output)["sent"] == {"email": parties, "sms": parties}, first.output
    assert json.loads(again.output)["sent"] == {}  # a rerun of the day's job sends nothing twice
    [(_, mail)] = _to(inbox, load_liaisons()[DEPT].email)
    assert "联办日报" in mail["Subject"] and "待办：" in mail.get_content()
    sent = requests.get(sms_outbox, timeout=10).json()["messages"]
    texts = [m["text"] for m in sent]
    assert len(texts) == parties and all("联办日报" in t for t in texts)
    assert sorted(m["phone"] for m in sent) == sorted(p.mobile for p in load_liaisons().values())  # one each
    next_day = CliRunner().invoke(app, ["alerts", "daily", "--date", "2026-12-03", "--json"])
    assert json.loads(next_day.output)["sent"]["email"] == parties
    assert CliRunner().invoke(app, ["alerts", "daily", "--date", "12/03"]).exit_code == 2


def test_the_incident_list_gives_beijing_time_as_the_alert_itself_does(paths: Paths,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An incident opened at 17:30 UTC on 5 December was told as opened at 2026-12-06 01:30 (北京时间): the list
    says the same."""
    from datetime import datetime

    from rich.console import Console

    from lianban.app.cli import output
    from lianban.ledger.models import Incident

    opened, cleared = datetime(2026, 12, 5, 17, 30), datetime(2026, 12, 5, 18, 5)
    with session_factory(paths.ledger_url).begin() as session:
        session.add(Incident(kind="dead_letters", party=DEPT, state="resolved", opened_at=opened, last_seen_at=opened,
                             count=3, peak=3, resolved_at=cleared))
    done = CliRunner().invoke(app, ["alerts", "list", "--json"])
    [row] = json.loads(done.output)
    assert (row["opened_at"], row["resolved_at"]) == ("2026-12-06T01:30:00+08:00", "2026-12-06T02:05:00+08:00")
    monkeypatch.setattr(output, "console", Console(width=200))  # a wide terminal, whatever ran in this process before
    table = CliRunner().invoke(app, ["alerts", "list"]).output
    assert "2026-12-06T01:30" in table and "2026-12-06T02:05" in table


def test_a_daily_summary_dated_ahead_is_refused_and_does_not_stop_today_s(paths: Paths, inbox: Inbox) -> None:
    """A slip of the date (ten days ahead) sends nothing and is said; today's summaries still go, and the days
    after."""
    from datetime import timedelta

    from lianban.ledger.time_limits import beijing_today

    ahead = CliRunner().invoke(app, ["alerts", "daily", "--date", str(beijing_today() + timedelta(days=10))])
    assert ahead.exit_code == 2 and "晚于今天" in ahead.output and inbox.messages == []
    today = CliRunner().invoke(app, ["alerts", "daily", "--json"])
    assert json.loads(today.output)["sent"] == {"email": len(load_liaisons())}, today.output


@pytest.mark.parametrize("port", ["abc", "99999"])
def test_an_smtp_url_with_a_bad_port_is_one_sentence_naming_the_variable(paths: Paths, port: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Smtp-Pa55"
    monkeypatch.setenv("LIANBAN_SMTP_URL", f"smtp://alerts:{secret}@mail.example.gov.cn:{port}")
    done = CliRunner().invoke(app, ["alerts", "check"])
    assert done.exit_code != 0 and isinstance(done.exception, ConfigError), done.exception
    assert "LIANBAN_SMTP_URL" in str(done.exception) and "端口" in str(done.exception)
    assert secret not in str(done.exception)


def test_a_mail_server_refusing_starttls_leaves_no_connection_open(inbox: Inbox,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The local server offers no STARTTLS: the send fails, and the connection it opened is closed (it was left
    open, one per alert and check, until the process ended)."""
    import smtplib

    from lianban.app.alerting import smtp_from_url
    from lianban.domain.liaisons import load_liaisons
    from lianban.pipeline.alerts import Alert

    closed: list[bool] = []
    real_close = smtplib.SMTP.close
    monkeypatch.setattr(smtplib.SMTP, "close", lambda self: (closed.append(True), real_close(self))[1])
    notifier = smtp_from_url(os.environ["LIANBAN_SMTP_URL"] + "&starttls=1")
    hub = load_liaisons()["hub"]
    with pytest.raises(smtplib.SMTPNotSupportedError):
        notifier.send(Alert("INC-000001", "task_failed", "hub", False, "主题", "正文", hub, None))
    assert closed and inbox.messages == []


@pytest.mark.parametrize(("name", "value"), [("LIANBAN_TASK_RETRIES", "two"), ("LIANBAN_TASK_RETRIES", "-1"),
                                             ("LIANBAN_TASK_TIMEOUT_MINUTES", "0"),
                                             ("LIANBAN_TASK_RETRY_SECONDS", "1.5")])
def test_a_bad_task_setting_is_an_import_error_naming_it(monkeypatch: pytest.MonkeyPatch, name: str,
                                                         value: str) -> None:
    """What every DAG file's import shows in Airflow when a task setting is not a whole number: the variable and
    what it must be (int()'s "invalid literal for int() with base 10" named neither; -1 retries passed)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "dags"))
    from lianban_defaults import task_defaults

    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name} 应为不小于"):
        task_defaults()


def test_a_daily_summary_held_for_quiet_hours_says_so(paths: Paths, sms_outbox: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # `lianban alerts daily` typed after 21:00 Beijing with SMS the only channel: the gateway holds the summary
    # until 08:00; the command said only "check LIANBAN_SMTP_URL and dept_sms", as if a setting were wrong
    monkeypatch.delenv("LIANBAN_SMTP_URL", raising=False)
    monkeypatch.setattr("connectors.sms.connector.in_quiet_hours", lambda _now: True)
    done = CliRunner().invoke(app, ["alerts", "daily", "--date", "2026-12-02"])
    said = str(done.exception)  # the sentence the command prints (exit 2)
    assert "每日汇总未能发出" in said and "免打扰时段（21:00–08:00）不发送" in said, said
