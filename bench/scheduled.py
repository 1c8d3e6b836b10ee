"""The exchange DAG under Airflow's own scheduler, every lianban DAG live: ``python -m bench.scheduled
[--records N]``.

``lianban up`` in a fresh home whose 前置库 it seeds with N synthetic approvals: Airflow's scheduler, DAG
processor, triggerer and API server (LocalExecutor on SQLite), the simulated departments (their status clock
running) and the hub's API; it unpauses the DAGs, so each starts its latest interval at once. Timed: the first
run of ``lianban_exchange``, from its start to its end as Airflow recorded them, its tasks as the scheduler ran
them (the three deliveries side by side, each in its department's pool) while the feedback DAG polls and
reports beside it, as in production. Counted from the ledger: every delivery the run staged accepted (a later
run, the next interval's, may have staged more meanwhile: said, not counted). Then ``lianban down``.

Prints the run's time and rate, each task's time, and, last,
``scheduled: <records/s> records/s, <seconds> s for <N> records``; exits 1 (each failure on a line of its own,
``FAILED: …``, before the last) if the run or a task failed, a record was not extracted or a staged delivery
was not accepted. Writes ``bench/results/scheduled-<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.dag_run import DAG, STAGE, deliveries_by_state, undone
from bench.kit import ROOT, cli, own_env, save

if TYPE_CHECKING:
    from lianban.app.airflow_api import AirflowApi


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return float("nan")
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def _first_run(api: AirflowApi, timeout: float) -> str:
    """The id of the exchange DAG's first run (the one unpausing started), once there is one."""
    from lianban.app.processes import poll_until

    def runs() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = api.call("GET", f"/dags/{DAG}/dagRuns", params={"order_by": "id"})["dag_runs"]
        return found

    found = poll_until(runs, bool, timeout, interval=1.0)
    if not found:
        raise RuntimeError(f"no run of {DAG} within {timeout:.0f} s of `lianban up`")
    return str(found[0]["dag_run_id"])


def _returned(api: AirflowApi, run_id: str) -> dict[str, Any]:
    """What the run's staging task returned (its counts), or nothing when it returned nothing (it failed)."""
    import requests

    try:
        said = api.call("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{STAGE}/xcomEntries/return_value")
    except requests.HTTPError:
        return {}
    value = said.get("value")
    counts: dict[str, Any] = value if isinstance(value, dict) else json.loads(value or "{}")
    return counts


def measure(records: int, home: Path, timeout: float = 1800.0) -> dict[str, Any]:
    """Up in a fresh `home` with `records` seeded, the exchange DAG's first run waited for and counted, down."""
    from lianban.app.airflow_api import AirflowApi
    from lianban.app.config import Paths

    shutil.rmtree(home, ignore_errors=True)
    env = own_env(home)
    up = cli(env, "up", "--port", "0", "--records", str(records))
    try:
        password = json.loads(Path(up["password_file"]).read_text())[up["user"]]
        api = AirflowApi(up["url"], up["user"], password)
        run_id = _first_run(api, 300.0)
        state = api.wait_run(DAG, run_id, timeout)
        run = api.run(DAG, run_id)
        tasks = api.task_instances(DAG, run_id)
        staged = _returned(api, run_id)
    finally:
        cli(env, "down")
    return {"records": records, "run_id": run_id, "state": state,
            "seconds": _seconds(run.get("start_date"), run.get("end_date")),
            "tasks": {t["task_id"]: {"state": t["state"], "seconds": _seconds(t.get("start_date"), t.get("end_date")),
                                     "started_after_s": _seconds(run.get("start_date"), t.get("start_date"))}
                      for t in tasks},
            "staged": {k: staged.get(k) for k in ("extracted", "staged", "quarantined", "deliveries")},
            **_counted(Paths.from_env(env).ledger_url)}


def _counted(ledger_url: str) -> dict[str, Any]:
    """The first run's deliveries by state (those its staging wrote), and how many the runs after it staged: a run
    that outlasts a five-minute boundary is followed at once by the next interval's, which stages what the
    simulated applicants submitted meanwhile and may still be delivering when the bench stops everything."""
    from sqlalchemy import select

    from lianban.ledger.db import session_factory
    from lianban.ledger.models import StageRun

    with session_factory(ledger_url)() as session:
        first = session.scalar(select(StageRun.finished_at).order_by(StageRun.id).limit(1))
    ours = deliveries_by_state(ledger_url, first)
    return {"deliveries": ours, "later_deliveries": sum(deliveries_by_state(ledger_url).values()) - sum(ours.values())}


def failures(result: dict[str, Any]) -> list[str]:
    """What went wrong in the run: nothing when it and every task succeeded and every staged delivery was
    accepted."""
    failed = [] if result["state"] == "success" else [f"the run ended {result['state']}"]
    failed += [f"task {task} ended {t['state']}" for task, t in result["tasks"].items() if t["state"] != "success"]
    return failed + undone(result["records"], result["staged"], result["deliveries"])


def report(result: dict[str, Any]) -> list[str]:
    """The lines printed, the last one ``scheduled: …``."""
    records, seconds = result["records"], result["seconds"]
    lines = [f"{records:,} records, run {result['run_id']}: {result['state']}; {result['staged']['deliveries']:,} "
             f"deliveries staged, {result['deliveries'].get('accepted', 0):,} accepted"]
    lines += [f"  {task:<24} {t['seconds']:>7} s  (started {t['started_after_s']} s into the run)"
              for task, t in result["tasks"].items()]
    if later := result.get("later_deliveries"):
        lines.append(f"  ({later:,} deliveries staged by the runs after it: not this run's, not counted)")
    lines += [f"FAILED: {failure}" for failure in failures(result)]
    lines.append(f"scheduled: {records / seconds:,.0f} records/s, {seconds} s for {records:,} records")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduled", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench" / "scheduled")
    args = parser.parse_args(argv)
    result = measure(args.records, args.home / f"n{args.records}")
    save(ROOT / "bench" / "results" / f"scheduled-{args.records}.json", result)
    print("\n".join(report(result)))
    if failures(result):
        raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
