"""`lianban case list|show` through the real CLI (``python -m lianban.app.cli``), as an operator runs it.

One home is made for the module: six synthetic approvals staged, a few statuses reported, the 受理 times set so
that whatever day the suite runs the second case is overdue (受理 2025-03-03), the sixth has a due date beyond the
published holiday schedule (估算) and the rest were just accepted (nothing due yet). Every command runs
once, as a subprocess with only LIANBAN_HOME set (no inherited LIANBAN_* or AIRFLOW_CONN_* variable), all of
them concurrently (each is a whole interpreter start-up); each test checks what one command printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.app.setup import init
from lianban.domain.statuses import Status
from lianban.domain.working_days import official_years
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.store import record_status
from lianban.pipeline.stage import stage
from simulators.people import generate

CJK = re.compile(r"[\u4e00-\u9fff]")
PHONE = "13912345678"

Run = subprocess.CompletedProcess[str]


def _report(paths: Paths, case_no: str, item_code: str, status: Status, at: str, reason: str | None = None) -> None:
    with session_factory(paths.ledger_url).begin() as s:
        item = s.scalars(select(CaseItem).join(Case).where(Case.case_no == case_no,
                                                           CaseItem.item_code == item_code)).one()
        record_status(s, item, status, item.department, code=None, reason=reason, changed_at=at)


def _home(root: Path) -> tuple[Paths, list[str]]:
    """Six cases staged; the second: 受理 → 补正资料 (reason with a phone number) → 审核中; the fourth: 审核通过."""
    paths = Paths.from_env({"LIANBAN_HOME": str(root / "home")})
    init(paths, with_frontend=True)
    db = FrontendDB(paths.frontend_url)
    db.insert_applications(list(generate(6, seed=5)))
    assert stage(db, paths.ledger_url, paths.keys_dir).staged == 6
    with session_factory(paths.ledger_url)() as s:
        case_nos = list(s.scalars(select(Case.case_no).order_by(Case.case_no)))
    _report(paths, case_nos[1], "01", Status.ACCEPTED, "2025-03-01T09:00:00+08:00")
    _report(paths, case_nos[1], "01", Status.SUPPLEMENT, "2025-03-02T09:00:00+08:00", f"请致电 {PHONE} 补交材料")
    _report(paths, case_nos[1], "01", Status.UNDER_REVIEW, "2025-03-03T09:00:00+08:00")
    _report(paths, case_nos[3], "01", Status.APPROVED, "2025-03-04T01:00:00.250000+00:00")  # as the hub stamps
    now = datetime.now(UTC).replace(tzinfo=None)
    beyond = max(now, datetime(official_years()[-1], 12, 30, 2))  # 10 working days run past the published years
    with session_factory(paths.ledger_url).begin() as s:
        for n in case_nos:
            at = {case_nos[1]: datetime(2025, 3, 3, 2), case_nos[5]: beyond}.get(n, now)
            s.execute(update(Case).where(Case.case_no == n).values(approved_at=at))
    return paths, case_nos


def _cli(home: Path, *args: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIANBAN_", "AIRFLOW_CONN_"))}
    env.update(LIANBAN_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "lianban.app.cli", "case", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Run]]:
    """The case numbers (in order) and what each command printed, by name."""
    paths, case_nos = _home(tmp_path_factory.mktemp("case-cli"))
    commands = {
        "list": ("list", "--json"),
        "had": ("list", "--had-status", "审核中", "--json"),
        "overdue": ("list", "--overdue", "--json"),
        "show": ("show", case_nos[1].lower(), "--json"),
        "table": ("show", case_nos[1]),
        "estimated": ("show", case_nos[5]),
        "utc": ("show", case_nos[3]),
        "nope": ("show", "NOPE"),
        "bad-status": ("list", "--had-status", "完成"),
    }
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = {name: pool.submit(_cli, paths.home, *args) for name, args in commands.items()}
        return case_nos, {name: f.result() for name, f in futures.items()}


def _json(run: Run) -> object:
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_list_json_gives_every_case_and_its_status_in_case_number_order(ran: tuple[list[str], dict[str, Run]]
                                                                        ) -> None:
    case_nos, runs = ran
    expected = {case_nos[1]: "审核中", case_nos[3]: "审核中"}  # an item 审核通过, the others 未反馈: still handled
    assert _json(runs["list"]) == [{"case_no": n, "status": expected.get(n, "受理")} for n in case_nos]


def test_list_had_status_keeps_cases_whose_history_holds_it(ran: tuple[list[str], dict[str, Run]]) -> None:
    case_nos, runs = ran
    assert _json(runs["had"]) == [{"case_no": case_nos[1], "status": "审核中"}]  # not case 4: never 审核中


def test_list_overdue_gives_exactly_the_case_past_its_time_limit(ran: tuple[list[str], dict[str, Run]]) -> None:
    case_nos, runs = ran
    assert _json(runs["overdue"]) == [{"case_no": case_nos[1], "status": "审核中"}]


def test_show_json_has_the_contracted_shape(ran: tuple[list[str], dict[str, Run]]) -> None:
    case_nos, runs = ran
    view = _json(runs["show"])
    assert isinstance(view, dict) and set(view) == {"case_no", "status", "items"}
    assert view["case_no"] == case_nos[1] and view["status"] == "审核中"  # typed in lower case, found
    codes = [i["item_code"] for i in view["items"]]
    assert codes == sorted(codes) and codes[0] == "01"
    for item in view["items"]:
        assert set(item) == {"item_code", "department", "status", "due_date", "due_date_estimated", "overdue",
                             "history"}
        if item["department"] == "hrss":  # due from 受理 on 2025-03-03 (Beijing), long past
            assert re.fullmatch(r"2025-03-\d\d", item["due_date"]) and item["overdue"] is True
        else:  # its delivery not taken yet: no clock
            assert item["due_date"] is None and item["overdue"] is False
        assert item["due_date_estimated"] is False
        for line in item["history"]:
            assert set(line) == {"status", "at", "source", "reason", "materials"} and line["materials"] == []
    first = view["items"][0]
    assert first["status"] == "审核中" and first["department"] == "hrss"
    assert first["due_date"] == "2025-03-17"  # 10 working days after Monday 2025-03-03
    assert [(h["status"], h["at"], h["source"]) for h in first["history"]] == [
        ("受理", "2025-03-01T09:00:00+08:00", "hrss"),
        ("补正资料", "2025-03-02T09:00:00+08:00", "hrss"),
        ("审核中", "2025-03-03T09:00:00+08:00", "hrss")]
    assert first["history"][1]["reason"] == "请致电 139****5678 补交材料"
    assert all(i["status"] is None and i["history"] == [] for i in view["items"][1:])


def test_show_table_has_chinese_headers_and_masks_the_phone(ran: tuple[list[str], dict[str, Run]]) -> None:
    case_nos, runs = ran
    run = runs["table"]
    assert run.returncode == 0, run.stdout + run.stderr
    for header in ("事项", "部门", "状态", "时限", "时间", "原因"):
        assert header in run.stdout
    assert case_nos[1] in run.stdout and "补正资料" in run.stdout and "未反馈" in run.stdout
    assert "139****5678" in run.stdout and PHONE not in run.stdout + run.stderr
    assert "2025-03-17（超期）" in run.stdout
    assert "人力资源和社会保障局" in run.stdout  # a department by its name, as the dashboard shows it


def test_show_table_gives_a_time_reported_in_utc_in_beijing_time(ran: tuple[list[str], dict[str, Run]]) -> None:
    """Found by a newcomer: a time the hub stamped (UTC, with microseconds) stood beside departments' Beijing times."""
    run = ran[1]["utc"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2025-03-04T09:00:00+08:00" in run.stdout and "+00:00" not in run.stdout


def test_show_table_marks_a_due_date_past_the_published_holidays_estimated(ran: tuple[list[str], dict[str, Run]]
                                                                          ) -> None:
    run = ran[1]["estimated"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "（估算）" in run.stdout and "（超期）" not in run.stdout


@pytest.mark.parametrize("name, words", [("nope", "台账中没有办件 'NOPE'"), ("bad-status", "七个统一状态")])
def test_operator_slips_are_one_chinese_sentence_and_exit_2(ran: tuple[list[str], dict[str, Run]], name: str,
                                                            words: str) -> None:
    run = ran[1][name]
    said = run.stdout + run.stderr
    assert run.returncode == 2, said
    assert words in said and CJK.search(said.split("(")[0]) and "Traceback" not in said
    if name == "bad-status":
        assert all(s.value in said for s in Status)
