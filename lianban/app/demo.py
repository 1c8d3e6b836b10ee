"""`lianban demo`: the whole exchange from one command on the embedded default (SQLite, local simulators).

Fresh demo home → key rings, ledger, HRSS 前置库 seeded with synthetic approvals → simulators started as a
child process → both DAGs run through Airflow itself (``airflow dags test``) round after round until every
chosen item of every valid case is final and reported, or the round limit → summary → everything stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from lianban.app.config import Paths, conn_env_name, connection_json
from lianban.app.setup import init, require_simulators, seed
from lianban.domain.catalog import load_catalog
from lianban.errors import FatalError
from lianban.ledger.progress import Progress, events_by_status, extracted, progress

REPO = Path(__file__).resolve().parents[2]  # the source checkout (dags/, connectors/)
OPERATIONS = "lianban_operations"  # run once at the end: connection checks, liaison alerts
DAGS = ("lianban_exchange", "lianban_feedback")
SINK = "wanshi_tong"  # 皖事通办 receives every status event
SMS = "sms"  # the SMS gateway liaison alerts go through
SIM_START_TIMEOUT = 60


def departments() -> tuple[str, ...]:
    """The departments the demo delivers to: every department owning a pushed item in the catalog."""
    return tuple(load_catalog().pushed_departments())


def endpoints() -> tuple[str, ...]:
    """Every simulated endpoint the hub connects to: the departments, then 皖事通办, then the SMS gateway."""
    return (*departments(), SINK, SMS)


@dataclass(frozen=True)
class DemoOptions:
    records: int = 200
    home: Path = REPO / "var" / "demo"
    max_rounds: int = 25
    step_seconds: float = 3.0
    #: fault drill (演练): these departments are down for the whole run (their connection points at a port
    #: nobody listens on); the others must finish and report, and the demo ends when they have
    down: tuple[str, ...] = ()


def demo_env(home: Path, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Environment for every process the demo starts (ours and Airflow's): `base` (the caller's environment)
    with the demo's own settings over it."""
    airflow_home = home / "airflow"
    return {
        **base,
        "LIANBAN_HOME": str(home),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs" / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "LIANBAN_TASK_RETRIES": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")])),
    }


@contextmanager
def simulators(home: Path, env: dict[str, str], step_seconds: float) -> Iterator[dict[str, str]]:
    """Run `lianban simulate` as a child; yield the URLs it prints first; always stop it."""
    log = open(home / "logs" / "simulators.log", "ab")  # noqa: SIM115
    cmd = [sys.executable, "-m", "lianban.app.cli", "simulate", "--step", str(step_seconds)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line:
            raise FatalError(f"模拟部门服务未能启动 (simulators did not start), see {home / 'logs' / 'simulators.log'}")
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def connections(urls: dict[str, str], home: Path) -> dict[str, str]:
    """``AIRFLOW_CONN_DEPT_*`` for each endpoint (SOAP ones with their ``<name>_wsdl`` URL), credentials
    from the simulators' file."""
    from simulators.runner import load_credentials

    creds = load_credentials(home)
    env = {}
    for dept in endpoints():
        extra = {"wsdl": urls[f"{dept}_wsdl"]} if f"{dept}_wsdl" in urls else {}
        env[conn_env_name(dept)] = connection_json(urls[dept], creds[dept]["login"], creds[dept]["password"],
                                                   read_timeout=30, **extra)
    return env


def unreachable(down: tuple[str, ...], home: Path, urls: dict[str, str]) -> dict[str, str]:
    """Connections for departments `down`: their real credentials, at a local port nobody listens on."""
    unknown = sorted(set(down) - set(departments()))
    if unknown:
        raise FatalError(f"--down 只能是接收推送的部门：{'、'.join(departments())} (unknown department {unknown})")
    with socket.socket() as probe:  # a port that was free a moment ago: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    return connections({**urls, **{d: dead for d in down}, **{f"{d}_wsdl": f"{dead}/wsdl" for d in down
                                                              if f"{d}_wsdl" in urls}}, home)


