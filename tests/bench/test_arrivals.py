"""`make bench` prints no rate unless every record arrived once, counted in the ledger and in the departments'
own stores (:mod:`bench.arrivals`)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bench import arrivals, pipeline

STAGED = {"extracted": 3, "deliveries": 3}


def _world(tmp_path: Path, ledger: list[tuple[str, str, str]], held: dict[str, list[tuple[str, str, str]]]) -> str:
    """A ledger of (department, state, key) deliveries, and each department's store of (key, 办件编号, 事项编码)."""
    with closing(sqlite3.connect(tmp_path / "ledger.db")) as db, db:
        db.execute("CREATE TABLE deliveries (department TEXT, state TEXT, idempotency_key TEXT)")
        db.executemany("INSERT INTO deliveries VALUES (?, ?, ?)", ledger)
    (tmp_path / "simulators").mkdir()
    for department, rows in held.items():
        with closing(sqlite3.connect(tmp_path / "simulators" / f"{department}.db")) as db, db:
            db.execute("CREATE TABLE received (idempotency_key TEXT PRIMARY KEY, case_no TEXT, item_code TEXT)")
            db.executemany("INSERT INTO received VALUES (?, ?, ?)", rows)
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _problems(tmp_path: Path, ledger: list[tuple[str, str, str]], held: dict[str, list[tuple[str, str, str]]],
              staged: dict[str, Any] = STAGED) -> list[str]:
    url = _world(tmp_path, ledger, held)
    return arrivals.problems(url, tmp_path / "simulators", ["a", "b"], 3, staged)


def test_every_record_held_once_where_the_ledger_says_is_no_problem(tmp_path: Path) -> None:
    ledger = [("a", "accepted", "k1"), ("a", "accepted", "k2"), ("b", "accepted", "k3")]
    held = {"a": [("k1", "C1", "01"), ("k2", "C2", "01")], "b": [("k3", "C1", "02")]}
    assert _problems(tmp_path, ledger, held) == []


def test_a_record_the_ledger_took_as_accepted_but_the_department_lacks_is_missing(tmp_path: Path) -> None:
    ledger = [("a", "accepted", "k1"), ("a", "accepted", "k2"), ("b", "accepted", "k3")]
    held = {"a": [("k1", "C1", "01")], "b": [("k3", "C1", "02")]}
    assert _problems(tmp_path, ledger, held) == ["a: 1 accepted in the ledger but not held"]


def test_deliveries_still_pending_or_held_twice_or_rows_not_read_are_each_said(tmp_path: Path) -> None:
    ledger = [("a", "accepted", "k1"), ("a", "pending", "k2"), ("b", "accepted", "k3")]
    held = {"a": [("k1", "C1", "01"), ("k9", "C1", "01")], "b": [("k3", "C1", "02")]}
    said = _problems(tmp_path, ledger, held, {"extracted": 2, "deliveries": 4})
    assert said == ["extracted 2 of 3 seeded", "pending=1 in the ledger",
                    "3 deliveries in the ledger, staging sealed 4",
                    "a: 1 held but not accepted in the ledger", "a: 1 held twice"]


def test_a_department_without_a_store_holds_nothing(tmp_path: Path) -> None:
    said = _problems(tmp_path, [("a", "accepted", "k1"), ("a", "accepted", "k2"), ("b", "accepted", "k3")],
                     {"b": [("k3", "C1", "02")]})
    assert said == [f"a: no store at {tmp_path / 'simulators' / 'a.db'}"]


def test_the_pipeline_bench_refuses_to_print_a_rate_over_records_never_delivered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery that stopped early (here: none at all) is an error naming what is missing, not a rate."""
    monkeypatch.setattr(pipeline, "_deliver_all", lambda env: (0.5, {}))
    with pytest.raises(arrivals.NotArrived, match=r"不报告速率.*pending=\d+ in the ledger"):
        pipeline.measure(40, tmp_path / "n40")
