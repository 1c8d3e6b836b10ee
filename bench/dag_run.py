"""The exchange DAG through Airflow at two sizes: ``python -m bench.dag_run --records 100 100000``.

For each size, a fresh 前置库 of N synthetic approvals and the department simulators (their status clock
stopped), then one ``airflow dags test lianban_exchange``: Airflow itself runs the DAG's tasks (staging, then
one delivery task per department; ``dags test`` runs them one after the other). Counted afterwards from
Airflow's own metadata database and the hub's ledger: the run's task instances, their states and durations,
the XCom values its tasks left (counts, never records: their number must not grow with N, their size only by
longer numbers), the deliveries accepted. Both sizes share one Airflow home, migrated once; each run is told
apart by its run id.

Prints one line per size and, last, ``task instances: <k> for <N1> records, <k> for <N2> records`` with
``(the same)`` or ``(DIFFERENT)``. Exits 1, each failure on a line of its own (``FAILED: …``) before the last,
if they differ, the number of XCom values differs, a task did not succeed, a record was not extracted, or a
staged delivery was not accepted. Writes ``bench/results/dag-run.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.kit import ROOT, fresh_home, own_env, people, save, seed, simulators
from lianban.app.config import Paths
from lianban.app.demo import airflow, demo_env

DAG = "lianban_exchange"
STAGE = "extract_validate_stage"


def _env(home: Path, airflow_home: Path) -> dict[str, str]:
    """What every process of one size runs with: the demo's settings for its own lianban home (none of the
    caller's ``LIANBAN_*`` or ``AIRFLOW_CONN_*``), and the shared Airflow home."""
    return {**demo_env(home, own_env(home)), "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}"}


