"""The status sweep (issue 12 §4): ``python -m bench.sweep [--items N]`` (``make bench-sweep``).

Builds a world (:mod:`bench.drills.world`) holding about N open case items: synthetic approvals staged and
delivered by the real pipeline, the departments' status clock fast enough that every delivered item has
moved on by the time of the sweep, and HRSS's log holding the whole path of each of its own items. Then it
times the sweep the feedback DAG makes, each step in its own process as Airflow runs its tasks: HRSS's log
collected and every department polled, all at once (as the DAG's collection tasks run), then every change
reported to 皖事通办. Prints the open items, the changes, the time and the rate, and checks exactly-once at
the sink (every event the ledger holds received once, nothing left unreported, no change kept twice) and, from
the sources themselves, that every item is shown at 皖事通办 as its party holds it now (a change the hub never
collected, say one past a per-run cap, is no event in the ledger: only the sources can show it missing).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.drills import tally
from bench.drills.world import World
from bench.kit import ROOT, save

ITEMS_PER_RECORD = 4.5  # chosen items per synthetic application (simulators.people.ITEM_ODDS)
DEPARTMENT_STEP = 1.0  # seconds per status step at the departments: every item has moved by the sweep
TARGET_SECONDS = 30.0
JOB = ("import faulthandler, json, sys; faulthandler.enable(); from lianban.app import jobs; "
       "print(json.dumps(getattr(jobs, sys.argv[1])(*sys.argv[2:])))")


def _hrss_paths(world: World) -> int:
    """HRSS writes the whole path of each of its own items into its log (受理 … 已办结, a second apart)."""
    from sqlalchemy import insert, select

    from connectors.hrss.frontend import FrontendDB, applications, status_log
    from connectors.hrss.mapping import APPLICATION_COLUMNS as A
    from connectors.hrss.mapping import STATUS_COLUMNS as S
    from connectors.hrss.statuses import CODES
    from lianban.domain.catalog import load_catalog
    from simulators.engine import choose_path

    db, own = FrontendDB(world.frontend_url), {c for c, i in load_catalog().items.items() if i.department == "hrss"}
    with db.engine.connect() as conn:
        chosen = conn.execute(select(applications.c[A["case_no"]], applications.c[A["items"]])).all()
    start, rows = datetime.now(UTC), []
    for case_no, items in chosen:
        for item in (i for i in items.split(",") if i in own):
            path, reason = choose_path(f"hrss|{case_no}|{item}", completes=True)
            rows += [{S["case_no"]: case_no, S["item_code"]: item, S["status_code"]: CODES[status],
                      S["reason"]: reason if status.is_terminal() else None,
                      S["changed_at"]: (start + timedelta(seconds=n)).isoformat(timespec="seconds")}
                     for n, status in enumerate(path)]
    with db.engine.begin() as conn:
        conn.execute(insert(status_log), rows)
    return len(rows)


def _open_items(world: World) -> int:
    from sqlalchemy import func, select

    from lianban.app.config import Paths
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import CaseItem

    with session_factory(Paths.from_env(world.env).existing_ledger())() as session:
        return int(session.scalar(select(func.count()).select_from(CaseItem).where(CaseItem.final.is_(False))) or 0)


def _events(world: World) -> tuple[int, int]:
    """(status events in the ledger, of those not reported yet)."""
    from sqlalchemy import func, select

    from lianban.app.config import Paths
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import StatusEvent

    with session_factory(Paths.from_env(world.env).existing_ledger())() as session:
        total = session.scalar(select(func.count()).select_from(StatusEvent)) or 0
        left = session.scalar(select(func.count()).select_from(StatusEvent).where(StatusEvent.reported_at.is_(None)))
    return int(total), int(left or 0)


def _jobs(world: World, *calls: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each call ``(job, *args)`` of :mod:`lianban.app.jobs` in its own process, all at once; each answer
    (its JSON counts). Output goes to files, as a task's log does: a job blocked on a full pipe would hold
    the ledger's write lock meanwhile (an alert logged inside a transaction), and the others would wait on it
    until SQLite gave up (``database is locked``)."""
    with tempfile.TemporaryDirectory(prefix="sweep-") as logs:
        runs = [_Job(call, Path(logs) / str(n)) for n, call in enumerate(calls)]
        started = [run.start(world) for run in runs]  # all running before any is waited for
        return [run.answer() for run in started]


class _Job:
    """One job in a process of its own, its output in files."""

    def __init__(self, call: tuple[str, ...], base: Path) -> None:
        self.call, self.out, self.err = call, base.with_suffix(".out"), base.with_suffix(".err")

    def start(self, world: World) -> _Job:
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-c", JOB, *self.call], env=world.env, cwd=ROOT,
                                         stdout=out, stderr=err)
        return self

    def answer(self) -> dict[str, Any]:
        code, stdout = self.proc.wait(), self.out.read_text().strip()
        answer: dict[str, Any] = json.loads(stdout.splitlines()[-1]) if stdout else \
            {"error": f"no answer (exit {code}): {self.err.read_text()[-300:]}"}
        return answer


