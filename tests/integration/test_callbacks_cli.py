"""The README's callback walk-through as typed: `lianban simulate --push housing_fund --hub-url URL`, its
connections sourced from ``<home>/simulators/connections.env``, `lianban serve --port N`, then stage and deliver:
housing fund's status changes reach the ledger through the hub's callback endpoint."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lianban.app.up import free_port
from lianban.ledger.db import session_factory
from lianban.ledger.models import Evidence

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # a loaded CI machine: one CLI step (imports, GX) can take a minute


def _sourced(path: Path) -> dict[str, str]:
    """What ``source path`` exports (``export NAME='value'`` lines)."""
    pairs = [shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in path.read_text().splitlines()]
    return dict(pairs)


class Shell:
    def __init__(self, home: Path) -> None:
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))},
                    "LIANBAN_HOME": str(home)}
        self.started: list[subprocess.Popen[str]] = []

    def run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "lianban.app.cli", *args], env=self.env, cwd=ROOT, text=True,
                              capture_output=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str) -> dict[str, str]:
        """Start a server command; its first stdout line (JSON)."""
        proc = subprocess.Popen([sys.executable, "-m", "lianban.app.cli", *args], env=self.env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.started.append(proc)
        assert proc.stdout is not None
        first: dict[str, str] = json.loads(proc.stdout.readline())
        return first


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    sh = Shell(tmp_path / "home")
    yield sh
    for proc in sh.started:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


def _acks(ledger: str) -> int:
    with session_factory(ledger)() as session:
        return int(session.scalar(select(func.count()).select_from(Evidence).where(Evidence.kind == "status-ack"))
                   or 0)


def test_a_department_in_callback_mode_reaches_the_ledger_through_lianban_serve(shell: Shell, tmp_path: Path) -> None:
    port = free_port()
    shell.run("init")
    shell.run("seed", "--records", "20")
    shell.start("simulate", "--step", "0.3", "--push", "housing_fund", "--hub-url", f"http://127.0.0.1:{port}")
    env_file = tmp_path / "home" / "simulators" / "connections.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the departments' secrets
    shell.env.update(_sourced(env_file))
    assert shell.start("serve", "--port", str(port)) == {"url": f"http://127.0.0.1:{port}"}
    shell.run("run", "stage")
    delivered = json.loads(shell.run("run", "deliver", "housing_fund", "--json"))
    assert delivered["accepted"] > 0, delivered
    ledger = f"sqlite:///{tmp_path / 'home' / 'ledger.db'}"
    deadline = time.monotonic() + 90
    while _acks(ledger) == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _acks(ledger) > 0, "housing fund's pushes never reached the ledger"
