"""`lianban quarantine list|show|release|reject` as an operator runs them: one bad record released with a note,
another corrected at the source, both delivered exactly once; a third refused, its applicant told 不予受理; every
decision in the ledger and the evidence log, none without a note, none twice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem, Delivery, Evidence, StatusEvent
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from simulators.people import generate
from tests.app.cli_kit import lianban


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return lianban(home, "quarantine", *args)


def _apps() -> list[dict[str, Any]]:
    """Three valid applications made bad three ways (all choosing the housing fund's item 14)."""
    apps = [a for a in generate(30, seed=41) if len(a["phone"]) == 11 and a["employer_name"]][:3]
    for app in apps:
        app["items"] = "01,14"
    apps[0]["contribution_months"] = 100  # below the minimum: an operator knows why and releases it
    apps[1]["phone"] = "12345"  # HRSS corrects it at the source
    apps[2]["contribution_months"] = 90  # refused at the window
    return apps


def _held_one(paths: Paths, **changes: Any) -> dict[str, Any]:
    """The first of :func:`_apps`, with `changes`, staged and held: its row as `quarantine list --json` gives it."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**_apps()[0], **changes}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    (held,) = json.loads(_cli(paths.home, "list", "--json").stdout)
    return dict(held)


def _delivered(paths: Paths) -> list[str]:
    with session_factory(paths.ledger_url)() as session:
        return list(session.scalars(select(Case.case_no).join(CaseItem).join(Delivery)
                                    .where(Delivery.department == "housing_fund", Delivery.state == "accepted")))


def test_release_correction_and_rejection_each_reach_their_end_exactly_once(paths: Paths, simulation: Any) -> None:
    db, apps = FrontendDB(paths.frontend_url), _apps()
    db.insert_applications(apps)
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 3
    held = {r["case_no"]: r for r in json.loads(_cli(paths.home, "list", "--json").stdout)}
    assert set(held) == {a["case_no"] for a in apps} and {r["state"] for r in held.values()} == {"open"}
    released, refused = held[apps[0]["case_no"]]["id"], held[apps[2]["case_no"]]["id"]
    assert "待处理的 3 条" in _cli(paths.home, "list").stdout

    shown = _cli(paths.home, "show", str(released))
    assert shown.returncode == 0 and "缴费" in shown.stdout and apps[0]["id_number"] not in shown.stdout
    no_note = _cli(paths.home, "release", str(released), "--note", "  ")
    assert no_note.returncode == 2 and "--note" in no_note.stdout
    done = _cli(paths.home, "release", str(released), "--note", "经核实为视同缴费年限，准予办理", "--operator", "王敏")
    assert done.returncode == 0 and "已放行" in done.stdout
    again = _cli(paths.home, "release", str(released), "--note", "再次放行")
    assert again.returncode == 2 and "已处理" in again.stdout
    told = json.loads(_cli(paths.home, "reject", str(refused), "--note", "缴费年限不足且无法补缴", "--json").stdout)
    assert told["state"] == "rejected" and told["items_told"] == 2  # items 01 and 14 of the held case

    db.correct(_seq(db, apps[1]["case_no"]), {"phone": "13912345678"})  # HRSS fixes the row at the source
    second = stage(db, paths.ledger_url, paths.keys_dir)
    assert (second.staged, second.quarantined) == (2, 0), second
    listed = _cli(paths.home, "list").stdout  # found by a newcomer: all three settled, still told to fix or decide
    assert "没有待处理的隔离记录" in listed and "TBBZ" not in listed and "源头已更正" in listed
    assert "没有待处理" not in _cli(paths.home, "list", "--state", "released").stdout  # open ones not asked for
    dept = load_department("housing_fund", department_settings("housing_fund"), paths.keys_dir)
    deliver(dept, paths.ledger_url, 100, paths.keys_dir)
    stage(db, paths.ledger_url, paths.keys_dir)  # nothing new: nothing happens twice
    deliver(dept, paths.ledger_url, 100, paths.keys_dir)
    assert sorted(_delivered(paths)) == sorted([apps[0]["case_no"], apps[1]["case_no"]])
    stats = requests.get(f"{simulation.urls['housing_fund']}/_sim/stats", timeout=30).json()
    assert (stats["unique"], stats["duplicates"]) == (2, 0)
    _refused_and_logged(paths, apps[2]["case_no"])


def _seq(db: FrontendDB, case_no: str) -> int:
    return next(r.seq for r in db.quarantined() if r.values.get("case_no") == case_no)


def _refused_and_logged(paths: Paths, case_no: str) -> None:
    with session_factory(paths.ledger_url)() as session:
        refused = session.execute(select(CaseItem.item_code, StatusEvent.status, StatusEvent.reason)
                                  .join(Case).join(StatusEvent).where(Case.case_no == case_no,
                                                                      StatusEvent.status == "不予受理")).all()
        kinds = [e.kind for e in session.scalars(select(Evidence).where(Evidence.department == "operator"))]
    assert sorted(code for code, _, _ in refused) == ["01", "14"]
    assert all("缴费年限不足且无法补缴" in (reason or "") for _, _, reason in refused)
    assert sorted(kinds) == ["quarantine-overridden", "quarantine-rejected"]


@pytest.mark.parametrize("command", ["release", "reject"])
def test_a_decision_on_a_row_that_does_not_exist_says_so(paths: Paths, command: str) -> None:
    done = _cli(paths.home, command, "999", "--note", "x")
    assert done.returncode == 2 and "没有编号为 999" in done.stdout


def test_a_row_naming_an_item_the_catalog_lacks_cannot_be_released_as_it_is(paths: Paths) -> None:
    held = _held_one(paths, contribution_months=400, items="01,15")
    done = _cli(paths.home, "release", str(held["id"]), "--note", "核实无误，放行")
    assert done.returncode == 2 and "不在事项目录中" in done.stdout and "前置库中更正" in done.stdout
    assert json.loads(_cli(paths.home, "list", "--json").stdout)[0]["state"] == "open"


def test_times_are_shown_in_beijing_time_as_the_report_and_the_dashboard_show_them(paths: Paths) -> None:
    """A row held at 17:30 UTC on 5 December was held at 01:30 on 6 December in Beijing: the day the report
    counts it in (lianban.ledger.reconciliation) and the time the dashboard shows."""
    from datetime import datetime

    from lianban.ledger.models import Quarantine

    db = FrontendDB(paths.frontend_url)
    db.insert_applications(_apps()[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    with session_factory(paths.ledger_url).begin() as session:
        (row,) = session.scalars(select(Quarantine))
        row.created_at = datetime(2026, 12, 5, 17, 30)
    assert _cli(paths.home, "release", str(row.id), "--note", "核实无误，放行").returncode == 0
    held = json.loads(_cli(paths.home, "show", str(row.id), "--json").stdout)
    assert held["held_at"] == "2026-12-06T01:30:00+08:00" and held["decided_at"].endswith("+08:00")
    assert "2026-12-06T01:30:00+08:00" in _cli(paths.home, "show", str(row.id)).stdout


@pytest.mark.parametrize("args", [("show",), ("release", "--note", "x"), ("reject", "--note", "x")])
def test_a_number_too_long_for_any_row_is_said_to_name_none(paths: Paths, args: tuple[str, ...]) -> None:
    """A 20-digit 编号 (something else pasted) is no row either: one sentence, not a traceback."""
    done = _cli(paths.home, args[0], "99999999999999999999", *args[1:])
    assert done.returncode == 2 and "没有编号为 99999999999999999999" in done.stdout and not done.stderr


def test_a_release_the_frontend_could_not_take_is_not_recorded_and_can_be_run_again(paths: Paths) -> None:
    """The 前置库 is not there when an operator releases a row: the command fails and records nothing, so once it
    is back the same command releases the row and the next stage run takes it (not a release nothing takes)."""
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(_apps()[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    (held,) = json.loads(_cli(paths.home, "list", "--json").stdout)
    frontend = Path(paths.frontend_url.removeprefix("sqlite:///"))
    away = frontend.rename(frontend.with_suffix(".away"))
    failed = _cli(paths.home, "release", str(held["id"]), "--note", "经核实为视同缴费年限，准予办理")
    assert failed.returncode == 2 and "人社前置库不存在" in failed.stdout
    assert json.loads(_cli(paths.home, "list", "--json").stdout)[0]["state"] == "open"
    away.rename(frontend)
    assert _cli(paths.home, "release", str(held["id"]), "--note", "经核实为视同缴费年限，准予办理").returncode == 0
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1


def test_a_release_whose_frontend_flag_fails_midway_records_nothing(paths: Paths) -> None:
    """The 前置库 fails while the row is being flagged: the decision is neither committed nor logged."""
    from lianban.errors import RetriableError
    from lianban.pipeline.decisions import release

    db = FrontendDB(paths.frontend_url)
    db.insert_applications(_apps()[:1])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    (held,) = json.loads(_cli(paths.home, "list", "--json").stdout)

    def unreachable(seq: int) -> None:
        raise RetriableError("前置库连接中断")

    with pytest.raises(RetriableError):
        release(paths.ledger_url, paths.keys_dir, held["id"], "准予办理", "王敏", flag=unreachable)
    assert json.loads(_cli(paths.home, "list", "--json").stdout)[0]["state"] == "open"
    with session_factory(paths.ledger_url)() as session:
        assert list(session.scalars(select(Evidence).where(Evidence.department == "operator"))) == []


def test_brackets_in_a_held_row_are_shown_as_they_are_not_read_as_markup(paths: Paths) -> None:
    """A held row's text is the source's, brackets and all: `[/]` among the chosen items or in the employer's
    name is shown as typed, by the list and by show (it was read as console markup, and the command crashed)."""
    db = FrontendDB(paths.frontend_url)
    (app,) = _apps()[:1]
    db.insert_applications([{**app, "items": "01,[/]", "employer_name": "[/] 亳州[b]公司"}])
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    listed = _cli(paths.home, "list")
    assert listed.returncode == 0 and "BZTX" in listed.stdout and not listed.stderr, listed.stdout + listed.stderr
    (held,) = json.loads(_cli(paths.home, "list", "--json").stdout)
    shown = _cli(paths.home, "show", str(held["id"]))
    assert shown.returncode == 0 and "[/] 亳州[b]公司" in shown.stdout, shown.stdout + shown.stderr
    assert "01,[/]" in shown.stdout


def test_rejecting_a_row_with_no_item_to_tell_says_that_nobody_was_told(paths: Paths) -> None:
    """A held row whose only item the catalog lacks entered no case, so a rejection tells no one: the command said
    "0 个事项告知申请人不予受理，下一轮报送皖事通办" all the same; it now says the window must tell the applicant."""
    held = _held_one(paths, contribution_months=400, items="15")
    done = _cli(paths.home, "reject", str(held["id"]), "--note", "事项不在目录中，不予受理")
    assert done.returncode == 0 and "未向申请人发出不予受理" in done.stdout and "人社窗口" in done.stdout
    assert "报送皖事通办 (rejected)" not in done.stdout


def test_rejecting_a_changed_row_of_a_case_in_progress_closes_the_row_and_tells_no_one_to_refuse(
        paths: Paths) -> None:
    """A row that differs from its case as staged (CASE_CHANGED) cannot be released; rejecting it closes the row.
    The command told the window to tell the applicant 不予受理, for a case being handled as staged."""
    app = {**_apps()[1], "phone": "13912345678"}
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([app])
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 1
    db.correct(1, {"employer_name": "亳州市另一家单位有限公司"})
    assert stage(db, paths.ledger_url, paths.keys_dir).quarantined == 1
    (held,) = json.loads(_cli(paths.home, "list", "--json").stdout)
    done = _cli(paths.home, "reject", str(held["id"]), "--note", "人社确认以已入账内容为准")
    assert done.returncode == 0, done.stderr
    assert "人社窗口直接告知申请人" not in done.stdout and "已入账" in done.stdout and "不受影响" in done.stdout
    with session_factory(paths.ledger_url)() as session:
        assert session.scalars(select(Case.held)).one() is False
