"""`make bench`'s DAG run at two small sizes: Airflow runs the exchange DAG with the same task instances and the
same XCom values (counts) whatever the number of records, and every delivery is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import dag_run


@pytest.mark.airflow
def test_the_dag_run_has_the_same_tasks_and_xcom_at_both_sizes(tmp_path: Path) -> None:
    small, large = dag_run.run([30, 600], tmp_path)
    assert sorted(small["task_instances"]) == sorted(large["task_instances"]) == [
        "deliver_health", "deliver_housing_fund", "deliver_medical", "extract_validate_stage"]
    assert set(small["task_instances"].values()) == set(large["task_instances"].values()) == {"success"}
    assert small["xcom_values"] == large["xcom_values"]  # counts only: a few bytes more for longer numbers
    assert large["xcom_bytes"] < small["xcom_bytes"] + 100
    assert large["staged"]["extracted"] == 600 and large["staged"]["deliveries"] > 600  # 2.7 a record
    assert large["deliveries"] == {"accepted": large["staged"]["deliveries"]}
    line, failed = dag_run.verdict([small, large])
    assert failed == [] and line == "task instances: 4 for 30 records, 4 for 600 records (the same)"
    assert "4 task instances (success)" in dag_run.describe(large)


RUN = {"records": 1, "task_instances": {"a": "success"}, "xcom_values": 1, "deliveries": {"accepted": 3},
       "staged": {"extracted": 1, "deliveries": 3}}


def test_a_different_task_count_fails_the_verdict_and_says_so() -> None:
    line, failed = dag_run.verdict([RUN, {**RUN, "task_instances": {"a": "success", "b": "success"}}])
    assert line.endswith("(DIFFERENT)") and failed == ["the task instances differ in number"]


@pytest.mark.parametrize(("change", "failure"), [
    ({"xcom_values": 2}, "the XCom values differ in number: 1, 2"),
    ({"task_instances": {"a": "failed"}}, "1 records: task a ended failed"),
    ({"staged": {"extracted": 0, "deliveries": 3}}, "1 records: 0 of 1 extracted"),
    ({"deliveries": {"accepted": 2, "retrying": 1}}, "1 records: 2 of 3 staged deliveries accepted, others "
                                                     "{'retrying': 1}"),
    ({"deliveries": {"accepted": 2}}, "1 records: 2 of 3 staged deliveries accepted"),
])
def test_each_other_failure_fails_the_verdict_with_its_reason(change: dict[str, object], failure: str) -> None:
    line, failed = dag_run.verdict([RUN, {**RUN, **change}])
    assert line.endswith("(the same)") and failed == [failure]


def test_the_callers_lianban_settings_stay_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIANBAN_LEDGER_URL", "sqlite:////elsewhere/ledger.db")
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_MEDICAL", "bogus")
    env = dag_run._env(tmp_path / "n1", tmp_path / "airflow")
    assert "LIANBAN_LEDGER_URL" not in env and "AIRFLOW_CONN_DEPT_MEDICAL" not in env
    assert env["LIANBAN_HOME"] == str(tmp_path / "n1") and env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
