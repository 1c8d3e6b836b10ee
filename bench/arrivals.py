"""Whether a bench's records really arrived, counted from the ledger and from each department's own store, before
any rate is printed: a run that stopped early (a department down, a run ending on an error between its batches)
must not print a rate over records it never delivered.

    every seeded row read           the staging run's ``extracted`` equals the rows seeded
    every delivery answered         the ledger's deliveries are all ``accepted`` (none pending, retrying, refused
                                    or dead), as many as staging sealed
    held at the department          the idempotency keys the ledger holds accepted for a department are exactly
                                    the keys the department's store (``<home>/simulators/<department>.db``) holds,
                                    and the department holds no (办件编号, 事项编码) twice

Keys are compared inside SQLite (the department's store attached to the ledger), so a million-record run holds
none of them in the bench's own memory. The ledger must be SQLite, as a bench's own home makes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from lianban.app.config import sqlite_file


class NotArrived(RuntimeError):
    """Some records did not arrive (or arrived twice): what the bench measured is not a delivery rate."""


def _ledger_file(ledger_url: str) -> Path:
    path = sqlite_file(make_url(ledger_url))
    if path is None or not path.is_file():
        raise NotArrived(f"台账 {ledger_url} 不是 SQLite 文件，无法核对送达 (the ledger is not a SQLite file: cannot "
                         f"check arrivals)")
    return path


def problems(ledger_url: str, store: Path, departments: Iterable[str], seeded: int,
             staged: Mapping[str, Any]) -> list[str]:
    """What is off, one entry each (empty: every record arrived once); `store` the simulators' folder."""
    said = [] if staged.get("extracted") == seeded else [f"extracted {staged.get('extracted')} of {seeded} seeded"]
    with closing(sqlite3.connect(f"file:{_ledger_file(ledger_url)}?mode=ro", uri=True)) as ledger:
        states = dict(ledger.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
        said += [f"{state}={n} in the ledger" for state, n in sorted(states.items()) if state != "accepted"]
        if sum(states.values()) != staged.get("deliveries"):
            said.append(f"{sum(states.values())} deliveries in the ledger, staging sealed {staged.get('deliveries')}")
        for department in departments:
            said += _held(ledger, department, store / f"{department}.db")
    return said


def _held(ledger: sqlite3.Connection, department: str, db: Path) -> list[str]:
    """The department's store against the ledger's accepted keys for it."""
    if not db.is_file():
        accepted = ledger.execute("SELECT COUNT(*) FROM deliveries WHERE department = ? AND state = 'accepted'",
                                  (department,)).fetchone()[0]
        return [f"{department}: no store at {db}"] if accepted else []
    ledger.execute("ATTACH DATABASE ? AS dept", (f"file:{db}?mode=ro",))
    try:
        missing = ledger.execute(  # each side's keys looked up in the other's once (no scan per row)
            "SELECT COUNT(*) FROM deliveries WHERE department = ? AND state = 'accepted' AND idempotency_key NOT IN "
            "(SELECT idempotency_key FROM dept.received)", (department,)).fetchone()[0]
        unknown = ledger.execute(
            "SELECT COUNT(*) FROM dept.received WHERE idempotency_key NOT IN (SELECT idempotency_key FROM deliveries "
            "WHERE department = ? AND state = 'accepted')", (department,)).fetchone()[0]
        twice = ledger.execute("SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM dept.received "
                               "GROUP BY case_no, item_code HAVING n > 1)").fetchone()[0]
    finally:
        ledger.execute("DETACH DATABASE dept")
    return [f"{department}: {what}" for n, what in ((missing, f"{missing} accepted in the ledger but not held"),
                                                    (unknown, f"{unknown} held but not accepted in the ledger"),
                                                    (twice, f"{twice} held twice")) if n]


def check(ledger_url: str, store: Path, departments: Iterable[str], seeded: int, staged: Mapping[str, Any]) -> None:
    """:func:`problems`, raised as :class:`NotArrived` (in Chinese and English) when there are any."""
    said = problems(ledger_url, store, departments, seeded, staged)
    if said:
        raise NotArrived(f"记录未全部送达，不报告速率 (not every record arrived once; no rate is reported): "
                         f"{'; '.join(said)}")
