"""`lianban connectors check` against real servers: every simulated department passes every step, and a wrong
password, an unreachable host and an untrusted certificate each fail at their own step with their own reason.
Also: the Airflow adapter (dags/airflow_connections.py) resolves the same connection through Airflow."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from connectors.health.statuses import CODES
from lianban.app.cli import app
from lianban.app.config import Paths, conn_env_name, connection_json, department_settings, set_connection_resolver
from lianban.app.demo import REPO
from lianban.app.up import free_port
from simulators import pki
from simulators.kit import engine_for
from simulators.rest_department import create_app
from simulators.runner import response_signer

DEPARTMENTS = ("medical", "health", "housing_fund", "wanshi_tong")
WRONG = "definitely-not-the-secret-42"
STEPS = ["config", "resolve", "connect", "tls", "describe", "authenticate"]


def run_check(department: str, *flags: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["connectors", "check", department, *flags])
    return result.exit_code, result.output


def check_json(department: str) -> tuple[int, dict[str, Any]]:
    code, output = run_check(department, "--json")
    return code, json.loads(output)


def statuses(report: dict[str, Any]) -> list[str]:
    return [s["status"] for s in report["steps"]]


def failed_step(report: dict[str, Any]) -> dict[str, Any]:
    [step] = [s for s in report["steps"] if s["status"] == "failed"]
    return step


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as a department's test gateway might have."""
    return pki.self_signed(folder, "dept-gateway.test", prefix="gateway-")


@contextmanager
def https_health_department(folder: Path, keys_dir: Path) -> Iterator[tuple[str, Path]]:
    """The health REST simulator behind uvicorn's TLS with a self-signed certificate: (base URL, cert).

    It holds the health keys of `keys_dir` (the installation's, so `load_connector` verifies its answers)."""
    cert, key = self_signed(folder)
    engine = engine_for(keys_dir, "health", folder / "health.db", 0)
    app = response_signer(create_app(engine, "hub", "s3cret", CODES), keys_dir, "health")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ssl_certfile=str(cert),
                            ssl_keyfile=str(key))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "TLS simulator failed to start"
        threading.Event().wait(0.02)
    try:
        yield f"https://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", cert
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_every_simulated_department_passes_every_step(simulation: object) -> None:
    for department in DEPARTMENTS:
        code, report = check_json(department)
        assert code == 0 and report["ok"] is True, report
        assert [s["step"] for s in report["steps"]] == STEPS
        assert statuses(report) == ["ok", "ok", "ok", "skipped", "ok", "ok"]  # plain http: no TLS step
    text_code, text = run_check("medical")
    assert text_code == 0 and "全部通过" in text and "WSDL" in text


@pytest.mark.parametrize("department", ["medical", "health", "wanshi_tong"])
def test_a_wrong_password_fails_at_authenticate(simulation: Any, monkeypatch: pytest.MonkeyPatch,
                                                department: str) -> None:
    extra = {"wsdl": simulation.urls["medical_wsdl"]} if department == "medical" else {}
    monkeypatch.setenv(conn_env_name(department), connection_json(
        simulation.urls[department], f"lianban-{department}", WRONG, **extra))
    code, report = check_json(department)
    step = failed_step(report)
    assert code == 1 and step["step"] == "authenticate"
    assert statuses(report)[:5] == ["ok", "ok", "ok", "skipped", "ok"]  # the host is fine
    assert "password" in step["detail"]
    _, text = run_check(department)
    assert WRONG not in text and WRONG not in json.dumps(report)


def test_an_unreachable_host_fails_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(conn_env_name("health"), connection_json(f"http://127.0.0.1:{free_port()}", "a", WRONG))
    code, report = check_json("health")
    step = failed_step(report)
    assert code == 1 and step["step"] == "connect" and "连接被拒绝" in step["detail"]
    assert statuses(report) == ["ok", "ok", "failed", "skipped", "skipped", "skipped"]


