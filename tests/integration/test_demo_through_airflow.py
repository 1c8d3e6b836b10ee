"""Both DAGs through Airflow itself (`airflow dags test`) against the real simulators: issue 9's proof.

Two runs. The full run (every department up) drives every path the simulated world takes — straight approval,
补正资料 with named materials supplied at the window, 不予受理 and 审核不通过 with their reasons, the item-13
reward approved by health and paid by HRSS, results for items 12 and 14, applications held for correction
and corrected at the source, duplicated, out-of-order and illegal reports — and 皖事通办 must end with exactly
the final status the simulated departments decided for every item, each change once, in order, every body
valid against the published interface. The drill run keeps one department down all run: the others finish
and report.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from connectors.wanshi_tong.connector import load_codes
from lianban.app.demo import DemoOptions, run_demo
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status
from lianban.wire.ids import idempotency_key
from simulators.engine import choose_path
from simulators.wanshi_tong_interface import load_interface

pytestmark = pytest.mark.airflow
DEPARTMENTS = ("medical", "health", "housing_fund")
DOWN = "housing_fund"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("demo")
    summary = run_demo(DemoOptions(records=80, home=home, max_rounds=14, step_seconds=1.0))
    return summary, home


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("drill")
    summary = run_demo(DemoOptions(records=24, home=home, max_rounds=8, step_seconds=1.0, down=(DOWN,)))
    return summary, home


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:  # closed now: a connection left to the GC would delete the -wal
        return conn.execute(sql).fetchall()   # file at a random moment, under the personal-data scan's feet


def _chosen(home: Path) -> set[tuple[str, str]]:
    """(case_no, item) of every case in the hub's ledger."""
    query = "SELECT c.case_no, i.item_code FROM case_items i JOIN cases c ON c.id = i.case_id"
    return set(_rows(home / "ledger.db", query))


def expected_final(case_no: str, item_code: str) -> Status:
    """The final status the simulated world decided for one item (the simulators choose paths by key)."""
    item = load_catalog().items[item_code]
    if item.department == "hrss":
        return choose_path(f"hrss|{case_no}|{item_code}")[0][-1]
    key = idempotency_key(case_no, item_code, item.department)
    last = choose_path(key, completes=item.completer == item.department)[0][-1]
    return Status.COMPLETED if last is Status.APPROVED else last  # health approves item 13, HRSS pays it


def _platform(home: Path) -> dict[tuple[str, str], str]:
    """(projid, 皖事通办 事项编码) → the platform's current status name."""
    return {(p, i): s for p, i, s in _rows(home / "simulators" / "wanshi_tong.db",
                                          "SELECT projid, item_code, status_name FROM items")}


