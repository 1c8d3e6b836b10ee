"""The real scheduler with the CeleryExecutor (issue 15 §3): two Celery workers, PostgreSQL metadata, Redis,
scheduler and dag-processor as separate processes (`lianban up --executor celery --workers 2`).

Both DAGs are triggered through Airflow's REST API with a login, as an external client would, and must
succeed against the simulators; then the ledger and the simulators' own counters must agree that every
delivery reached its department once and every status event reached 皖事通办 once. Then one Celery worker is
killed (SIGKILL to its process group) while it holds a delivery task to a slowed department: the task is
retried on the other worker, and nothing is lost or doubled. The dead try's rows stay claimed for the claim's
lease (ten minutes, :data:`lianban.ledger.outbox.LEASE`); the test moves that lease's end to now, as ten
minutes passing would, and the next run sends them: the department answers "duplicate" for what it had
already taken, so its count of distinct deliveries does not move.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import Deployment

from lianban.app.processes import poll_until

pytestmark = pytest.mark.airflow
DEPARTMENTS = ("medical", "health", "housing_fund")
RUN_TIMEOUT = 420.0
UTC_NOW = "(now() AT TIME ZONE 'UTC')"  # the ledger keeps naive UTC
SLOW = 40.0  # seconds a slowed department waits before it answers


def run_to_success(deployment: Deployment, dag_id: str) -> str:
    run_id = deployment.api.trigger(dag_id)
    state = deployment.api.wait_run(dag_id, run_id, RUN_TIMEOUT)
    assert state == "success", (dag_id, run_id, state, deployment.api.task_instances(dag_id, run_id))
    return run_id


def deliver_until_settled(deployment: Deployment, rounds: int = 3) -> None:
    """Run lianban_exchange until no delivery waits. The dead try's claimed rows come back when their lease ends,
    and rows a slowed department timed out on come back after their back-off: both are moved to now here (what
    ten minutes would do), and a later run sends them, as scheduled runs would."""
    lease_over = f"UPDATE deliveries SET next_attempt_at = {UTC_NOW} WHERE state IN ('pending', 'retry')"
    for _ in range(rounds):
        deployment.ledger_rows(lease_over)
        run_to_success(deployment, "lianban_exchange")
        if all(set(states) <= {"accepted", "refused"} for states in deliveries(deployment).values()):
            return


def deliveries(deployment: Deployment) -> dict[str, dict[str, int]]:
    """Per department: the ledger's deliveries by state."""
    rows = deployment.ledger_rows("SELECT department, state, count(*) FROM deliveries GROUP BY department, state")
    counts: dict[str, dict[str, int]] = {}
    for department, state, n in rows:
        counts.setdefault(department, {})[state] = n
    return counts


def waiting(deployment: Deployment) -> list[tuple[Any, ...]]:
    """Each delivery still waiting: its department, state, attempts, last error and next attempt, and the
    database's now (the ledger's naive UTC)."""
    return [tuple(row) for row in deployment.ledger_rows(
        "SELECT department, state, attempts, last_error, next_attempt_at, "
        f"{UTC_NOW} FROM deliveries WHERE state NOT IN ('accepted', 'refused')")]


def reported_events(deployment: Deployment) -> int:
    return int(deployment.ledger_rows("SELECT count(*) FROM status_events WHERE reported_at IS NOT NULL")[0][0])


