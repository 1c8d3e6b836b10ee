"""The dashboard's figures against a demo ledger: the counts are `lianban status --json` itself, the lists and
day-by-day figures agree with them, and nothing personal is in the JSON or on the page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from lianban.app.cli import app as cli
from lianban.app.dashboard import DagRun, read_board
from lianban.app.dashboard.page import figures, render
from lianban.app.dashboard.queries import LIMIT
from tests.app.dashboard.conftest import Demo
from tests.app.dashboard.seed import DELAYS


class Figures(HTMLParser):
    """Every ``data-key`` element's text, as the page shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[str, list[str]] = {}
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._key = dict(attrs).get("data-key")

    def handle_data(self, data: str) -> None:
        if self._key:
            self.shown.setdefault(self._key, []).append(data)
            self._key = None


def _status(demo: Demo) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["status", "--json"], env=demo.env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_the_counts_are_lianban_status_itself(demo: Demo) -> None:
    assert read_board(demo.paths.ledger_url).status == _status(demo)


def test_the_page_shows_every_count_of_lianban_status_with_its_value(demo: Demo) -> None:
    parser = Figures()
    parser.feed(render(read_board(demo.paths.ledger_url)))
    expected = figures(_status(demo))
    assert set(parser.shown) == set(expected)
    assert {k: set(v) for k, v in parser.shown.items()} == {k: {str(v)} for k, v in expected.items()}
    assert expected["dead_letters"] == 2 and expected["illegal_transitions"] == 1  # the demo has each


def test_the_lists_agree_with_the_counts(demo: Demo) -> None:
    board = read_board(demo.paths.ledger_url)
    status = board.status
    assert {r["department"]: r["open"] for r in board.backlog} == status["open_by_department"]
    assert len(board.dead_letters) == status["dead_letters"] == sum(
        board.deliveries_by_state.get(s, 0) for s in ("refused", "dead"))
    assert len(board.quarantined) == status["quarantined"] and board.quarantined[0]["reasons"]
    assert len(board.overdue) == min(int(status["overdue_items"]), LIMIT) > 0
    assert len(board.illegal_reports) == status["illegal_transitions"]
    assert len(board.incidents) == status["open_incidents"] > 0
    failing = [h["party"] for h in board.health if not h["ok"]]
    assert failing == status["failing_checks"] == ["housing_fund"] and "证书已过期" in board.health[0]["reason"]


def test_the_days_add_up_to_the_ledger(demo: Demo) -> None:
    board = read_board(demo.paths.ledger_url)
    status = board.status
    days = board.days
    assert len(days) == 14 and days[-1]["day"] == board.generated_at[:10]
    assert sum(d["accepted"] for d in days) == sum(status["delivered"].values())
    assert sum(d["events"] for d in days) == status["reported_events"] + status["unreported_events"]
    assert {d["latency_minutes"] for d in days if d["latency_minutes"] is not None} <= set(map(float, DELAYS))
    assert any(d["success_rate"] is not None and d["success_rate"] < 100 for d in days)  # a refusal or a death


def test_nothing_personal_in_the_json_or_on_the_page(demo: Demo) -> None:
    board = read_board(demo.paths.ledger_url)
    shown = json.dumps(board.as_dict(), ensure_ascii=False) + render(board)
    personal = [a[f] for a in demo.apps for f in ("id_number", "name", "phone") if a.get(f)]
    assert personal and not [p for p in personal if p in shown]
    assert "341622196501011232" not in shown and "341622********1232" in shown  # the department's reason, masked
    assert "13912345678" not in shown and "139****5678" in shown
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", shown)


def test_the_last_runs_of_each_dag_come_from_the_provider(demo: Demo) -> None:
    runs = [DagRun("lianban_exchange", "scheduled__2026-12-01", "failed", "2026-12-01 09:00", "2026-12-01 09:05")]
    board = read_board(demo.paths.ledger_url, lambda: runs)
    page = render(board)
    assert board.dag_runs is not None and board.dag_runs[0]["run_id"] == "scheduled__2026-12-01"
    assert "lianban_exchange" in page and '<span class="run failed">失败</span>' in page


@pytest.mark.parametrize("section", ["各部门积压", "投递状态", "近 14 天", "超期事项", "隔离记录", "死信",
                                     "非法状态报告", "DAG 最近运行", "部门连接检查", "未解除的告警"])
def test_the_page_has_every_section_in_chinese(demo: Demo, section: str) -> None:
    assert f"<h2>{section}" in render(read_board(demo.paths.ledger_url))


def test_a_failing_run_provider_costs_its_section_only(demo: Demo) -> None:
    def broken() -> list[DagRun]:
        raise RuntimeError("metadata database gone")

    board = read_board(demo.paths.ledger_url, broken)
    assert board.dag_runs is None and board.status["cases"]
    assert "无法读取 DAG 运行记录" in render(board)
