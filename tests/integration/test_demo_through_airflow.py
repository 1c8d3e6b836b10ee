"""Both DAGs through Airflow itself (`airflow dags test`) against the real simulators: the issue's proof.

Every chosen item of every valid case reaches 皖事通办 with a final status (a 补正 item once its applicant has
brought the materials to the window and the hub forwarded them); no department received a duplicate;
quarantined records reached no department.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connectors.wanshi_tong.connector import load_codes
from lianban.app.demo import DemoOptions, run_demo
from lianban.domain.statuses import Status

pytestmark = pytest.mark.airflow
DEPARTMENTS = ("medical", "health", "housing_fund")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("demo")
    summary = run_demo(DemoOptions(records=60, home=home, max_rounds=12, step_seconds=1.0))
    return summary, home


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _chosen(home: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """(case_no, item) of every staged case, and the quarantined case numbers, from the hub's ledger."""
    ledger = home / "ledger.db"
    chosen = set(_rows(ledger, "SELECT c.case_no, i.item_code FROM case_items i JOIN cases c ON c.id = i.case_id"))
    quarantined = {r[0] for r in _rows(ledger, "SELECT case_no FROM quarantine")}
    return chosen, quarantined


def test_demo_completes_and_reports_json_shape(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    assert summary["complete"], summary
    assert summary["extracted"] == 60 and summary["quarantined"] > 0
    assert set(summary["paths"]) >= {"hrss_frontend_db", "ledger_db", "logs", "airflow_home"}
    events = summary["events_by_status"]
    assert set(events) <= {s.value for s in Status} and sum(events.values()) == summary["reported_to_wanshi_tong"]
    assert {Status.ACCEPTED.value, Status.COMPLETED.value} <= set(events)
    assert summary["illegal_transitions"] >= 0 and summary["overdue_items"] == 0
    json.dumps(summary)


def test_every_chosen_item_reached_wanshi_tong_final(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    chosen, _ = _chosen(home)
    codes = load_codes()
    final = {codes.statuses[s] for s in Status if s.is_terminal()}
    platform = {(p, i): code for p, i, code in
                _rows(home / "simulators" / "wanshi_tong.db", "SELECT projid, item_code, status_code FROM items")}
    expected = {(case, codes.items[item]) for case, item in chosen}
    assert set(platform) == expected
    assert {platform[k] for k in expected} <= final


def test_no_department_received_a_duplicate(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    for dept in DEPARTMENTS:
        received = summary["department_received"][dept]
        assert received["duplicates"] == 0
        assert received["unique"] == summary["delivered"][dept] > 0


def test_quarantined_records_reached_no_department(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    _, quarantined = _chosen(home)
    assert quarantined
    for dept in DEPARTMENTS:
        received = {r[0] for r in _rows(home / "simulators" / f"{dept}.db", "SELECT case_no FROM received")}
        assert not received & quarantined
    reported = {r[0] for r in _rows(home / "simulators" / "wanshi_tong.db", "SELECT projid FROM events")}
    assert not reported & quarantined


def test_tasks_pass_counts_not_records(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    xcoms = _rows(home / "airflow" / "airflow.db", "SELECT task_id, value FROM xcom")
    assert xcoms
    for task_id, value in xcoms:
        assert len(str(value)) < 600, f"{task_id} pushed a large XCom"
    tasks = {r[0] for r in _rows(home / "airflow" / "airflow.db", "SELECT DISTINCT task_id FROM task_instance")}
    assert tasks == {"extract_validate_stage", "collect_hrss", "forward_supplements", "report_to_wanshi_tong",
                     *(f"deliver_{d}" for d in DEPARTMENTS), *(f"poll_{d}" for d in DEPARTMENTS)}


def test_every_supplement_asked_for_was_brought_to_the_window_and_forwarded(demo: tuple[dict[str, Any], Path]) -> None:
    """The demo's 补正 items complete: the simulated applicants brought the materials, the hub forwarded them."""
    _, home = demo
    ledger = home / "ledger.db"
    asked = {r[0] for r in _rows(ledger, "SELECT DISTINCT case_item_id FROM status_events WHERE status = '补正资料'")}
    supplied = dict(_rows(ledger, "SELECT case_item_id, state FROM supplements"))
    assert asked and asked <= set(supplied)
    assert set(supplied.values()) <= {"accepted", "own"}
    assert sum(demo[0]["supplements"].values()) == len(supplied)  # the summary counts them


def _seeded_people(home: Path) -> set[str]:
    rows = _rows(home / "hrss_frontend.db", "SELECT XM, SFZHM, LXDH FROM T_LB_TXSQ")
    return {str(v) for row in rows for v in row if v and len(str(v)) >= 2}


def test_no_personal_data_in_logs_ledger_metadata_or_xcom(demo: tuple[dict[str, Any], Path]) -> None:
    """Every file the hub, Airflow and the simulators wrote — but the HRSS source itself — is scanned."""
    _, home = demo
    people = _seeded_people(home)
    files = [p for p in home.rglob("*") if p.is_file() and not p.name.startswith("hrss_frontend.db")]
    assert any(p.suffix == ".log" for p in files) and (home / "airflow" / "airflow.db") in files
    hits = []
    for path in files:
        data = path.read_bytes()
        hits += [(path.name, "…" + value[-2:]) for value in people if value.encode() in data]
    assert hits == []
