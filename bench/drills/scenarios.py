"""The fault drills, each in a world of its own (:mod:`bench.drills.world`), each counted by
:mod:`bench.drills.tally`. A drill returns its :class:`~bench.drills.tally.Tally` and a few notes to print.

    department-down   housing_fund answers 503 for three batches in the middle of its push (fault
                      ``outage_requests``), then is back: the failed batches back off and go once due
    deliver-kill      ``lianban run deliver DEPT`` SIGKILLed at K random points while it sends, then restarted
    stage-kill        ``lianban run stage`` SIGKILLed at random points while it stages, then restarted
    slow-department   medical answers every request late: health and housing_fund finish on their own time
                      (as in a world without the latency, where medical still took its share of the cores)
    status-echo       status messages duplicated and reordered: HRSS's log repeats old and newest rows, the
                      REST departments push every item's first and newest status twice, newest first, beside
                      the polls (whose answers carry the simulators' own out-of-order and illegal reports)
    wanshi-down       皖事通办 down during the reports, then answering with lost answers, then back

A killed ``deliver`` holds the batch it was sending under a 10-minute lease (:mod:`lianban.ledger.outbox`);
the drill does not wait that out: once the process is gone it ends the lease, as the clock would.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.drills import tally
from bench.drills.tally import SINK, Tally
from bench.drills.world import World, wait_until
from lianban.app.config import conn_env_name
from lianban.domain.batches import chunks
from lianban.wire.settings import default_batch_size

REST_DEPARTMENTS = ("health", "housing_fund")  # the departments that can push (medical is polled only)
PUSH_ROWS = 500
KILL_WAIT = 120.0  # seconds a started process may take to show work (imports on a busy machine)
STATUS_STEP = 0.3  # seconds per status step at the simulated parties in the status drills


@dataclass(frozen=True)
class Options:
    records: int
    home: Path
    kills: int = 20  # deliver kill points
    stage_kills: int = 5
    latency: float = 1.0  # seconds the slow department adds to every answer
    seed: int = 12
    timeout: float = 600.0  # per drill, for the pipeline to settle after the faults


@dataclass
class Outcome:
    tally: Tally
    notes: list[str] = field(default_factory=list)


Drill = Callable[[Options], Outcome]


# -- helpers -----------------------------------------------------------------------------------------------------
def _deliver_until_done(world: World, timeout: float) -> None:
    """Run ``lianban run deliver`` for each department until the hub has nothing left to send it (every row
    answered: a row whose answer a kill lost is sent again and answered duplicate), or `timeout`."""
    deadline = time.monotonic() + timeout
    for department in tally.pushed():
        while _outstanding(world, department) and time.monotonic() < deadline:
            if not world.run("deliver", department).get("sent"):
                time.sleep(1.0)  # a batch backing off (30 s after a first failure)


def _outstanding(world: World, department: str) -> int:
    """The department's deliveries the hub still has to send (due, backing off or leased): loop control only;
    the drill counts at the departments."""
    from sqlalchemy import func, select

    from lianban.app.config import Paths
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Delivery
    from lianban.ledger.store import DUE_STATES

    with session_factory(Paths.from_env(world.env).existing_ledger())() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.department == department, Delivery.state.in_(list(DUE_STATES)))) or 0)


def _deliver_all_at_once(world: World) -> dict[str, float]:
    """One deliver process per department started together; each one's finish time in seconds."""
    started = time.monotonic()
    procs = {d: world.spawn("run", "deliver", d) for d in tally.pushed()}
    finish: dict[str, float] = {}
    while len(finish) < len(procs):
        finish |= {d: round(time.monotonic() - started, 1) for d, p in procs.items()
                   if d not in finish and p.poll() is not None}
        time.sleep(0.05)
    return finish


def _end_lease(world: World, department: str) -> int:
    """A killed run's batch falls due again (its lease ends): never-answered rows held past now become due."""
    from sqlalchemy import update

    from lianban.app.config import Paths
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Delivery
    from lianban.ledger.store import DeliveryState, utcnow

    now = utcnow()
    with session_factory(Paths.from_env(world.env).existing_ledger()).begin() as session:
        done = session.execute(update(Delivery).where(Delivery.department == department,
                                                      Delivery.state == DeliveryState.PENDING,
                                                      Delivery.next_attempt_at > now).values(next_attempt_at=now))
    return int(getattr(done, "rowcount", 0) or 0)


def _kill_once_moving(proc: subprocess.Popen[str], moving: Callable[[], bool], jitter: float,
                      every: float = 0.1) -> bool:
    """SIGKILL `proc` `jitter` seconds after its work shows (`moving`, asked each `every` seconds); whether it was
    still running then."""
    wait_until(lambda: proc.poll() is not None or moving(), KILL_WAIT, every=every)
    time.sleep(jitter)
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


