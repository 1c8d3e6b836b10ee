"""`make bench`'s scheduled run at a small size: `lianban up`, the exchange DAG's first run under Airflow's
scheduler with every DAG live, every staged delivery accepted, then `lianban down`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scheduled
from lianban.app.config import Paths


@pytest.mark.airflow
def test_the_scheduler_runs_the_exchange_to_its_end_and_down_stops_it(tmp_path: Path) -> None:
    result = scheduled.measure(200, tmp_path / "n200", timeout=600)
    assert result["state"] == "success" and scheduled.failures(result) == []
    assert sorted(result["tasks"]) == ["deliver_health", "deliver_housing_fund", "deliver_medical",
                                       "extract_validate_stage"]
    stage = result["tasks"]["extract_validate_stage"]
    assert all(t["started_after_s"] >= stage["started_after_s"] + stage["seconds"]
               for name, t in result["tasks"].items() if name != "extract_validate_stage")  # stage >> deliver
    assert result["staged"]["extracted"] == 200
    assert result["deliveries"] == {"accepted": result["staged"]["deliveries"]}
    assert not (tmp_path / "n200" / "up.json").exists()  # down ran
    last = scheduled.report(result)[-1]
    assert last == f"scheduled: {200 / result['seconds']:,.0f} records/s, {result['seconds']} s for 200 records"


RESULT = {"records": 10, "run_id": "r", "state": "success", "seconds": 2.0,
          "tasks": {"a": {"state": "success", "seconds": 1.0, "started_after_s": 0.5}},
          "staged": {"extracted": 10, "deliveries": 27}, "deliveries": {"accepted": 27}}


@pytest.mark.parametrize(("change", "failure"), [
    ({"state": "failed"}, "the run ended failed"),
    ({"tasks": {"a": {"state": "up_for_retry", "seconds": 1.0, "started_after_s": 0.5}}}, "task a ended up_for_retry"),
    ({"staged": {"extracted": 9, "deliveries": 27}}, "9 of 10 extracted"),
    ({"deliveries": {"accepted": 26, "dead": 1}}, "26 of 27 staged deliveries accepted, others {'dead': 1}"),
])
def test_each_failure_is_said_and_fails_the_run(change: dict[str, object], failure: str) -> None:
    changed = {**RESULT, **change}
    assert scheduled.failures(RESULT) == [] and scheduled.failures(changed) == [failure]
    assert f"FAILED: {failure}" in scheduled.report(changed)


def test_only_the_first_runs_deliveries_are_counted_a_later_runs_are_said(paths: Paths) -> None:
    """The next interval's run may stage what applicants submitted meanwhile, and still be delivering it when the
    bench stops everything: those deliveries are not the measured run's."""
    from sqlalchemy import update

    from connectors.hrss.frontend import FrontendDB
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Delivery
    from lianban.pipeline.stage import stage
    from simulators.people import generate

    frontend, people = FrontendDB(paths.frontend_url), list(generate(30, seed=41))
    frontend.insert_applications(people[:20])
    first = stage(frontend, paths.ledger_url, paths.keys_dir).deliveries
    with session_factory(paths.ledger_url).begin() as session:  # as the first run's deliveries end
        session.execute(update(Delivery).values(state="accepted"))
    frontend.insert_applications(people[20:])
    later = stage(frontend, paths.ledger_url, paths.keys_dir).deliveries
    assert first and later
    counted = scheduled._counted(paths.ledger_url)
    assert counted == {"deliveries": {"accepted": first}, "later_deliveries": later}
    result = {**RESULT, "staged": {"extracted": 10, "deliveries": first}, **counted}
    assert scheduled.failures(result) == []
    assert f"  ({later:,} deliveries staged by the runs after it: not this run's, not counted)" in scheduled.report(
        result)
