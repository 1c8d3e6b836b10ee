"""`lianban deliveries list|retry` as the runbook has an operator type them (docs/runbook.md 第1节, 第2节)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import update

from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import Delivery
from lianban.pipeline.stage import stage
from tests.app.cli_kit import lianban

ROOT = Path(__file__).resolve().parents[2]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return lianban(home, "deliveries", *args)


def test_failing_deliveries_are_listed_with_their_reasons_and_tries_as_section_1_says(seeded: Any,
                                                                                        paths: Paths) -> None:
    """第1节: deliveries still retrying after failures are listed with the reason and the number of tries; only
    dead letters can be requeued."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "housing_fund")
                  .values(state="retry", attempts=3, last_error="RETRY: 连接超时 (ConnectTimeout)"))
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    assert "`lianban deliveries list --department 部门 --state retry`" in runbook
    listed = _cli(paths.home, "list", "--department", "housing_fund", "--state", "retry", "--json")
    rows = json.loads(listed.stdout)
    assert rows and all((r["state"], r["attempts"]) == ("retry", 3) and "连接超时" in r["last_error"] for r in rows)
    assert json.loads(_cli(paths.home, "list", "--department", "housing_fund", "--json").stdout) == []  # dead only
    refused = _cli(paths.home, "retry", "--state", "retry")
    assert refused.returncode == 2 and "refused 或 dead" in refused.stdout


def test_a_department_s_reason_with_brackets_is_listed_as_it_said_it(seeded: Any, paths: Paths) -> None:
    """第2节: a refusal's reason is the department's free text; `[/]` in it is shown, not read as markup (the
    list crashed on it)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(Delivery).where(Delivery.department == "housing_fund")
                  .values(state="refused", last_error="E104: 字段[/]不合规"))
    listed = _cli(paths.home, "list", "--department", "housing_fund", "--state", "refused")
    assert listed.returncode == 0 and "E104: 字段[/]不合规" in listed.stdout, listed.stdout + listed.stderr


def test_an_id_number_typed_as_the_key_is_not_echoed(paths: Paths) -> None:
    """An operator pasting the applicant's ID number where the delivery's key belongs hears that there is no such
    dead letter, the number masked (as `lianban case show` masks one typed as a 办件编号): the sentence goes to a
    terminal, a cron mail, a ticket."""
    from datetime import date

    from simulators.people import make_id_number

    typed = make_id_number("341622", date(1965, 3, 14), 7, True)
    refused = _cli(paths.home, "retry", typed)
    assert refused.returncode == 2 and "没有编号为" in refused.stdout
    assert typed not in refused.stdout + refused.stderr and f"{typed[:6]}********{typed[-4:]}" in refused.stdout
