"""The README's callback walk-through, run by bash exactly as typed (the port apart): `lianban simulate --push
housing_fund --hub-url URL &`, a wait for its connections file, the connections sourced from
``var/lianban/simulators/connections.env``, `lianban serve --port N &`, then stage and deliver: housing fund's status
changes reach the ledger through the hub's callback endpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from sqlalchemy import func, select

from lianban.app.up import free_port
from lianban.ledger.db import session_factory
from lianban.ledger.models import Evidence

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # a loaded CI machine: one CLI step (imports, GX) can take a minute


def walkthrough() -> str:
    """The README's bash block after "Try it with the simulators"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```bash\n", readme.index("Try it with the simulators")) + len("```bash\n")
    return readme[start:readme.index("```", start)]


def _acks(ledger: str) -> int:
    with session_factory(ledger)() as session:
        return int(session.scalar(select(func.count()).select_from(Evidence).where(Evidence.kind == "status-ack"))
                   or 0)


def test_the_readme_callback_walkthrough_runs_as_typed(tmp_path: Path) -> None:
    port = free_port()
    script = walkthrough().replace("8080", str(port))
    assert "lianban serve" in script and "connections.env" in script
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))},
           "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    stale = tmp_path / "var" / "lianban" / "simulators" / "connections.env"  # a run before's: its ports are gone
    stale.parent.mkdir(parents=True)
    stale.write_text("export AIRFLOW_CONN_DEPT_HOUSING_FUND='http://127.0.0.1:9'\n")
    out = tmp_path / "walkthrough.log"
    with out.open("w") as log:  # a file, not a pipe: the servers it starts keep theirs open
        shell = subprocess.Popen(["bash", "-e", "-c", script], cwd=tmp_path, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert shell.wait(timeout=TIMEOUT) == 0, out.read_text()
        env_file = tmp_path / "var" / "lianban" / "simulators" / "connections.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the departments' secrets
        assert "BZ" in out.read_text()  # `lianban case list` listed the cases
        ledger = f"sqlite:///{tmp_path / 'var' / 'lianban' / 'ledger.db'}"
        deadline = time.monotonic() + 90
        while _acks(ledger) == 0 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _acks(ledger) > 0, "housing fund's pushes never reached the ledger"
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # the servers it left in the background
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, sig)
            time.sleep(1)