def _metadata(airflow_home: Path, known_runs: set[str]) -> dict[str, Any]:
    """The newest run of the DAG not in `known_runs`: its id, task instances' states, XCom values, and what the
    staging task said (its return value: records extracted, deliveries staged)."""
    with closing(sqlite3.connect(airflow_home / "airflow.db")) as db:
        runs = [r for (r,) in db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id", (DAG,))]
        run_id = next(r for r in reversed(runs) if r not in known_runs)
        tasks = db.execute("SELECT task_id, state, duration FROM task_instance WHERE dag_id = ? AND run_id = ? "
                           "ORDER BY start_date", (DAG, run_id)).fetchall()
        xcom = db.execute("SELECT count(*), coalesce(sum(length(value)), 0) FROM xcom WHERE dag_id = ? "
                          "AND run_id = ?", (DAG, run_id)).fetchone()
        said = db.execute("SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
                          (DAG, run_id, STAGE, "return_value")).fetchone()
    staged = json.loads(said[0]) if said else {}
    return {"run_id": run_id, "task_instances": {task: state for task, state, _ in tasks},
            "task_seconds": {task: round(seconds or 0, 1) for task, _, seconds in tasks},
            "xcom_values": xcom[0], "xcom_bytes": xcom[1],
            "staged": {k: staged.get(k) for k in ("extracted", "staged", "quarantined", "deliveries")}}


def deliveries_by_state(ledger_url: str, staged_until: datetime | None = None) -> dict[str, int]:
    """Deliveries in the ledger by state; with `staged_until`, only those staged up to then."""
    from sqlalchemy import func, select

    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Delivery

    query = select(Delivery.state, func.count()).group_by(Delivery.state)
    if staged_until is not None:
        query = query.where(Delivery.created_at <= staged_until)
    with session_factory(ledger_url)() as session:
        rows = session.execute(query).all()
    return {state: count for state, count in rows}


def one_size(records: int, home: Path, airflow_home: Path, known_runs: set[str]) -> dict[str, Any]:
    """Seed `records`, run the DAG once through Airflow against the simulators, count what it left."""
    fresh_home(home)
    env = _env(home, airflow_home)
    paths = Paths.from_env(env)
    seed(paths.frontend_url, people(records))
    with simulators(env):
        started = time.perf_counter()
        airflow(env, paths.logs, "dags", "test", DAG)
        seconds = time.perf_counter() - started
    return {"records": records, "seconds": round(seconds, 1), **_metadata(airflow_home, known_runs),
            "deliveries": deliveries_by_state(paths.ledger_url)}


def run(sizes: list[int], home: Path) -> list[dict[str, Any]]:
    """Each of `sizes` in turn, in folders under `home` (wiped first), one Airflow home migrated once."""
    shutil.rmtree(home, ignore_errors=True)
    airflow_home = home / "airflow"
    (home / "logs").mkdir(parents=True)
    airflow(_env(home / "migrate", airflow_home), home / "logs", "db", "migrate")
    results: list[dict[str, Any]] = []
    for records in sizes:
        results.append(one_size(records, home / f"n{records}", airflow_home, {r["run_id"] for r in results}))
    return results


def verdict(results: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The last line (the task instances' counts), and what failed: nothing when every size ran the same
    tasks, all successful, left as many XCom values, extracted every record and had every staged delivery
    accepted."""
    counts = [len(r["task_instances"]) for r in results]
    same = len(set(counts)) == 1
    line = "task instances: " + ", ".join(f"{c} for {r['records']:,} records" for c, r in zip(counts, results,
                                                                                           strict=True))
    failed = [] if same else ["the task instances differ in number"]
    if len({r["xcom_values"] for r in results}) != 1:
        failed.append("the XCom values differ in number: " + ", ".join(str(r["xcom_values"]) for r in results))
    return f"{line} ({'the same' if same else 'DIFFERENT'})", failed + [f for r in results for f in _failed(r)]


def _failed(result: dict[str, Any]) -> list[str]:
    """What went wrong in one size's run."""
    size = f"{result['records']:,} records"
    failed = [f"task {task} ended {state}" for task, state in result["task_instances"].items() if state != "success"]
    return [f"{size}: {f}" for f in failed + undone(result["records"], result.get("staged", {}),
                                                    result["deliveries"])]


def undone(records: int, staged: dict[str, Any], deliveries: dict[str, int]) -> list[str]:
    """What a run left undone: records the staging task did not extract (`staged`: what it returned), staged
    deliveries the ledger does not hold accepted (`deliveries`: its count by state)."""
    failed = [] if staged.get("extracted") == records else [f"{staged.get('extracted')} of {records:,} extracted"]
    others = {state: count for state, count in deliveries.items() if state != "accepted"}
    if others or deliveries.get("accepted") != staged.get("deliveries"):
        failed.append(f"{deliveries.get('accepted', 0):,} of {staged.get('deliveries')} staged deliveries accepted"
                      + (f", others {others}" if others else ""))
    return failed


def describe(result: dict[str, Any]) -> str:
    states = sorted(set(result["task_instances"].values()))
    accepted = result["deliveries"].get("accepted", 0)
    others = {k: v for k, v in result["deliveries"].items() if k != "accepted"}
    return (f"{result['records']:>9,} records: {len(result['task_instances'])} task instances ({', '.join(states)}), "
            f"{result['xcom_values']} XCom values ({result['xcom_bytes']:,} bytes); {accepted:,} deliveries "
            f"accepted{f', others {others}' if others else ''}; airflow dags test {result['seconds']} s ("
            + ", ".join(f"{task} {seconds} s" for task, seconds in result.get("task_seconds", {}).items()) + ")")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dag_run", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench" / "dag-run")
    args = parser.parse_args(argv)
    results = run(args.records, args.home)
    line, failed = verdict(results)
    save(ROOT / "bench" / "results" / "dag-run.json", {"results": results, "verdict": line, "failed": failed})
    for result in results:
        print(describe(result))
    for failure in failed:
        print(f"FAILED: {failure}")
    print(line)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
