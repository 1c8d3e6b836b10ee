"""Outage isolation under the real scheduler (issue 15 §5): one department answers only after 30 s, another
never answers; in the same runs, the healthy department's deliveries and the report to 皖事通办 finish on time.

Each department's tasks run in its own Airflow pool (``lianban_<department>``), so the slow ones hold only
their own slots; the hub gives up on the silent one at its connection's read timeout (30 s) and backs its
rows off in the ledger; the report runs whatever became of the polls (trigger rule all_done).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Deployment
from sqlalchemy import create_engine, text
from test_celery import RUN_TIMEOUT, assert_each_event_reported_once

from lianban.app.processes import poll_until

pytestmark = pytest.mark.airflow
SLOW, SILENT, HEALTHY = "medical", "housing_fund", "health"
READ_TIMEOUT = 30.0  # the simulated departments' connections (lianban.app.demo.connections)


def seconds(ti: dict[str, Any]) -> float:
    return float(ti["duration"] or 0.0)


def unreported_before(deployment: Deployment, department: str, moment: datetime) -> int:
    """Status events of `department`'s items recorded before `moment` and not yet acknowledged by 皖事通办."""
    engine = create_engine(deployment.env["LIANBAN_LEDGER_URL"])
    with engine.connect() as conn:
        count = conn.execute(text(
            "SELECT count(*) FROM status_events e JOIN deliveries d ON d.case_item_id = e.case_item_id "
            "WHERE d.department = :dept AND e.recorded_at < :moment AND e.reported_at IS NULL "
            "AND e.parked_at IS NULL"), {"dept": department, "moment": moment}).scalar_one()
    engine.dispose()
    return int(count)


def new_deliveries(deployment: Deployment, department: str, since: datetime) -> dict[str, int]:
    rows = deployment.ledger_rows(
        f"SELECT state, count(*) FROM deliveries WHERE department = '{department}' "
        f"AND created_at >= '{since.isoformat(sep=' ')}' GROUP BY state")
    return {state: int(n) for state, n in rows}


def quiet(deployment: Deployment) -> None:
    """Wait until neither DAG has a run queued or running (a scheduled run may have started one)."""
    def busy() -> int:
        return sum(len(deployment.api.call("GET", f"/dags/{dag}/dagRuns", params={"state": ["queued", "running"]})
                       ["dag_runs"]) for dag in ("lianban_exchange", "lianban_feedback"))

    assert poll_until(busy, lambda n: n == 0, RUN_TIMEOUT, interval=2.0) == 0


def exchange_runs_since(deployment: Deployment, moment: datetime) -> list[dict[str, dict[str, Any]]]:
    """The task instances, by task id, of every lianban_exchange run started after `moment` (naive UTC)."""
    runs = deployment.api.call("GET", "/dags/lianban_exchange/dagRuns", params={"limit": 100})["dag_runs"]
    started = [r for r in runs if r["start_date"] and _utc(r["start_date"]) >= moment]
    return [{t["task_id"]: t for t in deployment.api.task_instances("lianban_exchange", r["dag_run_id"])}
            for r in started]


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def test_a_slow_and_a_silent_department_hold_up_neither_the_others_deliveries_nor_the_report(
        deployment: Deployment) -> None:
    from lianban.app.setup import seed

    quiet(deployment)
    since = datetime.now(UTC).replace(tzinfo=None)
    deployment.set_faults(SLOW, latency=READ_TIMEOUT)  # answers after 30 s
    deployment.set_faults(SILENT, latency=3600)  # takes the request and never answers
    try:
        seed(deployment.paths, 10)
        exchange = deployment.api.trigger("lianban_exchange")
        assert deployment.api.wait_run("lianban_exchange", exchange, RUN_TIMEOUT) == "success"
        feedback_started = datetime.now(UTC).replace(tzinfo=None)
        feedback = deployment.api.trigger("lianban_feedback")
        assert deployment.api.wait_run("lianban_feedback", feedback, RUN_TIMEOUT) == "success"
    finally:
        for department in (SLOW, SILENT):
            deployment.set_faults(department)

    runs = exchange_runs_since(deployment, since)
    assert any(seconds(r[f"deliver_{SILENT}"]) >= READ_TIMEOUT for r in runs)  # it waited for its own department…
    assert all(seconds(r[f"deliver_{HEALTHY}"]) < READ_TIMEOUT for r in runs)  # …and the healthy one did not
    assert {runs[0][f"deliver_{d}"]["pool"] for d in (SLOW, SILENT, HEALTHY)} == {
        f"lianban_{d}" for d in (SLOW, SILENT, HEALTHY)}
    healthy, silent = new_deliveries(deployment, HEALTHY, since), new_deliveries(deployment, SILENT, since)
    assert healthy and set(healthy) <= {"accepted", "refused"}, healthy
    assert silent and set(silent) <= {"retry", "pending"}, silent  # none lost: kept, sent again when it answers

    report = {t["task_id"]: t for t in deployment.api.task_instances("lianban_feedback", feedback)}
    assert report["report_to_wanshi_tong"]["state"] == "success"
    assert unreported_before(deployment, HEALTHY, feedback_started) == 0
    assert_each_event_reported_once(deployment)
    took = {d: max(seconds(r[f"deliver_{d}"]) for r in runs) for d in (HEALTHY, SLOW, SILENT)}
    print(f"deliver (longest, s): {took}; poll_{SLOW} {seconds(report[f'poll_{SLOW}']):.1f} s, poll_{SILENT} "
          f"{seconds(report[f'poll_{SILENT}']):.1f} s, report_to_wanshi_tong ended "
          f"{(_utc(report['report_to_wanshi_tong']['end_date']) - feedback_started).total_seconds():.0f} s "
          f"after the feedback run was triggered")