def test_demo_completes_with_every_status_and_every_kind_of_misbehaviour(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    assert summary["complete"], summary
    assert summary["extracted"] == 80 and summary["quarantined"] == summary["corrected"] > 0  # told, then fixed
    operations = summary["operations"]  # the operations DAG, run once at the end
    assert operations["health_checks"] and all(operations["health_checks"].values()), operations
    assert operations["alerts_sent_by_sms"] == len(operations["incidents"]), operations  # one SMS per incident
    reconciled = summary["reconciliation"]  # lianban report over the run: every record accounted for
    assert reconciled["adds_up"] and reconciled["totals"]["extracted"] == 80, reconciled
    assert set(summary["paths"]) >= {"hrss_frontend_db", "ledger_db", "logs", "airflow_home"}
    events = summary["events_by_status"]
    assert set(events) == {s.value for s in Status}, events  # all seven statuses reached the applicant
    assert sum(events.values()) == summary["reported_to_wanshi_tong"]
    assert summary["illegal_transitions"] > 0 and summary["overdue_items"] == 0
    json.dumps(summary)


def test_every_item_ends_with_exactly_the_status_its_department_decided(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    codes, platform = load_codes(), _platform(home)
    expected = {(case, codes.items[item]): expected_final(case, item).value for case, item in _chosen(home)}
    assert platform == expected


def test_each_change_reached_the_platform_once_in_order_valid_against_the_interface(
        demo: tuple[dict[str, Any], Path]) -> None:
    summary, home = demo
    stats = summary["wanshi_tong"]
    assert (stats["duplicates"], stats["refused"], stats["out_of_order"]) == (0, 0, 0)
    sim = home / "simulators" / "wanshi_tong.db"
    arrived = _rows(sim, "SELECT projid, item_code, status_name, dataver, body FROM events ORDER BY event_id")
    ledger = _rows(home / "ledger.db", "SELECT c.case_no, i.item_code, e.status FROM status_events e "
                                       "JOIN case_items i ON i.id = e.case_item_id JOIN cases c ON c.id = i.case_id "
                                       "ORDER BY e.id")
    codes = load_codes()
    assert [(p, i, s) for p, i, s, _, _ in arrived] == [(c, codes.items[i], s) for c, i, s in ledger]
    versions: dict[str, list[int]] = {}
    for projid, _, _, dataver, _ in arrived:
        versions.setdefault(projid, []).append(dataver)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())  # DATAVER 1..n per case, in order
    interface = load_interface()
    for *_, body in arrived[:200]:  # as the platform kept them: each event valid on its own too
        assert interface.problems({"events": [json.loads(body)], "cases": []}) == []


def test_every_path_was_driven(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    rows = _rows(home / "ledger.db", "SELECT i.item_code, e.status, e.source, e.reason, e.result, e.department_code "
                                     "FROM status_events e JOIN case_items i ON i.id = e.case_item_id")
    assert any(s == "不予受理" and r for _, s, _, r, _, _ in rows)
    assert any(s == "审核不通过" and r for _, s, _, r, _, _ in rows)
    assert any(s == "补正资料" and code == "隔离待补正" for _, s, _, _, _, code in rows)  # a held application told
    named = _rows(home / "ledger.db", "SELECT COUNT(*) FROM status_events WHERE status = '补正资料' AND materials "
                                      "IS NOT NULL")
    assert named[0][0] > 0  # 补正资料 naming its materials, supplied at the window (the test below), then done
    done_with_result = {(i, src) for i, s, src, _, res, _ in rows if s == "已办结" and res}
    assert {("12", "medical"), ("13", "hrss"), ("14", "housing_fund")} <= done_with_result
    assert not any(i == "13" and s == "已办结" and src == "health" for i, s, src, *_ in rows)
    refused = _rows(home / "ledger.db", "SELECT source, to_status FROM illegal_transitions")
    assert ("health", "已办结") in refused  # health announcing item 13 done itself is kept, not applied
    assert _rows(home / "hrss_frontend.db", "SELECT COUNT(*) FROM T_LB_JLFF WHERE TBBZ = '1'")[0][0] > 0


def test_no_department_received_a_duplicate(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    for dept in DEPARTMENTS:
        received = summary["department_received"][dept]
        assert received["duplicates"] == 0
        assert received["unique"] == summary["delivered"][dept] > 0


def test_held_applications_reached_departments_only_once_corrected(demo: tuple[dict[str, Any], Path]) -> None:
    """A record that failed validation was held: told first, delivered once only after HRSS corrected it."""
    _, home = demo
    ledger = home / "ledger.db"
    held = {r[0] for r in _rows(ledger, "SELECT case_no FROM quarantine")}
    assert held and _rows(ledger, "SELECT COUNT(*) FROM quarantine WHERE state = 'open'") == [(0,)]
    for case_no in held:
        first = _rows(ledger, "SELECT e.status, e.department_code FROM status_events e JOIN case_items i ON "
                              f"i.id = e.case_item_id JOIN cases c ON c.id = i.case_id WHERE c.case_no = '{case_no}' "
                              "ORDER BY e.id LIMIT 1")
        assert first == [("补正资料", "隔离待补正")]
    for dept in DEPARTMENTS:
        received = _rows(home / "simulators" / f"{dept}.db", "SELECT case_no, item_code FROM received")
        assert len(received) == len(set(received))  # each item once, the held ones included


def test_tasks_pass_counts_not_records(demo: tuple[dict[str, Any], Path]) -> None:
    _, home = demo
    xcoms = _rows(home / "airflow" / "airflow.db", "SELECT task_id, value FROM xcom")
    assert xcoms
    for task_id, value in xcoms:
        assert len(str(value)) < 600, f"{task_id} pushed a large XCom"
    tasks = {r[0] for r in _rows(home / "airflow" / "airflow.db", "SELECT DISTINCT task_id FROM task_instance")}
    assert tasks == {"extract_validate_stage", "take_supplements", "collect_hrss", "request_payments",
                     "report_to_wanshi_tong", "health_checks", "alert_liaisons",
                     *(f"deliver_{d}" for d in DEPARTMENTS), *(f"poll_{d}" for d in DEPARTMENTS),
                     *(f"forward_{d}" for d in DEPARTMENTS)}


def test_every_supplement_asked_for_was_brought_to_the_window_and_forwarded(demo: tuple[dict[str, Any], Path]) -> None:
    """The demo's 补正 items complete: the simulated applicants brought the materials, the hub forwarded them."""
    _, home = demo
    ledger = home / "ledger.db"
    asked = {r[0] for r in _rows(ledger, "SELECT DISTINCT case_item_id FROM status_events WHERE status = '补正资料' "
                                         "AND department_code IS NOT '隔离待补正'")}  # held ones: fixed at the source
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


def test_one_department_down_all_run_the_others_finish_and_report(drill: tuple[dict[str, Any], Path]) -> None:
    summary, home = drill
    assert summary["complete"] and summary["down"] == [DOWN], summary
    assert summary["reconciliation"]["adds_up"], summary["reconciliation"]  # a drill with faults reconciles too
    operations = summary["operations"]  # the down department's check fails, and its liaison hears of it
    assert not operations["health_checks"][DOWN] and f"health_failing:{DOWN}" in operations["incidents"]
    assert summary["delivered"][DOWN] == 0 and summary["department_received"][DOWN]["unique"] == 0
    codes, platform = load_codes(), _platform(home)
    for case, item in _chosen(home):
        department = load_catalog().items[item].department
        shown = platform.get((case, codes.items[item]))
        if department == DOWN:
            assert shown in (None, Status.SUPPLEMENT.value)  # never delivered: nothing, or the hold notice
        else:
            assert shown == expected_final(case, item).value, (case, item)
    assert summary["wanshi_tong"]["refused"] == 0
