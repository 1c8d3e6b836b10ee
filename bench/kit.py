"""What the benches share: a fresh lianban home of their own (none of the caller's settings), a 前置库 seeded with
synthetic people, and the simulators' connections and child processes."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261202  # the generator's seed: every bench seeds the same synthetic people, run after run
SEED_CHUNK = 5000
CLI = (sys.executable, "-m", "lianban.app.cli")


def save(path: Path, result: Any) -> Path:
    """`result` written to `path` as indented JSON (UTF-8, Chinese as it is), its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def own_env(home: Path, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`base` without its lianban settings (``LIANBAN_*``: ledger, keys, 前置库) or department connections
    (``AIRFLOW_CONN_*``), with ``LIANBAN_HOME`` set to `home`: a bench never measures, or writes to, the
    caller's own setup."""
    env = {k: v for k, v in base.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    return {**env, "LIANBAN_HOME": str(home)}


def fresh_home(home: Path) -> dict[str, str]:
    """`home` wiped and initialised (keys, ledger, an empty 前置库); its :func:`own_env`."""
    from lianban.app.config import Paths
    from lianban.app.setup import init

    shutil.rmtree(home, ignore_errors=True)
    env = own_env(home)
    init(Paths.from_env(env), with_frontend=True)
    return env


def people(count: int) -> Iterator[dict[str, Any]]:
    """`count` synthetic approvals as the generator makes them (some invalid, a few people twice)."""
    from simulators.people import generate

    return generate(count, seed=SEED)


def seed(frontend_url: str, rows: Iterable[dict[str, Any]]) -> int:
    """`rows` written into the 前置库 at `frontend_url`, in chunks; how many."""
    from connectors.hrss.frontend import FrontendDB

    db, rows, written = FrontendDB(frontend_url), iter(rows), 0
    while chunk := list(islice(rows, SEED_CHUNK)):
        db.insert_applications(chunk)
        written += len(chunk)
    return written


def sourced(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines of a shell file (the simulators' ``connections.env``)."""
    pairs = (shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in path.read_text().splitlines())
    return dict(pairs)


def start(args: list[str], env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen[str],
                                                                                  dict[str, Any]]:
    """`args` started in a child process that prints one JSON line when ready (its URLs), its stderr appended to
    `log` (or dropped); the child and what it said. A child that ends without saying it is an error naming the
    command and the log."""
    with open(log or os.devnull, "ab") as err:  # the child keeps its own copy of the file
        proc = subprocess.Popen(args, env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{shlex.join(args[1:])} did not start (exit {proc.wait()})"
                           + (f", see {log}" if log else ""))
    said: dict[str, Any] = json.loads(line)
    return proc, said


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> None:
    """`proc` asked to end, then killed if it has not within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def simulate_args(env: Mapping[str, str], step: float = 86400.0, with_hrss: bool = False,
                  faults: str = "") -> tuple[list[str], Path]:
    """``lianban simulate`` for the home of `env` (status clock stepping every `step` seconds, by default stopped;
    HRSS's back office and the applicants too when `with_hrss`; `faults` as in :mod:`simulators.faults`), and
    the log its stderr goes to (the home's ``logs/simulators.log``)."""
    logs = Path(env["LIANBAN_HOME"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    args = [*CLI, "simulate", "--step", str(step),
            "--with-hrss" if with_hrss else "--no-with-hrss", *(["--faults", faults] if faults else [])]
    return args, logs / "simulators.log"


def start_simulators(env: dict[str, str], step: float = 86400.0, with_hrss: bool = False,
                     faults: str = "") -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``lianban simulate`` (:func:`simulate_args`) started in a child process, `env` given their connections;
    the child and the URLs it printed."""
    args, log = simulate_args(env, step, with_hrss, faults)
    proc, urls = start(args, env, log)
    env.update(sourced(Path(env["LIANBAN_HOME"]) / "simulators" / "connections.env"))
    return proc, urls


@contextmanager
def simulators(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The departments' simulators (:func:`start_simulators`' defaults) while the block runs; always stopped
    after."""
    proc, _ = start_simulators(env)
    try:
        yield proc
    finally:
        stop(proc)


def cli(env: dict[str, str], *args: str, check: bool = True) -> dict[str, Any]:
    """``lianban ARGS --json`` in its own process, to its end; its JSON answer (``{}`` when it printed none). A
    failure is an error with the end of what it printed (both streams), unless not `check`."""
    done = subprocess.run([*CLI, *args, "--json"], env=env, cwd=ROOT, text=True, capture_output=True, check=False)
    if check and done.returncode:
        said = f"{done.stdout[-500:]}{done.stderr[-800:]}".strip()
        raise RuntimeError(f"lianban {' '.join(args)} failed ({done.returncode}): {said}")
    out = done.stdout.strip()
    answer: dict[str, Any] = json.loads(out) if out.startswith("{") else {}
    return answer