def assert_each_delivery_taken_once(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Every delivery taken or refused by its department (none waiting), each department holding exactly as many
    distinct ones as the ledger says it took."""
    ledger, seen = deliveries(deployment), {}
    for department in DEPARTMENTS:
        states = ledger.get(department, {})
        stats = seen[department] = deployment.stats(department)
        assert set(states) <= {"accepted", "refused"}, (department, states, waiting(deployment))  # none waiting or dead
        assert stats["unique"] == states.get("accepted", 0), (department, stats, states)
    assert sum(ledger.get(d, {}).get("accepted", 0) for d in DEPARTMENTS) > 0
    return seen


def assert_each_event_reported_once(deployment: Deployment) -> None:
    platform = deployment.stats("wanshi_tong")
    assert (platform["duplicates"], platform["refused"]) == (0, 0), platform
    assert platform["events"] == reported_events(deployment) > 0, platform


def test_both_dags_through_celery_deliver_everything_once_and_report_it_once(deployment: Deployment) -> None:
    dags = deployment.api.dags()
    assert not any(dags[d]["is_paused"] for d in ("lianban_exchange", "lianban_feedback"))
    exchange = run_to_success(deployment, "lianban_exchange")
    run_to_success(deployment, "lianban_feedback")

    tasks = deployment.api.task_instances("lianban_exchange", exchange)
    ran_on = {w for t in tasks for w in deployment.workers_running("lianban_exchange", exchange, t["task_id"], 1)}
    assert ran_on <= {"worker-1", "worker-2"} and ran_on, ran_on
    stage = next(t for t in tasks if t["task_id"] == "extract_validate_stage")
    log = deployment.api.call("GET", f"/dags/lianban_exchange/dagRuns/{exchange}/taskInstances/{stage['task_id']}"
                                     f"/logs/{stage['try_number']}", headers={"Accept": "application/json"})
    shown = json.dumps(log, ensure_ascii=False)  # read by the API server from the workers' folder, no log server
    assert "Task instance is in running state" not in shown and "Could not read" not in shown, shown[:2000]
    assert "extract_validate_stage" in shown or "staged" in shown, shown[:2000]
    seen = assert_each_delivery_taken_once(deployment)
    assert all(s["duplicates"] == 0 for s in seen.values()), seen
    assert_each_event_reported_once(deployment)


def test_every_process_of_the_deployment_listens_on_loopback_only(deployment: Deployment) -> None:
    """Airflow's log servers (children of the scheduler, the triggerer and each worker) listened on every
    interface, at ports of their own: a deployment on a shared host must offer nothing beyond it."""
    import psutil

    from lianban.app.up import read_state

    state = read_state(deployment.paths)
    assert state is not None
    tree = [t for p in state.processes for t in (psutil.Process(p.pid), *psutil.Process(p.pid).children(True))]
    listening = {(c.laddr.ip, c.laddr.port) for t in tree for c in t.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
    assert len(listening) >= 2 and {ip for ip, _ in listening} <= {"127.0.0.1", "::1"}, sorted(listening)


def test_a_worker_killed_mid_delivery_the_task_runs_again_on_the_other_nothing_lost_or_doubled(
        deployment: Deployment) -> None:
    from lianban.app.setup import seed

    seed(deployment.paths, 8)  # new approvals for the next run to deliver
    before = {d: deployment.stats(d)["duplicates"] for d in DEPARTMENTS}
    for department in DEPARTMENTS:
        deployment.set_faults(department, latency=SLOW)
    run_id = deployment.api.trigger("lianban_exchange")
    task_id, holder = wait_for_a_delivery_in_flight(deployment, run_id)
    in_flight = claimed(deployment)
    deployment.kill_worker(holder)
    killed_at = time.monotonic()
    for department in DEPARTMENTS:
        deployment.set_faults(department)  # healthy again: only the worker was lost

    assert deployment.api.wait_run("lianban_exchange", run_id, RUN_TIMEOUT) == "success"
    retried = {t["task_id"]: t for t in deployment.api.task_instances("lianban_exchange", run_id)}[task_id]
    survivor = ({"worker-1", "worker-2"} - {holder}).pop()
    assert retried["state"] == "success" and retried["try_number"] >= 2, retried
    assert deployment.workers_running("lianban_exchange", run_id, task_id, retried["try_number"]) == [survivor]
    noticed = time.monotonic() - killed_at
    assert in_flight > 0

    deliver_until_settled(deployment)
    run_to_success(deployment, "lianban_feedback")
    seen = assert_each_delivery_taken_once(deployment)
    resent = sum(seen[d]["duplicates"] - before[d] for d in DEPARTMENTS)
    assert resent <= in_flight, (resent, in_flight)  # answered duplicate: sent again, taken once
    assert_each_event_reported_once(deployment)
    print(f"killed {holder} during {task_id}; retried on {survivor}; run done {noticed:.0f} s after the kill; "
          f"{in_flight} rows in flight, {resent} answered duplicate when resent")


def wait_for_a_delivery_in_flight(deployment: Deployment, run_id: str) -> tuple[str, str]:
    """(task id, worker) of a delivery task of `run_id` that is running and has a batch out: its rows claimed."""
    def running() -> tuple[str, str] | None:
        if not claimed(deployment):
            return None
        for ti in deployment.api.task_instances("lianban_exchange", run_id):
            if ti["task_id"].startswith("deliver_") and ti["state"] == "running":
                workers = deployment.workers_running("lianban_exchange", run_id, ti["task_id"], 1)
                if workers:
                    return ti["task_id"], workers[0]
        return None

    found = poll_until(running, bool, RUN_TIMEOUT, interval=0.5)
    assert found, deployment.api.task_instances("lianban_exchange", run_id)
    return found


def claimed(deployment: Deployment) -> int:
    """Deliveries a run holds now: not delivered, their next attempt pushed past now by a claim's lease."""
    rows = deployment.ledger_rows("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retry') "
                                  f"AND next_attempt_at > {UTC_NOW} + interval '5 minutes'")
    return int(rows[0][0])