def prepare(items: int, home: Path) -> World:
    records = math.ceil(items / ITEMS_PER_RECORD)
    world = World.create(home, records, step=DEPARTMENT_STEP)
    world.run("stage")
    for department in tally.pushed():
        while world.run("deliver", department).get("sent"):
            pass
    _hrss_paths(world)
    time.sleep(6 * DEPARTMENT_STEP)  # the longest department path has run its course
    return world


def sweep(world: World) -> dict[str, Any]:
    """One sweep, timed: collect (HRSS's log and every department at once), then report."""
    open_items, (events_before, _) = _open_items(world), _events(world)
    started = time.perf_counter()
    collected = _jobs(world, ("collect_hrss",), *(("poll", d) for d in tally.pushed()))
    collected_s = time.perf_counter() - started
    reported = _jobs(world, ("report",))[0]
    seconds = time.perf_counter() - started
    events, unreported = _events(world)
    sink, (items, not_shown, glitched) = world.stats(tally.SINK), shown(world)
    return {"source_items": items, "not_shown": not_shown, "glitched": glitched, "open_items": open_items,
            "changes": sum(int(c.get("changed", 0)) for c in collected),
            "read": sum(int(c.get("read", 0)) for c in collected), "new_events": events - events_before,
            "reported": int(reported.get("changed", 0)), "collect_s": round(collected_s, 1),
            "seconds": round(seconds, 1), "items_per_s": round(open_items / seconds),
            "unreported": unreported, "sink_events": sink["events"], "ledger_events": events,
            "sink_duplicates": tally.sink_duplicates(world),
            "stopped_by": [c.get("stopped_by") or c.get("error") for c in [*collected, reported]
                           if c.get("stopped_by") or c.get("error")]}


def _glitched(world: World) -> set[tuple[str, str]]:
    """The (办件编号, 事项编码) whose department misreported them on purpose in a poll (an old or illegal status,
    once each: :mod:`simulators.engine`); the hub rightly keeps its last word until the next poll."""
    return {(case_no, item) for d in tally.pushed() for case_no, item in tally.rows(
        world.home / "simulators" / f"{d}.db", "SELECT r.case_no, r.item_code FROM received r "
        "JOIN glitched g ON g.idempotency_key = r.idempotency_key")}


def shown(world: World) -> tuple[int, int, int]:
    """(items compared, of those not shown at 皖事通办 as their party holds them now, items left out because
    their department misreported them on purpose in this sweep's poll), read from the sources, not the ledger."""
    truth, sink, glitched = tally.source_statuses(world), tally.sink_statuses(world), _glitched(world)
    compared = [pair for pair in truth if pair not in glitched]
    return len(compared), sum(1 for pair in compared if sink.get(pair) != truth[pair].value), len(truth) - len(compared)


def exactly_once(result: dict[str, Any]) -> bool:
    """Every change the ledger holds received once at 皖事通办, nothing left unreported or stopped, and every item
    shown there as its party (the department's own engine, HRSS's log) holds it now: a sweep that read only part
    of a source is not one that met its target."""
    return (result["unreported"] == 0 and result["sink_events"] == result["ledger_events"]
            and result["sink_duplicates"] == 0 and result["not_shown"] == 0 and not result["stopped_by"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "sweep")
    args = parser.parse_args(argv)
    built = time.perf_counter()
    with prepare(args.items, args.home / f"n{args.items}") as world:
        print(f"prepared {world.records:,} applications in {time.perf_counter() - built:.0f} s", flush=True)
        result = sweep(world)
    print(f"sweep: {result['open_items']:,} open items, {result['read']:,} statuses read, {result['changes']:,} "
          f"changes, {result['reported']:,} events reported to 皖事通办 (collect {result['collect_s']} s)")
    exact = exactly_once(result)
    print(f"exactly once: {'yes' if exact else 'NO'} (ledger {result['ledger_events']:,} events, 皖事通办 "
          f"{result['sink_events']:,}, unreported {result['unreported']}, duplicates {result['sink_duplicates']}; "
          f"of {result['source_items']:,} items, {result['not_shown']:,} not shown at 皖事通办 as their party holds "
          f"them ({result['glitched']:,} more misreported on purpose by their department, taken next poll)"
          f"{', stopped: ' + '; '.join(result['stopped_by']) if result['stopped_by'] else ''})")
    print(f"status sweep: {result['seconds']} s, {result['items_per_s']:,} items/s (target ≤ {TARGET_SECONDS:g} s)")
    save(ROOT / "bench" / "results" / f"sweep-{args.items}.json", result)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
