"""`lianban connectors check` step by step (lianban.app.diagnose): each failure stops at the right step with a
reason an operator can act on, later steps are skipped, and the password never shows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lianban.app.config import connection_json
from lianban.app.diagnose import Outcome, StepResult, check, check_department, passed
from lianban.app.up import free_port
from lianban.domain.schemas import schema_path
from lianban.errors import ConfigError
from lianban.wire.contract import HealthReport
from lianban.wire.settings import DepartmentSettings, parse_connection

SECRET = "pa55-w0rd-never-shown"
WSDL = (schema_path("medical", "medical.wsdl")).read_bytes()

#: path → (status, body) the local department serves
PAGES: dict[str, tuple[int, bytes]] = {
    "/openapi.json": (200, json.dumps({"openapi": "3.1.0", "paths": {"/a": {}, "/b": {}}}).encode()),
    "/soap/medical?wsdl": (200, WSDL),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = PAGES.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def department() -> Iterator[str]:
    """Base URL of a local department serving an OpenAPI document and the medical WSDL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class FakeConnector:
    def __init__(self, report: HealthReport) -> None:
        self.report = report

    def health(self) -> HealthReport:
        return self.report


def builder(ok: bool, detail: str) -> Any:
    return lambda settings: FakeConnector(HealthReport(ok, detail))


def by_step(results: list[StepResult]) -> dict[str, StepResult]:
    return {r.step: r for r in results}


def outcomes(results: list[StepResult]) -> list[str]:
    return [r.outcome.value for r in results]


def settings(department: str, base_url: str, **extra: Any) -> DepartmentSettings:
    return parse_connection(department, connection_json(base_url, "hub", SECRET, **extra))


def test_all_steps_pass_and_plain_http_skips_tls(department: str) -> None:
    results = check(settings("health", department), builder(True, "dept_health: 签名认证通过"))
    assert outcomes(results) == ["ok", "ok", "skipped", "ok", "ok"] and passed(results)
    steps = by_step(results)
    assert "明文 HTTP" in steps["tls"].detail
    assert "OpenAPI 3.1.0：2 个路径" in steps["describe"].detail
    assert steps["authenticate"].detail == "dept_health: 签名认证通过"


def test_a_soap_department_is_described_by_its_wsdl(department: str) -> None:
    results = check(settings("medical", department), builder(True, "Ping ok"))
    assert "WSDL：4 个操作（Ping, QueryStatus, SubmitBatch, SubmitSupplement）" in by_step(results)["describe"].detail


def test_wrong_password_fails_at_authenticate_and_is_never_shown(department: str) -> None:
    results = check(settings("health", department),
                    builder(False, f"dept_health: 网关认证失败（HTTP 401）；请检查 secret（password）{SECRET}"))
    assert outcomes(results) == ["ok", "ok", "skipped", "ok", "failed"] and not passed(results)
    detail = by_step(results)["authenticate"].detail
    assert "网关认证失败" in detail and "password" in detail and SECRET not in detail


def test_a_config_error_while_building_the_connector_fails_authenticate(department: str) -> None:
    def build(s: DepartmentSettings) -> Any:
        raise ConfigError("connection dept_health: login (app id) and password (secret) are required")

    step = by_step(check(settings("health", department), build))["authenticate"]
    assert step.outcome is Outcome.FAILED and "login (app id)" in step.detail


def test_a_closed_port_fails_at_connect_and_skips_the_rest() -> None:
    results = check(settings("health", f"http://127.0.0.1:{free_port()}"), builder(True, "unused"))
    assert outcomes(results) == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert "连接被拒绝" in results[1].detail and "connection refused" in results[1].detail
    assert "前一步失败" in results[2].detail


def test_an_unknown_host_fails_at_resolve() -> None:
    results = check(settings("health", "http://no-such-department.invalid:8080"), builder(True, "unused"))
    assert outcomes(results)[:2] == ["failed", "skipped"]
    assert "无法解析主机名 no-such-department.invalid" in results[0].detail and "host" in results[0].detail


def test_a_missing_description_names_the_http_status(department: str) -> None:
    s = settings("medical", department, wsdl=f"{department}/nowhere?wsdl")
    step = by_step(check(s, builder(True, "unused")))["describe"]
    assert step.outcome is Outcome.FAILED and "HTTP 404" in step.detail and "extra.wsdl" in step.detail


def test_a_page_that_is_not_the_description_is_named_as_such(department: str) -> None:
    s = settings("medical", department, wsdl=f"{department}/openapi.json")  # JSON where a WSDL belongs
    step = by_step(check(s, builder(True, "unused")))["describe"]
    assert step.outcome is Outcome.FAILED and "不是约定的服务描述" in step.detail


def test_an_unregistered_department_fails_at_config() -> None:
    results = check_department("no_such_department", env={})
    assert [r.step for r in results] == ["config", "resolve", "connect", "tls", "describe", "authenticate"]
    assert outcomes(results) == ["failed"] + ["skipped"] * 5
    assert "no_such_department" in results[0].detail


def test_a_missing_connection_names_the_variable_to_set() -> None:
    results = check_department("health", env={})
    assert results[0].outcome is Outcome.FAILED and "AIRFLOW_CONN_DEPT_HEALTH" in results[0].detail


def test_the_config_step_summarises_without_the_password(department: str) -> None:
    env = {"AIRFLOW_CONN_DEPT_HEALTH": connection_json(department, "hub", SECRET, rate_limit=5)}
    results = check_department("health", env=env, build=builder(True, "ok"))
    assert passed(results) and "限速 5 次/秒" in results[0].detail and "password 已设置" in results[0].detail
    assert all(SECRET not in json.dumps(r.as_dict(), ensure_ascii=False) for r in results)
