"""Counting a drill's outcome from the parties' own stores, never from the hub's claims.

Deliveries: what the 前置库 asks for (each application × each chosen item a department handles) against what
each department's own store holds (``<home>/simulators/<department>.db``, table ``received``)::

    sent        (department, 办件编号, 事项编码) the source asks for
    received    of those, how many the department holds
    duplicates  a pair the department holds more than once (under another idempotency key), or one nobody asked
                for; a resend the department recognised by its key is not a duplicate (it is counted apart)
    lost        sent − received

Statuses: what each party says now (the department's own engine over its store, HRSS's 前置库 status log, HRSS's
payment of item 13 completing it) against the newest status 皖事通办 shows for each item (its ``items`` table);
a duplicate is the same change (item, status, time) received under two event ids.

Fates: the hub's reconciliation report (``lianban report --json``) must add up, with every seeded row read and
staged and, after a delivery drill, nothing pending or dead.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.drills.world import World
from lianban.domain.catalog import load_catalog
from lianban.domain.statuses import Status

Pair = tuple[str, str]  # (办件编号, 事项编码)
Push = tuple[str, str, str]  # (department, 办件编号, 事项编码)
SINK = "wanshi_tong"


@dataclass(frozen=True)
class Tally:
    sent: int
    received: int
    duplicates: int
    lost: int
    fates: str = "ok"

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.fates == "ok"

    def line(self, name: str) -> str:
        return (f"drill {name}: sent={self.sent} received={self.received} duplicates={self.duplicates} "
                f"lost={self.lost} fates={self.fates}")


def rows(db: Path, query: str) -> list[Any]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(query).fetchall()


def pushed() -> list[str]:
    return load_catalog().pushed_departments()


def expected_pushes(world: World) -> set[Push]:
    """Every (department, 办件编号, 事项编码) the 前置库's applications ask to be pushed."""
    from sqlalchemy import select

    from connectors.hrss.frontend import FrontendDB, applications
    from connectors.hrss.mapping import APPLICATION_COLUMNS as A

    items = {code: item.department for code, item in load_catalog().items.items() if item.fields}
    query = select(applications.c[A["case_no"]], applications.c[A["items"]])
    with FrontendDB(world.frontend_url).engine.connect() as conn:
        rows = conn.execute(query).all()
    return {(items[code], case_no, code) for case_no, chosen in rows for code in chosen.split(",") if code in items}


def received_pushes(world: World) -> list[Push]:
    """What each department's own store holds, one entry per stored row."""
    store = world.home / "simulators"
    return [(d, case_no, item) for d in pushed()
            for case_no, item in rows(store / f"{d}.db", "SELECT case_no, item_code FROM received")]


def resends(world: World) -> int:
    """Deliveries the departments recognised by their key and answered duplicate (a resend, not a duplicate)."""
    return sum(int(world.stats(d).get("duplicates", 0)) for d in pushed())


def deliveries(world: World, fates: str) -> Tally:
    expected, held = expected_pushes(world), Counter(received_pushes(world))
    duplicates = sum(n - 1 for n in held.values()) + len(set(held) - expected)
    got = len(set(held) & expected)
    return Tally(len(expected), got, duplicates, len(expected) - got, fates)


def fates(world: World, deliveries_done: bool = True) -> str:
    """``ok`` when the reconciliation report adds up with every seeded row staged (and, `deliveries_done`,
    nothing pending or dead); else what is off, e.g. ``pending=3``."""
    report = world.reconciliation()
    totals, said = report.get("totals", {}), list(report.get("problems", []))
    wrong = {"extracted": totals.get("extracted") != world.records, "staged": totals.get("staged") != world.records}
    if deliveries_done:
        wrong |= {k: bool(totals.get(k)) for k in ("pending", "dead", "refused")}
    said += [f"{k}={totals.get(k)}" for k, bad in wrong.items() if bad]
    return ",".join(s.replace(" ", "") for s in said) or "ok"


# -- statuses ------------------------------------------------------------------------------------------------
def _hrss_latest(world: World) -> dict[Pair, Status]:
    from connectors.hrss.frontend import FrontendDB
    from lianban.domain.statuses import StatusChange

    log = FrontendDB(world.frontend_url).status_changes_since(0, 10**9)
    return {(c.case_no, c.item_code): c.status for c in log if isinstance(c, StatusChange)}


def _department_now(world: World, department: str) -> dict[Pair, Status]:
    """What the department's own engine says of every item it holds (no deliberate glitches)."""
    from simulators.engine import DepartmentEngine
    from simulators.runner import department_opener

    db = world.home / "simulators" / f"{department}.db"
    engine = DepartmentEngine(department, department_opener(world.keys_dir, department), db, world.step)
    pairs = {key: (case_no, item) for key, case_no, item in
             rows(db, "SELECT idempotency_key, case_no, item_code FROM received")}
    return {pairs[v.idempotency_key]: v.status for v in engine.current() if v.idempotency_key in pairs}


def source_statuses(world: World) -> dict[Pair, Status]:
    """Each item's status as its party holds it; HRSS's log last (its payment completes item 13)."""
    truth: dict[Pair, Status] = {}
    for department in pushed():
        truth.update(_department_now(world, department))
    truth.update(_hrss_latest(world))
    return truth


def sink_statuses(world: World) -> dict[Pair, str]:
    """The newest status 皖事通办 shows for each item (its 事项编码 read back through the platform's code table)."""
    from connectors.wanshi_tong.codes import load_codes

    item_of = {service: item for item, service in load_codes().items.items()}
    db = world.home / "simulators" / f"{SINK}.db"
    return {(p, item_of.get(s, s)): name for p, s, name in rows(db, "SELECT projid, item_code, status_name FROM items")}


def sink_duplicates(world: World) -> int:
    """The same change (case, item, status, time) kept under more than one event id."""
    db = world.home / "simulators" / f"{SINK}.db"
    query = ("SELECT COUNT(*) FROM events GROUP BY projid, item_code, status_code, json_extract(body, '$.NODETIME') "
             "HAVING COUNT(*) > 1")
    return sum(int(n) - 1 for (n,) in rows(db, query))


def statuses(world: World, fates_said: str) -> Tally:
    """Each item's status at its party against the newest 皖事通办 shows; and every event that reached 皖事通办 in
    its case's order: one arriving with a version (DATAVER) no higher than one its case already had would be an
    older change reported after a newer one, which 皖事通办's newest hides (``out-of-order=N`` in the fates)."""
    truth, shown = source_statuses(world), sink_statuses(world)
    got = sum(1 for pair, status in truth.items() if shown.get(pair) == status.value)
    late = int(world.stats(SINK).get("out_of_order", 0))
    said = noted(fates_said, f"out-of-order={late}") if late else fates_said
    return Tally(len(truth), got, sink_duplicates(world), len(truth) - got, said)


def noted(fates: str, problem: str) -> str:
    """`fates` with `problem` added: in place of ``ok``, which it no longer is, or after what is off already."""
    return problem if fates == "ok" else f"{fates},{problem}"


def settled(world: World) -> bool:
    """Every item final at its party, and 皖事通办 showing exactly that."""
    truth, shown = source_statuses(world), sink_statuses(world)
    return all(s.is_terminal() and shown.get(p) == s.value for p, s in truth.items())


def parse_line(line: str) -> dict[str, str]:
    """The fields of a ``drill NAME: key=value …`` line (what the CI test reads)."""
    name, _, rest = line.removeprefix("drill ").partition(": ")
    return {"name": name, **dict(part.split("=", 1) for part in rest.split())}