def _taken_in(world: World, department: str) -> int:
    """Deliveries the department has taken in so far, new ones and resends it answered duplicate (read at the
    department): a run that begins by resending a killed run's batches is at work too."""
    stats = world.stats(department)
    return int(stats["unique"]) + int(stats.get("duplicates", 0))


def _held(world: World, department: str, before: int) -> bool:
    """Whether the department has taken in more than `before` deliveries (:func:`_taken_in`)."""
    return _taken_in(world, department) > before


def _taken_past(world: World, target: int) -> bool:
    return _taken(world) >= target


def _taken(world: World) -> int:
    """Rows of the 前置库 the hub has flagged taken (progress of a staging run, read at the source)."""
    from sqlalchemy import func, select

    from connectors.hrss.frontend import FrontendDB, applications
    from connectors.hrss.mapping import APPLICATION_COLUMNS as A

    query = select(func.count()).select_from(applications).where(applications.c[A["sync_flag"]] != "0")
    with FrontendDB(world.frontend_url).engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _converge(world: World, timeout: float, each_round: Callable[[int], None] = lambda _: None,
              seen: Callable[[int, str, dict[str, Any]], None] = lambda *_: None) -> int:
    """Rounds of supplements → collect → report (the feedback DAG's steps) until every item is final at its
    party and 皖事通办 shows it, or `timeout`; the number of rounds. `seen` is told each step's result, with its
    round."""
    deadline, rounds = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        rounds += 1
        each_round(rounds)
        for step in ("supplements", "collect", "report"):
            seen(rounds, step, world.run(step))
        if tally.settled(world):
            break
    return rounds


def _batches_of(world: World, department: str, size: int) -> int:
    """`department`'s connection set to send batches of `size` (so that even a small drill's push has several
    batches, and the outage can land in the middle of it); `size`."""
    name = conn_env_name(department)
    connection = json.loads(world.env[name])
    extra = connection.get("extra") or {}
    connection["extra"] = {**(json.loads(extra) if isinstance(extra, str) else extra), "batch_size": size}
    world.env[name] = json.dumps(connection)
    return size


def _kill_target(world: World, rng: random.Random) -> str:
    """A department the hub still has deliveries for, chosen at random (any, once none is left): a run started
    for a department already done finds nothing to send and ends before the kill, which then tests nothing."""
    departments = tally.pushed()
    return rng.choice([d for d in departments if _outstanding(world, d)] or departments)


def _unless(happened: bool, fates: str, missed: str) -> str:
    """`fates`, with `missed` added when the drill's fault never happened: a drill that injected nothing tested
    nothing, and must not pass as if it had."""
    return fates if happened else tally.noted(fates, missed)


