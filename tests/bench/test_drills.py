"""The fault drills at a small size (``make drills`` runs them at 10,000 records): every drill, its fault
injected into the real pipeline steps against the simulators in their own processes, ends with nothing lost,
nothing duplicated and every record's fate in the ledger, counted at the departments and at 皖事通办.

Each drill is its own test with its own home and ports, so ``pytest -n 2`` runs them side by side.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.drills import tally
from bench.drills.scenarios import DRILLS, Options, waited
from bench.drills.tally import Tally, parse_line
from lianban.domain.statuses import Status

RECORDS = 150
KILLS = 3
STAGE_KILLS = 1


@pytest.mark.parametrize("name", sorted(DRILLS))
def test_the_drill_loses_nothing_and_duplicates_nothing(name: str, tmp_path: Path) -> None:
    outcome = DRILLS[name](Options(RECORDS, tmp_path, kills=KILLS, stage_kills=STAGE_KILLS, latency=1.0,
                                   timeout=300.0))
    said = parse_line(outcome.tally.line(name))
    assert int(said["sent"]) > RECORDS  # every record has at least one pushed item, or one status
    assert said["lost"] == said["duplicates"] == "0", (said, outcome.notes)
    assert said["received"] == said["sent"]
    assert said["fates"] == "ok", (said, outcome.notes)


def test_a_drill_whose_fault_never_landed_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A department that was never made to fail tested nothing: the drill says so instead of passing."""
    from bench.drills.world import World

    monkeypatch.setattr(World, "set_faults", lambda self, party, **faults: None)
    outcome = DRILLS["department-down"](Options(RECORDS, tmp_path, timeout=300.0))
    assert outcome.tally.lost == outcome.tally.duplicates == 0  # nothing went wrong: nothing was tried
    assert outcome.tally.fates == "outage-missed" and not outcome.tally.clean


def test_a_wanshi_outage_that_stopped_no_report_fails_the_drill(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """皖事通办 never made to fail: no report run met an outage, and the drill says so instead of passing."""
    from bench.drills.world import World

    monkeypatch.setattr(World, "set_faults", lambda self, party, **faults: None)
    outcome = DRILLS["wanshi-down"](Options(RECORDS, tmp_path, timeout=300.0))
    assert outcome.tally.lost == outcome.tally.duplicates == 0
    assert outcome.tally.fates == "no-outage-landed" and not outcome.tally.clean
    assert "0 report runs stopped by it" in outcome.notes[0]


def test_departments_that_waited_for_the_slow_one_are_named() -> None:
    """Done after the slow department, or later than their time without its latency allows (twice, plus 3 s
    for the machine's noise): each waited for it."""
    alone = {"medical": 3.0, "health": 2.0, "housing_fund": 4.0}
    assert waited({"medical": 20.0, "health": 1.5, "housing_fund": 10.9}, alone, "medical") == []
    late = {"medical": 20.0, "health": 7.1, "housing_fund": 11.1}
    assert waited(late, alone, "medical") == ["health", "housing_fund"]
    assert waited({"medical": 6.0, "health": 4.0, "housing_fund": 6.0}, alone, "medical") == ["housing_fund"]


def test_the_deliver_process_is_killed_while_it_has_something_to_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each kill goes to a department the hub still has deliveries for; a department already done would end its
    run before the kill landed."""
    import random

    from bench.drills import scenarios

    monkeypatch.setattr(scenarios, "_outstanding", lambda world, department: department == "housing_fund")
    rng = random.Random(12)
    assert {scenarios._kill_target(None, rng) for _ in range(20)} == {"housing_fund"}  # type: ignore[arg-type]
    monkeypatch.setattr(scenarios, "_outstanding", lambda world, department: 0)
    assert {scenarios._kill_target(None, rng) for _ in range(40)} == set(tally.pushed())  # type: ignore[arg-type]


def test_a_delivery_run_resending_a_killed_runs_batches_is_at_work() -> None:
    """A kill lands once the department takes anything in: new deliveries or resends it answers duplicate."""
    from bench.drills import scenarios

    class Department:
        def stats(self, party: str) -> dict[str, int]:
            return {"unique": 5, "duplicates": 3}

    world = Department()
    assert scenarios._held(world, "health", 7)  # type: ignore[arg-type]
    assert not scenarios._held(world, "health", 8)  # type: ignore[arg-type]


def test_a_drill_line_says_what_was_lost_and_fails_the_drill() -> None:
    bad = Tally(sent=10, received=9, duplicates=0, lost=1, fates="pending=1")
    assert bad.line("deliver-kill") == "drill deliver-kill: sent=10 received=9 duplicates=0 lost=1 fates=pending=1"
    assert parse_line(bad.line("deliver-kill"))["lost"] == "1"
    assert not bad.clean and Tally(10, 10, 0, 0).clean


def test_a_status_reported_after_a_newer_one_fails_the_status_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    """皖事通办's newest hides an older change that arrived late: its out-of-order count says so, and the drill
    fails though every item's newest status is right."""
    pair = ("BZ1", "11")
    monkeypatch.setattr(tally, "source_statuses", lambda world: {pair: Status.COMPLETED})
    monkeypatch.setattr(tally, "sink_statuses", lambda world: {pair: Status.COMPLETED.value})
    monkeypatch.setattr(tally, "sink_duplicates", lambda world: 0)

    class Sink:
        def __init__(self, late: int) -> None:
            self.late = late

        def stats(self, party: str) -> dict[str, int]:
            return {"out_of_order": self.late} if party == tally.SINK else {}

    assert tally.statuses(Sink(0), "ok").clean  # type: ignore[arg-type]
    late = tally.statuses(Sink(2), "ok")  # type: ignore[arg-type]
    assert (late.lost, late.fates, late.clean) == (0, "out-of-order=2", False)
    assert tally.statuses(Sink(1), "pending=1").fates == "pending=1,out-of-order=1"  # type: ignore[arg-type]


def test_a_drill_world_seeds_each_person_once(tmp_path: Path) -> None:
    """At 10,000 records the generator repeats 17 people, whose second case the hub holds by design: the
    drills' 前置库 takes each person once, and still as many records as asked."""
    from sqlalchemy import func, select

    from bench.drills.world import seed_valid
    from connectors.hrss.frontend import FrontendDB, applications
    from connectors.hrss.mapping import APPLICATION_COLUMNS as A
    from lianban.app.config import Paths
    from lianban.app.setup import init

    paths = Paths.from_env({"LIANBAN_HOME": str(tmp_path)})
    init(paths, with_frontend=True)
    seed_valid(paths.frontend_url, 10_000)
    people = applications.c[A["id_number"]]
    with FrontendDB(paths.frontend_url).engine.connect() as conn:
        rows, persons = conn.execute(select(func.count(), func.count(people.distinct()))).one()
    assert rows == persons == 10_000
