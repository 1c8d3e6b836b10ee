"""Why a poll, a report or a 补正 forwarding stopped (``stopped_by``) is what the DAG task returns (its
XCom) and what `lianban run collect|report|supplements` print: an ID or mobile number a department's error message
carried (a malformed answer names the value it could not read) is masked there, as a delivery run's already is."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from lianban.app.config import Paths, department_settings
from lianban.app.registry import load_department, load_sink
from lianban.errors import RetriableError
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import poll_department
from lianban.pipeline.report import report
from lianban.pipeline.stage import stage
from lianban.pipeline.supplements import collect_supplements, forward_supplements

ID_NUMBER, MOBILE = "341602199001011234", "13812345678"
LEAKY = RetriableError(f"应答格式不符合接口规范（ValidationError: input_value='{ID_NUMBER}', phone {MOBILE}），"
                       "稍后重试")


def _raise(*_: Any, **__: Any) -> Any:
    raise LEAKY


def test_a_poll_stopped_by_a_message_with_an_id_number_says_so_masked(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    peer = load_department("housing_fund", department_settings("housing_fund"), paths.keys_dir)
    deliver(peer, paths.ledger_url, 100, paths.keys_dir)
    monkeypatch.setattr(peer.connector, "poll", _raise)
    stopped = str(poll_department(peer, paths.ledger_url, paths.keys_dir).as_dict()["stopped_by"])
    assert "应答格式不符合接口规范" in stopped and ID_NUMBER not in stopped and MOBILE not in stopped


def test_a_report_stopped_by_a_message_with_an_id_number_says_so_masked(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    sink = load_sink(department_settings("wanshi_tong"), paths.keys_dir)
    for name in ("push", "push_encoded"):
        monkeypatch.setattr(sink.connector, name, _raise, raising=False)
    stopped = str(report(sink, paths.ledger_url, paths.keys_dir).as_dict()["stopped_by"])
    assert "应答格式不符合接口规范" in stopped and ID_NUMBER not in stopped and MOBILE not in stopped


def test_a_forwarding_stopped_by_a_message_with_an_id_number_says_so_masked(
        seeded: Any, paths: Paths, simulation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = seeded[0]
    stage(db, paths.ledger_url, paths.keys_dir)
    peer = load_department("health", department_settings("health"), paths.keys_dir)
    deliver(peer, paths.ledger_url, 100, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        case_no, item_code = s.execute(select(Case.case_no, CaseItem.item_code).join(CaseItem)
                                       .where(CaseItem.department == "health")).first()
    db.record_supplement(case_no, item_code, ["M01"])
    collect_supplements(db, paths.ledger_url)
    monkeypatch.setattr(peer.connector, "supplement", _raise)
    stopped = str(forward_supplements(peer, paths.ledger_url, 50, paths.keys_dir).as_dict()["stopped_by"])
    assert "应答格式不符合接口规范" in stopped and ID_NUMBER not in stopped and MOBILE not in stopped
