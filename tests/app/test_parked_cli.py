"""`lianban parked`: what waits on a person — events 皖事通办 refused, HRSS status rows not placed — listed with
their reasons, masked, oldest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from typer.testing import CliRunner

from connectors.hrss.frontend import FrontendDB
from lianban.app.cli import app
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import StatusEvent
from lianban.ledger.store import utcnow
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss


def _listed(*args: str) -> Any:
    done = CliRunner().invoke(app, ["parked", *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_refused_events_and_unplaced_status_rows_are_listed_masked(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Only counts were shown (`lianban status`): an operator told of a parked row by one alert had no way to see
    the rows still waiting, nor which of them the hub reads again by itself."""
    db, apps = seeded
    stage(db, paths.ledger_url, paths.keys_dir)
    person = apps[0]["id_number"]
    db.append_status(person, "01", "7", at="2026-12-01T09:00:00+08:00")  # an ID as 办件编号 (masked); no code 7
    db.append_status("BZ-NOT-STAGED-1", "01", "2", at="2026-12-01T09:00:00+08:00")  # a case not staged: waits
    collected = collect_hrss(db, paths.ledger_url, paths.keys_dir)
    assert (collected.parked, collected.waiting) == (1, 1)
    with session_factory(paths.ledger_url).begin() as s:
        first = s.scalars(select(StatusEvent.id).order_by(StatusEvent.id)).first()
        s.execute(update(StatusEvent).where(StatusEvent.id == first)
                  .values(parked_at=utcnow(), parked_reason="事项编码不在编码表中"))

    shown = json.loads(_listed("--json"))
    assert [(e["event_id"], e["reason"]) for e in shown["events"]] == [(first, "事项编码不在编码表中")]
    assert shown["events"][0]["parked_at"].endswith("+08:00")
    rows = {r["state"]: r for r in shown["status_rows"]}
    assert person not in rows["parked"]["case_no"] and rows["parked"]["read_again"]
    assert any("7" in reason for reason in rows["parked"]["reasons"])
    assert rows["waiting"]["case_no"] == "BZ-NOT-STAGED-1" and rows["waiting"]["read_again"]

    table = _listed()
    assert "皖事通办拒收" in table and "无法读取" in table and "待办件入账" in table and person not in table
    ledger = Path(paths.ledger_url.removeprefix("sqlite:///"))
    assert not [f for f in (ledger, ledger.with_name(ledger.name + "-wal")) if f.exists() and person.encode() in
                f.read_bytes()]


def test_nothing_parked_lists_empty(paths: Paths) -> None:
    assert json.loads(_listed("--json")) == {"events": [], "status_rows": []}
    assert ": 0" in _listed()