def test_an_untrusted_certificate_fails_at_tls_and_a_ca_bundle_fixes_it(
        tmp_path: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    with https_health_department(tmp_path, paths.keys_dir) as (url, cert):
        monkeypatch.setenv(conn_env_name("health"), connection_json(url, "hub", "s3cret"))
        code, report = check_json("health")
        step = failed_step(report)
        assert code == 1 and step["step"] == "tls"
        assert "证书不受信任" in step["detail"] and "自签名" in step["detail"] and "ca_bundle" in step["detail"]
        assert statuses(report)[4:] == ["skipped", "skipped"]

        monkeypatch.setenv(conn_env_name("health"), connection_json(url, "hub", "s3cret", ca_bundle=str(cert)))
        code, report = check_json("health")
        assert code == 0 and statuses(report) == ["ok"] * 6, report
        assert "dept-gateway.test" in report["steps"][3]["detail"]


def test_the_three_failures_give_three_different_reasons(simulation: Any, tmp_path: Path, paths: Paths,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = {}
    monkeypatch.setenv(conn_env_name("health"), connection_json(simulation.urls["health"], "lianban-health", WRONG))
    reasons["wrong password"] = failed_step(check_json("health")[1])
    monkeypatch.setenv(conn_env_name("health"), connection_json(f"http://127.0.0.1:{free_port()}", "a", WRONG))
    reasons["unreachable host"] = failed_step(check_json("health")[1])
    with https_health_department(tmp_path, paths.keys_dir) as (url, _):
        monkeypatch.setenv(conn_env_name("health"), connection_json(url, "hub", "s3cret"))
        reasons["untrusted certificate"] = failed_step(check_json("health")[1])
    assert [r["step"] for r in reasons.values()] == ["authenticate", "connect", "tls"]
    assert len({r["detail"] for r in reasons.values()}) == 3


def test_the_airflow_adapter_resolves_the_same_connection(simulation: object) -> None:
    path = REPO / "dags" / "airflow_connections.py"
    spec = importlib.util.spec_from_file_location("airflow_connections", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)  # registers itself as lianban's connection resolver
        for department in DEPARTMENTS:
            assert department_settings(department) == department_settings(department, env=dict(os.environ))
    finally:
        set_connection_resolver(None)


def test_collect_goes_on_when_one_department_fails(tmp_path: Path) -> None:
    """`lianban run collect` with one department's connection broken: the others are collected, the broken one
    says why, and the exit code says something failed."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    env["LIANBAN_HOME"] = str(tmp_path / "home")
    cli = [sys.executable, "-m", "lianban.app.cli"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([*cli, "seed", "--records", "3"], env=env, check=True, capture_output=True, timeout=120)
    env["AIRFLOW_CONN_DEPT_HEALTH"] = json.dumps({"host": "127.0.0.1", "port": 9, "login": "a", "password": "b"})
    env["AIRFLOW_CONN_DEPT_HOUSING_FUND"] = json.dumps({"host": "127.0.0.1", "port": 9, "login": "a",
                                                        "password": "b", "extra": {"connect_timeout": 1}})
    done = subprocess.run([*cli, "run", "collect", "--json"], env=env, capture_output=True, text=True, timeout=120)
    results = json.loads(done.stdout)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error" not in results["hrss"] and "error" not in results["health"]  # nothing to poll: fine
    assert "dept_medical" in results["medical"]["error"]  # no connection configured: said, not raised


def test_supplements_go_on_when_one_department_fails(tmp_path: Path) -> None:
    """`lianban run supplements` with one department without a connection: the window's submissions are taken,
    the other departments run, the broken one says why, and the exit code says something failed."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    env["LIANBAN_HOME"] = str(tmp_path / "home")
    cli = [sys.executable, "-m", "lianban.app.cli"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([*cli, "seed", "--records", "3"], env=env, check=True, capture_output=True, timeout=120)
    for department in ("health", "housing_fund"):
        env[f"AIRFLOW_CONN_DEPT_{department.upper()}"] = json.dumps({"host": "127.0.0.1", "port": 9, "login": "a",
                                                                      "password": "b"})
    done = subprocess.run([*cli, "run", "supplements", "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    results = json.loads(done.stdout)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert results["hrss"]["read"] == 0 and results["health"]["sent"] == 0  # nothing submitted yet: fine
    assert "dept_medical" in results["medical"]["error"]  # no connection configured: said, not raised