def airflow(env: dict[str, str], log_dir: Path, *args: str) -> None:
    """Run one Airflow CLI command; its output goes to a log file, a failure names that file."""
    binary = Path(sys.executable).parent / "airflow"
    log_path = log_dir / f"airflow-{'-'.join(args[:3])}.log"
    with open(log_path, "ab") as log:
        code = subprocess.call([str(binary), *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        raise FatalError(f"airflow {' '.join(args)} 失败 (exit {code}); see {log_path}")


def _sim_stats(urls: dict[str, str]) -> dict[str, Any]:
    stats = {}
    for name in (*departments(), SINK):
        stats[name] = requests.get(f"{urls[name]}/_sim/stats", timeout=10).json()
    return stats


def _reconciled(ledger_url: str) -> dict[str, Any]:
    """The reconciliation report (lianban report) over every day of the run: its totals, and whether they add up."""
    from lianban.ledger.reconciliation import reconcile

    report = reconcile(ledger_url, date.today() + timedelta(days=1), date(2000, 1, 1))
    return {"totals": report.totals, "adds_up": not report.problems, "problems": report.problems}


def _summary(opts: DemoOptions, paths: Paths, rounds: int, final: Progress, stats: dict[str, Any],
             seconds: float) -> dict[str, Any]:
    return {
        "records": opts.records,
        "rounds": rounds,
        "complete": final.done_but(opts.down),
        "down": list(opts.down),
        "seconds": round(seconds, 1),
        "extracted": extracted(paths.ledger_url),
        "quarantined": final.ever_quarantined,
        "corrected": final.corrected,  # held rows HRSS corrected at the source, resumed since
        "staged_cases": final.cases,
        "case_items": final.case_items,
        "delivered": {d: final.delivered.get(d, 0) for d in departments()},
        "department_received": {d: {k: stats[d][k] for k in ("unique", "duplicates", "rejected")}
                                for d in departments()},
        "reported_to_wanshi_tong": final.reported_events,
        "wanshi_tong": stats[SINK],
        "status_counts": final.status_counts,
        "events_by_status": events_by_status(paths.ledger_url),
        "illegal_transitions": final.illegal_transitions,
        "overdue_items": final.overdue_items,
        "open_items": final.open_items,
        "dead_letters": final.dead_letters,
        "supplements": final.supplements,
        "reconciliation": _reconciled(paths.ledger_url),
        "operations": stats["operations"],
        "paths": {"hrss_frontend_db": paths.frontend_url.removeprefix("sqlite:///"),
                  "ledger_db": paths.ledger_url.removeprefix("sqlite:///"), "logs": str(paths.logs),
                  "airflow_home": str(paths.home / "airflow")},
    }


MARKER = ".lianban-demo"


def _fresh_home(home: Path) -> None:
    """Wipe a previous demo's folder; refuse to wipe a folder the demo did not make."""
    ours = home.resolve().is_relative_to(REPO / "var")  # the repository's own scratch folder
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists() and not ours:
        raise FatalError(f"拒绝清空非演示目录 {home}（缺少 {MARKER} 标记）(refusing to wipe a folder the demo "
                         f"did not create; choose an empty --home)")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / MARKER).write_text("created by `lianban demo`; wiped at the start of every demo run\n")


def run_demo(opts: DemoOptions, on_round: Any = None) -> dict[str, Any]:
    """Run the whole demo; returns the summary dict (see module docstring)."""
    started = time.monotonic()
    require_simulators()
    _fresh_home(opts.home)
    env = demo_env(opts.home)
    paths = Paths.from_env(env)
    init(paths, with_frontend=True)
    seed(paths, opts.records)
    with simulators(opts.home, env, opts.step_seconds) as urls:
        env.update(connections(urls, opts.home))
        env.update(unreachable(opts.down, opts.home, urls))
        airflow(env, paths.logs, "db", "migrate")
        rounds, current = 0, progress(paths.ledger_url)
        while rounds < opts.max_rounds and not current.done_but(opts.down):
            rounds += 1
            for dag_id in DAGS:
                airflow(env, paths.logs, "dags", "test", dag_id)
            current = progress(paths.ledger_url)
            if on_round:
                on_round(rounds, current)
        airflow(env, paths.logs, "dags", "test", OPERATIONS)  # connection checks, then the liaison alerts
        stats = {**_sim_stats(urls), "operations": _operations(paths.ledger_url, urls[SMS])}
    return _summary(opts, paths, rounds, current, stats, time.monotonic() - started)


def _operations(ledger_url: str, sms_url: str) -> dict[str, Any]:
    """What the operations DAG found: each party's last connection check, the incidents, the alerts sent."""
    from sqlalchemy import select

    from lianban.ledger import health
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Incident

    with session_factory(ledger_url)() as session:
        checks = {party: check.ok for party, check in health.latest(session).items()}
        incidents = sorted({f"{i.kind}:{i.party}" for i in session.scalars(select(Incident))})
    sent = requests.get(f"{sms_url}/_sim/outbox", timeout=10).json()["messages"]
    return {"health_checks": checks, "incidents": incidents, "alerts_sent_by_sms": len(sent)}
