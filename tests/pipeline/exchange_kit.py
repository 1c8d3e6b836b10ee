"""One round of the whole exchange, as the two DAGs run it, for pipeline tests against the real simulators; and
a probe of the ledger's write lock, for tests of what a step does while it holds it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import department_settings
from lianban.app.registry import load_department, load_sink
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import FeedbackResult, poll_department
from lianban.pipeline.report import report
from lianban.pipeline.rewards import request_payments
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss
from lianban.pipeline.supplements import collect_supplements, forward_supplements
from lianban.wire.contract import ProgressEvent, PushResult
from simulators.applicant import SimulatedApplicant
from simulators.hrss_backoffice import HrssBackOffice

PUSHED = ("medical", "health", "housing_fund")


class RecordingPlatform:
    """皖事通办 as far as a report run can tell: every push acknowledged in full, and kept."""

    def __init__(self) -> None:
        self.pushed: list[ProgressEvent] = []

    def push(self, events: Sequence[ProgressEvent]) -> PushResult:
        self.pushed += events
        return PushResult(accepted=len(events), duplicates=0)

    def health(self) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class World:
    """The simulated people around the hub: HRSS's back office and the applicants who come back to the window."""

    db: FrontendDB
    office: HrssBackOffice
    applicants: SimulatedApplicant


def world(db: FrontendDB, simulation: Any) -> World:
    """HRSS and the applicants on an instant clock; the applicants bring what any department or HRSS asked."""
    office = HrssBackOffice(db, step_seconds=0)
    return World(db, office, SimulatedApplicant(
        db, lambda: simulation.pending_supplements() + office.awaiting_supplement(), 0))


def _department(name: str, keys_dir: Path) -> Any:
    return load_department(name, department_settings(name), keys_dir)


def one_round(w: World, ledger_url: str, keys_dir: Path, batch: int = 100) -> FeedbackResult:
    """One round as the two DAGs run it: HRSS works (and corrects what was held), applicants bring materials,
    stage, deliver, forward 补正 submissions, collect HRSS's log, poll every department, ask HRSS to pay item 13,
    report; the report's counts."""
    w.office.tick()
    w.applicants.tick()
    stage(w.db, ledger_url, keys_dir)
    for name in PUSHED:
        deliver(_department(name, keys_dir), ledger_url, batch, keys_dir)
    collect_supplements(w.db, ledger_url)
    for name in PUSHED:
        forward_supplements(_department(name, keys_dir), ledger_url, batch, keys_dir)
    collect_hrss(w.db, ledger_url, keys_dir)
    for name in PUSHED:
        poll_department(_department(name, keys_dir), ledger_url, keys_dir)
    request_payments(w.db, ledger_url, keys_dir)
    return report(load_sink(department_settings("wanshi_tong"), keys_dir), ledger_url, keys_dir)


def sqlite_ledger(ledger_url: str) -> str:
    """The ledger's SQLite file, whose write lock :func:`write_lock_free` probes; the test skipped on another
    database."""
    url = make_url(ledger_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the write lock probed is SQLite's")
    return str(url.database)


def write_lock_free(database: str) -> bool:
    """Whether the ledger's write lock could be taken now, from a connection of its own (without waiting)."""
    probe = sqlite3.connect(database, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked
        return False
    finally:
        probe.close()
