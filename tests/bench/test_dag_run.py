"""`make bench`'s DAG run at two small sizes: Airflow runs the exchange DAG with the same task instances and the
same XCom values (counts) whatever the number of records, and every delivery is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import dag_run


@pytest.mark.airflow
def test_the_dag_run_has_the_same_tasks_and_xcom_at_both_sizes(tmp_path: Path) -> None:
    small, large = dag_run.run([30, 600], tmp_path)
    assert small["run_id"] != large["run_id"]
    assert sorted(small["task_instances"]) == sorted(large["task_instances"]) == [
        "deliver_health", "deliver_housing_fund", "deliver_medical", "extract_validate_stage"]
    assert set(small["task_instances"].values()) == set(large["task_instances"].values()) == {"success"}
    assert small["xcom_values"] == large["xcom_values"]  # counts only: a few bytes more for longer numbers
    assert large["xcom_bytes"] < small["xcom_bytes"] + 100
    assert set(large["deliveries"]) == {"accepted"} and large["deliveries"]["accepted"] > 10 * 30
    line, ok = dag_run.verdict([small, large])
    assert ok and line == "task instances: 4 for 30 records, 4 for 600 records (the same)"
    assert "4 task instances (success)" in dag_run.describe(large)


def test_a_different_task_count_fails_the_verdict() -> None:
    run = {"records": 1, "task_instances": {"a": "success"}, "xcom_values": 1, "deliveries": {"accepted": 1}}
    line, ok = dag_run.verdict([run, {**run, "records": 2, "task_instances": {"a": "success", "b": "success"}}])
    assert not ok and line.endswith("(DIFFERENT)")
    _, ok = dag_run.verdict([run, {**run, "records": 2, "deliveries": {"accepted": 1, "retry": 1}}])
    assert not ok


def test_the_callers_lianban_settings_stay_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIANBAN_LEDGER_URL", "sqlite:////elsewhere/ledger.db")
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_MEDICAL", "bogus")
    env = dag_run._env(tmp_path / "n1", tmp_path / "airflow")
    assert "LIANBAN_LEDGER_URL" not in env and "AIRFLOW_CONN_DEPT_MEDICAL" not in env
    assert env["LIANBAN_HOME"] == str(tmp_path / "n1") and env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
