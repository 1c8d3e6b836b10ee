"""The DAG files: they parse, their task count is fixed by the catalog, and parsing never imports zeep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"

@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    code = """
import importlib.util, json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"errors": {k: str(v)[:300] for k, v in bag.import_errors.items()},
                  "dags": {d: sorted(bag.dags[d].task_ids) for d in bag.dags},
                  "rules": {f"{d}.{t.task_id}": getattr(t.trigger_rule, "value", str(t.trigger_rule))
                            for d in bag.dags for t in bag.dags[d].tasks},
                  "schedules": {d: [str(bag.dags[d].schedule), str(bag.dags[d].timezone), bag.dags[d].catchup]
                                for d in bag.dags},
                  "masked": {f"{d}.{t.task_id}": t.python_callable.__code__.co_qualname
                             for d in bag.dags for t in bag.dags[d].tasks},
                  "zeep": "zeep" in sys.modules}))
"""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow")),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           "PYTHONPATH": str(DAGS)}  # Airflow puts the DAGs folder on sys.path; a bare DagBag does not
    out = subprocess.run([sys.executable, "-c", code, str(DAGS)], capture_output=True, text=True, timeout=120,
                         check=True, env=env)

    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_dags_parse_without_errors(parsed: dict[str, object]) -> None:
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == {"lianban_exchange", "lianban_feedback", "lianban_operations",
                                  "lianban_daily", "lianban_notices"}  # type: ignore[arg-type]


def test_task_count_is_fixed_by_the_catalog(parsed: dict[str, object]) -> None:
    dags = parsed["dags"]
    assert dags["lianban_exchange"] == sorted(  # type: ignore[index]
        ["extract_validate_stage", "deliver_health", "deliver_housing_fund", "deliver_medical"])
    assert dags["lianban_feedback"] == sorted(  # type: ignore[index]
        ["collect_hrss", "take_supplements", "forward_health", "forward_housing_fund", "forward_medical",
         "poll_health", "poll_housing_fund", "poll_medical", "report_to_wanshi_tong", "request_payments"])
    assert dags["lianban_operations"] == ["alert_liaisons", "health_checks"]  # type: ignore[index]
    assert dags["lianban_daily"] == ["archive_evidence", "daily_summary"]  # type: ignore[index]
    assert dags["lianban_notices"] == sorted(  # type: ignore[index]
        ["plan_reminders", "plan_pension_notices", "send_due", "collect_receipts"])


def test_parsing_never_imports_zeep(parsed: dict[str, object]) -> None:
    assert parsed["zeep"] is False


def test_one_failing_department_never_stops_the_report(parsed: dict[str, object]) -> None:
    rules = parsed["rules"]
    assert rules["lianban_feedback.report_to_wanshi_tong"] == "all_done"  # type: ignore[index]
    assert rules["lianban_feedback.request_payments"] == "all_done"  # type: ignore[index]
    assert rules["lianban_exchange.deliver_medical"] == "all_success"  # type: ignore[index]


def test_forwarding_supplements_never_stops_collection(parsed: dict[str, object]) -> None:
    rules = parsed["rules"]
    assert rules["lianban_feedback.take_supplements"] == "all_success"  # type: ignore[index]
    assert rules["lianban_feedback.forward_medical"] == "all_done"  # type: ignore[index]
    assert rules["lianban_feedback.poll_medical"] == "all_done"  # type: ignore[index]
    assert rules["lianban_feedback.collect_hrss"] == "all_done"  # type: ignore[index]


def test_the_liaisons_are_alerted_whatever_became_of_the_checks(parsed: dict[str, object]) -> None:
    assert parsed["rules"]["lianban_operations.alert_liaisons"] == "all_done"  # type: ignore[index]


def test_notices_are_sent_whatever_became_of_planning(parsed: dict[str, object]) -> None:
    rules = parsed["rules"]
    assert rules["lianban_notices.plan_pension_notices"] == "all_done"  # type: ignore[index]
    assert rules["lianban_notices.send_due"] == "all_done"  # type: ignore[index]


def test_the_notices_go_daily_inside_sending_hours_in_beijing(parsed: dict[str, object]) -> None:
    assert parsed["schedules"]["lianban_notices"] == ["0 10 * * *", "Asia/Shanghai", False]  # type: ignore[index]


def test_every_task_fails_with_its_error_masked(parsed: dict[str, object]) -> None:
    """Airflow 3 writes a failed task's exception to its log past the log-record redaction: every task's job is
    wrapped (lianban.app.redact.masked_errors), so what it fails with is masked too."""
    masked = parsed["masked"]
    assert isinstance(masked, dict) and masked
    assert {task: name for task, name in masked.items() if name != "masked_errors.<locals>.run"} == {}
