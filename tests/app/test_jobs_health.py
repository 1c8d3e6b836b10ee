"""The scheduled connection checks (DAG lianban_operations, task health_checks) as the job runs them: the SMS
gateway is checked with the departments when connection dept_sms is configured, against the SMS simulator, and
its failed check opens an incident the hub's duty desk is told of, as a department's does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lianban.app import jobs
from lianban.app.config import Paths, conn_env_name, connection_json
from lianban.domain.liaisons import load_liaisons
from lianban.ledger import health
from lianban.ledger.db import session_factory
from lianban.ledger.incidents import observe, sweep
from lianban.pipeline.alerts import alert_for
from simulators.rest_department import serve_in_background
from simulators.sms import GatewayConfig, create_app


@pytest.fixture
def gateway() -> Iterator[str]:
    """The SMS simulator on 127.0.0.1, taking requests signed by app id hub with secret "secret"."""
    with serve_in_background(create_app("hub", "secret", GatewayConfig(rate_limit=1000))) as url:
        yield url


def _checked(paths: Paths) -> dict[str, health.HealthCheck]:
    with session_factory(paths.ledger_url)() as s:
        return health.latest(s)


def test_a_reachable_gateway_is_checked_and_passes(paths: Paths, gateway: str, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    monkeypatch.setenv(conn_env_name("sms"), connection_json(gateway, "hub", "secret"))
    done = jobs.health_checks()
    assert "sms" not in done["failed"] and done["skipped"] == []
    assert _checked(paths)["sms"].ok


def test_a_gateway_refusing_our_signature_fails_its_check_and_the_duty_desk_is_told(
        paths: Paths, gateway: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway was in no scheduled check: an app secret it no longer takes showed only when the day's
    notices failed to go."""
    monkeypatch.setenv(conn_env_name("sms"), connection_json(gateway, "hub", "not-the-secret"))
    done = jobs.health_checks()
    check = _checked(paths)["sms"]
    assert "sms" in done["failed"] and not check.ok and check.step == "authenticate"
    assert "not-the-secret" not in (check.reason or "")
    with session_factory(paths.ledger_url).begin() as s:
        opened = [i for i in sweep(s, observe(s)) if i.party == "sms"]
        assert [i.kind for i in opened] == ["health_failing"]
        alert = alert_for(opened[0], load_liaisons())
    assert alert.to.party == "hub" and "短信网关" in alert.subject and "定时连接检查未通过" in alert.subject


def test_a_gateway_not_configured_is_skipped_and_said(paths: Paths, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(conn_env_name("sms"), raising=False)
    caplog.set_level("INFO", logger="lianban.app.jobs")
    done = jobs.health_checks()
    assert done["skipped"] == ["sms"] and "sms" not in _checked(paths)
    assert "未配置连接 dept_sms" in caplog.text


def test_the_runbooks_check_of_the_gateway_runs_every_step(gateway: str) -> None:
    """``lianban connectors check sms`` (runbook 第7节) stopped at config: sms is no catalog department."""
    from lianban.app.diagnose import check_department

    results = check_department("sms", env={conn_env_name("sms"): connection_json(gateway, "hub", "secret")})
    assert [(r.step, r.outcome.value) for r in results] == [
        ("config", "ok"), ("resolve", "ok"), ("connect", "ok"), ("tls", "skipped"), ("describe", "ok"),
        ("authenticate", "ok")]
