"""One real deployment for the production tests: `lianban up --executor celery --workers 2` on this machine.

PostgreSQL holds Airflow's metadata and the ledger (two databases of their own on the server
``scripts/ensure-postgres.sh`` starts, ``LIANBAN_TEST_PG_URL``); Redis (``scripts/ensure-redis.sh``,
``LIANBAN_TEST_REDIS_URL``) is the Celery broker. Either is started here when the variable is not set; the tests
are skipped, saying which, only when one cannot be started at all. Everything is reached as an operator would:
the CLI, Airflow's REST API with a login, the simulators' own counters and fault knobs, the ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lianban.app.airflow_api import AirflowApi
from lianban.app.config import Paths
from lianban.app.processes import start_time
from lianban.app.up import read_state

REPO = Path(__file__).resolve().parents[2]
RUN = os.getpid()  # another test session on this machine has its own databases and broker database
AIRFLOW_DB, LEDGER_DB = f"lianban_airflow_test_{RUN}", f"lianban_ledger_celery_test_{RUN}"
RECORDS = 12


def _service_url(variable: str, script: str) -> str:
    url = os.environ.get(variable) or subprocess.run([str(REPO / "scripts" / script)], capture_output=True,
                                                     text=True, check=False).stdout.strip()
    if not url:
        pytest.skip(f"{variable} not set and scripts/{script} could not start one here")
    return url


def on_server(server_url: str, sql: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def fresh_database(server_url: str, name: str) -> str:
    """A new, empty database `name` on the server of `server_url`; its URL."""
    on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    on_server(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def broker_database(redis_url: str) -> str:
    """`redis_url` on a Redis database no other session holds (1–15, taken with SET NX for an hour), emptied."""
    import redis

    for number in range(1, 16):
        url = urlsplit(redis_url)._replace(path=f"/{number}").geturl()
        client = redis.Redis.from_url(url)
        if client.set("lianban-test-session", RUN, nx=True, ex=3600):
            client.flushdb()  # no task left over from an earlier run
            client.set("lianban-test-session", RUN, ex=3600)
            return url
    pytest.skip("every Redis database (1–15) is held by another test session")


@dataclass
class Deployment:
    """The running deployment, seen from outside."""

    home: Path
    info: dict[str, Any]
    env: dict[str, str]
    api: AirflowApi

    @property
    def paths(self) -> Paths:
        return Paths.from_env(self.env)

    def sim(self, name: str) -> str:
        return str(self.info["simulators"][name])

    def set_faults(self, department: str, **faults: Any) -> None:
        requests.post(f"{self.sim(department)}/_sim/faults", json=faults, timeout=10).raise_for_status()

    def stats(self, name: str) -> dict[str, Any]:
        return dict(requests.get(f"{self.sim(name)}/_sim/stats", timeout=10).json())

    def lianban(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lianban.app.cli", *args], env=self.env, cwd=REPO, text=True,
                              capture_output=True, timeout=600, check=False)

    def workers_running(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> list[str]:
        """The Celery workers whose log says they executed that attempt (``Executing workload … log_path``)."""
        needle = f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"
        logs = self.home / "logs" / "up"
        return sorted(p.stem for p in logs.glob("worker-*.log") if needle in p.read_text(errors="replace"))

    def kill_worker(self, name: str) -> None:
        """SIGKILL a Celery worker and everything it runs: a machine gone, mid-task. Its process group is not all of
        it: Airflow puts each task runner in a group of its own, and a runner left alive would go on sending and
        settling as an orphan (lianban.pipeline.deliver._Settling.of keeps what it could undo)."""
        state = read_state(self.paths)
        assert state is not None
        worker = next(p for p in state.processes if p.name == name)
        tree = psutil.Process(worker.pid).children(recursive=True)
        os.killpg(worker.pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()

    def ledger_rows(self, sql: str) -> list[Any]:
        engine = create_engine(self.env["LIANBAN_LEDGER_URL"])
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            rows = list(result) if result.returns_rows else []
        engine.dispose()
        return rows


def lianban_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW"))}
    return {**env, "LIANBAN_HOME": str(home), **extra}


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`lianban up --executor celery --workers 2` with PostgreSQL and Redis; `lianban down` (and a sweep of
    anything left with this home) at the end."""
    pg = _service_url("LIANBAN_TEST_PG_URL", "ensure-postgres.sh")
    redis_url = broker_database(_service_url("LIANBAN_TEST_REDIS_URL", "ensure-redis.sh"))
    home = tmp_path_factory.mktemp("production") / "home"
    env = lianban_env(home, LIANBAN_AIRFLOW_DB_URL=fresh_database(pg, AIRFLOW_DB), LIANBAN_BROKER_URL=redis_url,
                      LIANBAN_LEDGER_URL=fresh_database(pg, LEDGER_DB))
    started = subprocess.run([sys.executable, "-m", "lianban.app.cli", "up", "--executor", "celery", "--workers",
                              "2", "--port", "0", "--records", str(RECORDS), "--json"], env=env, cwd=REPO,
                             text=True, capture_output=True, timeout=600, check=False)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        info = json.loads(started.stdout)
        password = json.loads(Path(info["password_file"]).read_text())[info["user"]]
        api = AirflowApi(info["url"], info["user"], password)
        for quiet in ("lianban_operations", "lianban_daily"):  # not under test here: two cores for the rest
            api.call("PATCH", f"/dags/{quiet}", json={"is_paused": True})
        yield Deployment(home, info, env, api)
    finally:
        subprocess.run([sys.executable, "-m", "lianban.app.cli", "down"], env=env, cwd=REPO, timeout=120,
                       capture_output=True, check=False)
        sweep(home)
        for name in (AIRFLOW_DB, LEDGER_DB):
            on_server(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def sweep(home: Path) -> None:
    """KILL any process still naming `home` in its environment (none should be: `down` stops them)."""
    for proc in Path("/proc").iterdir():
        if not re.fullmatch(r"\d+", proc.name) or start_time(int(proc.name)) is None:
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"LIANBAN_HOME={home}".encode() in environ:
            os.kill(int(proc.name), signal.SIGKILL)
