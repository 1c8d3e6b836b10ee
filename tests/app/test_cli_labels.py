"""Every key a command's table shows reads in the operator's Chinese (found by a newcomer: `lianban status`, the
README's first operator command, listed ``held_cases``, ``open_by_department`` … and raw JSON)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from connectors.hrss.frontend import FrontendDB
from lianban.app.cli import app
from lianban.app.cli.labels import LABELS, label, shown
from lianban.app.config import Paths
from lianban.ledger.evidence import Verdict
from lianban.ledger.progress import Progress
from lianban.pipeline.alerts import CheckResult
from lianban.pipeline.deliver import DeliverResult
from lianban.pipeline.feedback import FeedbackResult
from lianban.pipeline.pensions import PensionResult
from lianban.pipeline.reminders import ReminderResult
from lianban.pipeline.sms_notices import NoticeResult
from lianban.pipeline.stage import StageResult
from lianban.pipeline.supplements import CollectResult
from simulators.people import generate


@pytest.mark.parametrize("result", [Progress, StageResult, DeliverResult, FeedbackResult, CollectResult, NoticeResult,
                                    ReminderResult, PensionResult, CheckResult, Verdict])
def test_every_key_of_every_result_has_its_chinese(result: type) -> None:
    assert [f.name for f in dataclasses.fields(result) if f.name not in LABELS] == []


def test_status_reads_in_chinese_with_the_json_keys_beside(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    FrontendDB(paths.frontend_url).insert_applications(list(generate(20, seed=4)))
    assert CliRunner().invoke(app, ["run", "stage"]).exit_code == 0
    keys = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    monkeypatch.setattr("lianban.app.cli.output.console", Console(width=200))  # a row a line
    table = CliRunner().invoke(app, ["status"]).output
    rows = re.findall(r"^│ (\S.*?) +│", table, flags=re.MULTILINE)
    assert {row.split(" (")[-1].rstrip(")") for row in rows if "(" in row} == set(keys)
    assert "已送达 (delivered)" in table and "全部办结 (done)" in table and "{" not in table


def test_a_nested_value_reads_a_line_a_key_in_chinese() -> None:
    assert shown({"medical": 3, "health": 0}) == "医疗保障局：3\n卫生健康委员会：0"
    assert shown(None) == "—" and shown(True) == "是" and shown([]) == "—" and shown(["a", "b"]) == "a、b"
    assert label("medical") == "医疗保障局 (medical)" and label("no_such_key") == "no_such_key"
