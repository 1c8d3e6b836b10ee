"""`lianban supplements list|retry`: 补正 submissions that did not reach their department, shown without personal
data and requeued with their supplement ids (a parked, unreadable one is listed, never requeued)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.app.setup import init
from lianban.ledger.db import session_factory
from lianban.ledger.models import Supplement
from lianban.ledger.store import SupplementState, utcnow
from lianban.pipeline.stage import stage
from simulators.people import generate
from tests.app.cli_kit import lianban

PHONE = "13912345678"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return lianban(home, "supplements", *args)


def _row(seq: int, state: SupplementState, error: str | None) -> Supplement:
    now = utcnow()
    return Supplement(source="hrss", source_seq=seq, case_no=f"BZ{seq}", item_code="14", department="housing_fund",
                      supplement_id=f"S{seq}" if state is not SupplementState.PARKED else None, materials='["M01"]',
                      state=state, attempts=20, next_attempt_at=now, last_error=error, created_at=now)


def test_dead_and_parked_supplements_are_listed_masked_and_only_dead_ones_requeued(tmp_path: Path) -> None:
    paths = Paths.from_env({"LIANBAN_HOME": str(tmp_path / "home")})
    init(paths, with_frontend=True)
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(2, seed=5)))
    stage(db, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.add_all([_row(1, SupplementState.DEAD, "RETRY: 连接被拒绝"),
                   _row(2, SupplementState.REFUSED, f"E104: 请致电 {PHONE}"),
                   _row(3, SupplementState.PARKED, "补正材料编码 X9 不在目录中"),
                   _row(4, SupplementState.ACCEPTED, None)])

    listed = _cli(paths.home, "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["source_seq"], r["state"]) for r in rows] == [(1, "dead"), (2, "refused"), (3, "parked")]
    assert PHONE not in listed.stdout and "139****5678" in listed.stdout

    retried = _cli(paths.home, "retry")
    assert retried.returncode == 0 and "2 条" in retried.stdout
    with session_factory(paths.ledger_url)() as s:
        states = {r.source_seq: (r.state, r.attempts, r.supplement_id) for r in s.query(Supplement)}
    assert states == {1: ("pending", 0, "S1"), 2: ("pending", 0, "S2"), 3: ("parked", 20, None),
                      4: ("accepted", 20, "S4")}


def test_a_reason_with_brackets_is_listed_as_it_was_given(tmp_path: Path) -> None:
    """第6节: a department's reason (or an unreadable material code) with `[/]` in it is shown, not read as
    markup (the list crashed on it)."""
    paths = Paths.from_env({"LIANBAN_HOME": str(tmp_path / "home")})
    init(paths, with_frontend=True)
    with session_factory(paths.ledger_url).begin() as s:
        s.add(_row(1, SupplementState.PARKED, "补正材料编码 [/] 不在目录中"))
    listed = _cli(paths.home, "list")
    assert listed.returncode == 0 and "[/]" in listed.stdout, listed.stdout + listed.stderr