# -- the drills ----------------------------------------------------------------------------------------------------
def department_down(o: Options) -> Outcome:
    department = "housing_fund"
    with World.create(o.home / "department-down", o.records) as world:
        world.run("stage")
        pushes = len({p for p in tally.expected_pushes(world) if p[0] == department})
        size = _batches_of(world, department, min(default_batch_size(department), max(1, pushes // 6)))
        batches = math.ceil(pushes / size)
        first = max(1, batches // 3)  # after a third of the push went through
        down = (first, first + max(1, min(3, batches - first)))
        world.set_faults(department, outage_requests=list(down))
        runs = [world.run("deliver", department) for _ in range(down[1] - down[0] + 1)]
        stopped = sum(1 for r in runs if r.get("stopped_by"))
        _deliver_until_done(world, o.timeout)
        notes = [f"{department} down for its batches {down[0] + 1}–{down[1]} of {batches}; {stopped} runs "
                 f"stopped on it; resent and answered duplicate: {tally.resends(world)}"]
        return Outcome(tally.deliveries(world, _unless(stopped > 0, tally.fates(world), "outage-missed")), notes)


def deliver_kill(o: Options) -> Outcome:
    rng = random.Random(o.seed)
    with World.create(o.home / "deliver-kill", o.records) as world:
        world.run("stage")
        landed, released = 0, 0
        for _ in range(o.kills):
            department = _kill_target(world, rng)
            before = _taken_in(world, department)
            proc = world.spawn("run", "deliver", department)
            landed += _kill_once_moving(proc, partial(_held, world, department, before), rng.uniform(0.0, 0.4))
            released += _end_lease(world, department)
        _deliver_until_done(world, o.timeout)
        notes = [f"{landed} of {o.kills} kills landed while delivering; {released} leased rows fell due again; "
                 f"resent and answered duplicate: {tally.resends(world)}"]
        said = _unless(landed > 0 or not o.kills, tally.fates(world), "no-kill-landed")
        return Outcome(tally.deliveries(world, said), notes)


def stage_kill(o: Options) -> Outcome:
    rng = random.Random(o.seed + 1)
    with World.create(o.home / "stage-kill", o.records) as world:
        landed = 0
        for _ in range(o.stage_kills):
            # at a random point of what is left, by rows taken (a time after the start would miss: a 10,000-row
            # run takes its rows in about a second once its validation worker is up, then nothing is left)
            before = _taken(world)
            target = before + max(1, round((o.records - before) * rng.uniform(0.05, 0.6)))
            proc = world.spawn("run", "stage")
            landed += _kill_once_moving(proc, partial(_taken_past, world, target), rng.uniform(0.0, 0.05), 0.02)
        world.run("stage")
        _deliver_until_done(world, o.timeout)
        notes = [f"{landed} of {o.stage_kills} kills landed while staging ({_taken(world)} rows taken in the end)"]
        said = _unless(landed > 0 or not o.stage_kills, tally.fates(world), "no-kill-landed")
        return Outcome(tally.deliveries(world, said), notes)


SLOW_ALLOWANCE = 2.0, 3.0  # the others may take twice their time in the world without the slow one, plus 3 s


def waited(finish: dict[str, float], alone: dict[str, float], slow: str) -> list[str]:
    """The departments other than `slow` that waited for it: done no sooner than it, or later than their own time
    in a world without its latency (`alone`, where it still took its share of the cores) allows
    (:data:`SLOW_ALLOWANCE`: the machine's noise). Waiting on the slow department's answers, as one delivery
    after another or a lock held through its calls would, costs them its latency for each of its batches."""
    times, plus = SLOW_ALLOWANCE
    return sorted(d for d, t in finish.items()
                  if d != slow and (t >= finish[slow] or t > alone[d] * times + plus))


def slow_department(o: Options) -> Outcome:
    slow = "medical"
    with World.create(o.home / "slow-department-reference", o.records) as reference:
        reference.run("stage")
        alone = _deliver_all_at_once(reference)
    with World.create(o.home / "slow-department", o.records, faults=f"{slow}:latency={o.latency:g}") as world:
        world.run("stage")
        finish = _deliver_all_at_once(world)
        _deliver_until_done(world, o.timeout)
        late = waited(finish, alone, slow)
        said = tally.fates(world)
        said = tally.noted(said, f"others-waited={'+'.join(late)}") if late else said
        notes = ["finish times: " + ", ".join(f"{d} {t} s" + (f" (slow: +{o.latency:g} s per answer)" if d == slow
                                                            else f" ({alone[d]} s without the latency)")
                                              for d, t in sorted(finish.items()))]
        return Outcome(tally.deliveries(world, said), notes)


def _first_and_newest(world: World, department: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item's newest status, and the first one of those that moved on since (受理 at its receipt, as
    the department said it then), in the department's own codes: rows of a status push."""
    from lianban.domain.statuses import Status
    from simulators.engine import DepartmentEngine
    from simulators.runner import department_opener

    codes = importlib.import_module(f"connectors.{department}.statuses").CODES
    db = world.home / "simulators" / f"{department}.db"
    engine = DepartmentEngine(department, department_opener(world.keys_dir, department), db, world.step)
    received = dict(tally.rows(db, "SELECT idempotency_key, received_at FROM received"))
    views = engine.current()
    newest = [{"idempotency_key": v.idempotency_key, "code": codes[v.status], "reason": v.reason,
               "changed_at": v.changed_at, "materials": list(v.materials), "result": v.result} for v in views]
    first = [{"idempotency_key": v.idempotency_key, "code": codes[Status.ACCEPTED], "reason": None,
              "changed_at": datetime.fromtimestamp(received[v.idempotency_key], UTC).isoformat(), "materials": [],
              "result": None} for v in views if v.status not in (Status.ACCEPTED, Status.NOT_ACCEPTED)]
    return newest, first


def _push_echoes(world: World, hub_url: str) -> int:
    """Each REST department pushes every item's newest status, then its first (late), then the newest again;
    the number of rows pushed."""
    from lianban.wire.gateway import GatewayAuth

    creds, pushed = json.loads((world.home / "simulators" / "credentials.json").read_text()), 0
    for department in REST_DEPARTMENTS:
        newest, first = _first_and_newest(world, department)
        url = f"{hub_url}/api/v1/departments/{department}/status"
        with requests.Session() as session:
            session.auth = GatewayAuth(creds[department]["login"], creds[department]["password"])
            for rows in (newest, first, newest):
                for chunk in chunks(rows, PUSH_ROWS):
                    session.post(url, json={"statuses": chunk}, timeout=60).raise_for_status()
                    pushed += len(chunk)
    return pushed


def _echo_hrss_log(world: World) -> int:
    """HRSS's log repeats, for every finished item of its own, its first row (late) and its newest row again,
    in one transaction (so HRSS's own back office never takes the old row for the newest); rows written."""
    from sqlalchemy import insert

    from connectors.hrss.frontend import FrontendDB, status_log
    from connectors.hrss.mapping import STATUS_COLUMNS as S
    from lianban.domain.statuses import StatusChange

    db = FrontendDB(world.frontend_url)
    first: dict[tuple[str, str], StatusChange] = {}
    newest: dict[tuple[str, str], StatusChange] = {}
    for change in db.status_changes_since(0, 10**9):
        if isinstance(change, StatusChange):
            first.setdefault((change.case_no, change.item_code), change)
            newest[(change.case_no, change.item_code)] = change
    echoes = [c for pair, last in newest.items() if last.status.is_terminal() for c in (first[pair], last)]
    rows = [{S["case_no"]: c.case_no, S["item_code"]: c.item_code, S["status_code"]: c.department_code,
             S["reason"]: c.reason, S["changed_at"]: c.changed_at, S["materials"]: ",".join(c.materials) or None,
             S["result"]: json.dumps(c.result, ensure_ascii=False) if c.result else None} for c in echoes]
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert(status_log), rows)
    return len(rows)


def _status_world(o: Options, name: str) -> World:
    """Departments and HRSS's back office moving fast; everything staged and delivered."""
    world = World.create(o.home / name, o.records, step=STATUS_STEP, with_hrss=True)
    world.run("stage")
    _deliver_until_done(world, o.timeout)
    return world


def status_echo(o: Options) -> Outcome:
    with _status_world(o, "status-echo") as world:
        hub = world.spawn("serve", "--port", "0", stdout=subprocess.PIPE)
        try:
            assert hub.stdout is not None
            hub_url = json.loads(hub.stdout.readline())["url"]
            echoed = {"pushed": 0, "logged": 0}

            def echo(round_no: int) -> None:
                if round_no in (2, 4, 6):
                    echoed["pushed"] += _push_echoes(world, hub_url)
                    echoed["logged"] += _echo_hrss_log(world)

            rounds = _converge(world, o.timeout, echo)
        finally:
            hub.terminate()
            hub.wait()
        notes = [f"{rounds} rounds; echoes: {echoed['pushed']} rows pushed by departments, {echoed['logged']} rows "
                 f"repeated in HRSS's log; the hub's out-of-order and illegal reports kept aside: "
                 f"{_illegal(world)}"]
        return Outcome(tally.statuses(world, tally.fates(world)), notes)


#: wanshi-down's weather, by the round each begins: 皖事通办 down, then half its answers lost, then back
DOWN, LOSSY, BACK = 1, 3, 5


def wanshi_down(o: Options) -> Outcome:
    with _status_world(o, "wanshi-down") as world:
        def weather(round_no: int) -> None:
            faults: dict[int, dict[str, Any]] = {DOWN: {"outage": [0, 3600]},
                                                 LOSSY: {"malformed": 0.5, "seed": o.seed}, BACK: {}}
            if round_no in faults:
                world.set_faults(SINK, **faults[round_no])

        stopped: list[int] = []  # the rounds whose report the outage stopped: proof that it landed

        def outage_met(round_no: int, step: str, result: dict[str, Any]) -> None:
            if step == "report" and DOWN <= round_no < LOSSY and (result.get("stopped_by") or result.get("error")):
                stopped.append(round_no)

        rounds = _converge(world, o.timeout, weather, outage_met)
        resent = world.stats(SINK)["duplicates"]
        notes = [f"{rounds} rounds ({DOWN}–{LOSSY - 1} down: {len(stopped)} report runs stopped by it; "
                 f"{LOSSY}–{BACK - 1} half the answers lost); events resent and answered duplicate by 皖事通办: "
                 f"{resent}"]
        return Outcome(tally.statuses(world, _unless(bool(stopped), tally.fates(world), "no-outage-landed")), notes)


def _illegal(world: World) -> int:
    return int(world.cli("status").get("illegal_transitions", 0) or 0)


DRILLS: dict[str, Drill] = {
    "department-down": department_down, "deliver-kill": deliver_kill, "stage-kill": stage_kill,
    "slow-department": slow_department, "status-echo": status_echo, "wanshi-down": wanshi_down,
}
