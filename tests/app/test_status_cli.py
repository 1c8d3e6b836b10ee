"""`lianban status` shows the last staging run, with where its validation Data Docs are (a page that exists and
holds no personal value)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from connectors.hrss.frontend import FrontendDB
from lianban.app.cli import app
from lianban.app.config import Paths
from simulators.people import generate


def test_the_last_staging_run_and_its_data_docs_are_shown(paths: Paths) -> None:
    apps = list(generate(30, seed=8))
    FrontendDB(paths.frontend_url).insert_applications(apps)
    staged = json.loads(CliRunner().invoke(app, ["run", "stage", "--json"]).output)
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    run = status["last_stage_run"]
    assert (run["extracted"], run["staged"], run["quarantined"]) == (30, staged["staged"], staged["quarantined"])
    page = Path(run["data_docs"])
    assert run["data_docs"] == staged["data_docs"] and page.is_file() and page.is_relative_to(paths.home)
    html = "".join(p.read_text(errors="replace") for p in page.parent.rglob("*.html"))
    assert not [a for a in apps if a["id_number"] in html or a["name"] in html or a["phone"] in html]


def test_the_last_staging_run_s_time_is_beijing_time(paths: Paths) -> None:
    """A run that finished at 17:30 UTC on 5 December finished at 01:30 on 6 December in Beijing."""
    from datetime import datetime

    from sqlalchemy import update

    from lianban.ledger.db import session_factory
    from lianban.ledger.models import StageRun

    FrontendDB(paths.frontend_url).insert_applications(list(generate(3, seed=8)))
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    with session_factory(paths.ledger_url).begin() as session:
        session.execute(update(StageRun).values(finished_at=datetime(2026, 12, 5, 17, 30)))
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    assert status["last_stage_run"]["finished_at"] == "2026-12-06T01:30:00+08:00"


def test_an_item_taken_out_of_the_catalog_is_shown_by_its_code_not_a_failure(paths: Paths) -> None:
    """Cases still hold an item the catalog no longer has (here: the window's items renamed to code 99, as if
    taken out of items.yaml): status and the dashboard still show, the item by its code with a note, no clock."""
    from datetime import datetime

    from sqlalchemy import update

    from lianban.app.dashboard.board import read_board
    from lianban.app.dashboard.page import render
    from lianban.ledger.db import session_factory
    from lianban.ledger.models import Case, CaseItem

    FrontendDB(paths.frontend_url).insert_applications(list(generate(10, seed=8)))
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    with session_factory(paths.ledger_url).begin() as session:
        session.execute(update(Case).values(approved_at=datetime(2025, 1, 2, 2)))
        gone = session.execute(update(CaseItem).where(CaseItem.item_code == "01").values(item_code="99")).rowcount
    assert gone > 0
    shown = CliRunner().invoke(app, ["status", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["items_not_in_catalog"] == {"99": gone}
    told = CliRunner().invoke(app, ["status"])
    assert told.exit_code == 0 and "事项 99" in told.output and "已不在事项目录" in told.output
    assert "事项 99" in render(read_board(paths.ledger_url))


def test_the_last_staging_run_s_counts_add_up_with_a_repeated_row(paths: Paths) -> None:
    """Found in the recon review: a 前置库 row repeating an application already taken (fate 重复行 in the
    reconciliation) was in the run's 抽取 but in none of its other counts, so status and the dashboard showed a
    run whose 抽取 ≠ 入账 + 隔离 and no way to tell why. The run keeps those rows (重复行) now: the counts add up."""
    from lianban.app.dashboard.page import figures
    from simulators.people import repair

    first, second, third, fourth = (repair(a) for a in generate(4, seed=8))
    again = {**first, "seq": 4, "case_no": first["case_no"].lower()}  # the 前置库 keys 办件编号 as typed
    invalid = {**fourth, "seq": 5, "id_number": "34160019"}
    rows = [{**first, "seq": 1}, {**second, "seq": 2}, {**third, "seq": 3}, again, invalid]
    FrontendDB(paths.frontend_url).insert_applications(rows)
    staged = json.loads(CliRunner().invoke(app, ["run", "stage", "--json"]).output)
    assert (staged["extracted"], staged["staged"], staged["skipped_known"], staged["quarantined"]) == (5, 3, 1, 1)
    run = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)["last_stage_run"]
    assert (run["extracted"], run["staged"], run["skipped_known"], run["quarantined"]) == (5, 3, 1, 1)
    shown = figures({"last_stage_run": run})
    assert shown["last_stage_run.extracted"] == sum(shown[f"last_stage_run.{k}"]
                                                    for k in ("staged", "skipped_known", "quarantined"))
