"""A real ``airflow api-server`` for tests: its own AIRFLOW_HOME and SQLite metadata database (``airflow db
migrate``), a DAG folder of the test's choosing, the repository's ``plugins/`` as its plugins folder, Airflow's
default SimpleAuthManager with one configured user (role viewer) and password, bound to 127.0.0.1 on a free port.
Always stopped, its whole process group.

    with api_server(tmp_path, {"LIANBAN_HOME": ...}) as airflow:
        requests.post(f"{airflow.url}/auth/token", json={"username": airflow.username, ...})
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from lianban.app.up import free_port

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = Path(sys.executable).with_name("airflow")
START_TIMEOUT = 180.0
USERNAME, ROLE = "operator", "viewer"


@dataclass(frozen=True)
class ApiServer:
    url: str
    username: str
    password: str
    home: Path  # AIRFLOW_HOME (its log: api-server.log)
    env: dict[str, str]


def airflow_env(home: Path, port: int, extra: Mapping[str, str], dags: Path) -> dict[str, str]:
    """The environment of every Airflow command of the test (and lianban's settings in `extra`)."""
    return {**os.environ, **extra,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:{ROLE}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs")}


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited ({process.returncode}); see {log}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=10).ok:
                return
        except requests.RequestException:  # not listening yet, or still starting up
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {START_TIMEOUT:.0f} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def api_server(home: Path, extra_env: Mapping[str, str] | None = None, dags: Path | None = None,
               first: Sequence[Sequence[str]] = ()) -> Iterator[ApiServer]:
    """Migrate a fresh metadata database under `home`, run the Airflow commands `first` (e.g. ``["dags",
    "reserialize"]`` for the DAG files in `dags`), then run the api-server until the block ends."""
    home.mkdir(parents=True, exist_ok=True)
    port, password = free_port(), secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({USERNAME: password}))
    env = airflow_env(home, port, extra_env or {}, dags or home / "dags")
    for command in (["db", "migrate"], *first):
        subprocess.run([str(AIRFLOW), *command], env=env, check=True, capture_output=True, timeout=600)
    log = home / "api-server.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", "1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url, process, log)
        yield ApiServer(url, USERNAME, password, home, env)
    finally:
        _stop(process)
