"""A live hub: three staged cases with statuses, reasons, 补正 materials and a result, served on port 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.api import create_app
from lianban.app.api.running import Running, start
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.keys.names import VAULT
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case, CaseItem
from lianban.ledger.progress_query import ProgressDesk
from lianban.ledger.results import seal_result
from lianban.ledger.store import record_status
from lianban.pipeline.stage import stage
from simulators.people import generate

#: a department's free-text reason carrying a phone number: the answer must mask it
REASON = "请补交退休申请表，咨询电话13912345678"


@dataclass
class Hub:
    url: str
    paths: Paths
    apps: list[dict[str, Any]]  # the applications as HRSS wrote them (passwords included)
    ledger_url: str

    def app(self, index: int) -> dict[str, Any]:
        return self.apps[index]


def _valid_apps() -> list[dict[str, Any]]:
    apps = [a for a in generate(12, seed=5) if len(a["phone"]) == 11 and a["employer_name"]][:3]
    for app, items in zip(apps, ("01,11,14", "01,12", "01,10"), strict=True):
        app["items"] = items
    return apps


def _report(paths: Paths, ledger_url: str, case_no: str) -> None:
    """HRSS asks for a material on item 01; the housing fund completes item 14 with the amount transferred."""
    vault = load_ring(paths.keys_dir, VAULT)
    with session_factory(ledger_url).begin() as session:
        case = session.scalars(select(Case).where(Case.case_no == case_no)).one()
        items = {i.item_code: i for i in session.scalars(select(CaseItem).where(CaseItem.case_id == case.id))}
        record_status(session, items["01"], Status.SUPPLEMENT, "hrss", code="4", reason=REASON,
                      changed_at="2026-11-20T09:00:00+08:00", materials=["M03"])
        record_status(session, items["14"], Status.ACCEPTED, "housing_fund", code="01", reason=None,
                      changed_at="2026-11-21T09:00:00+08:00")
        paid = {"amount": "23456.78", "transferred_on": "2026-11-28"}
        sealed = seal_result(vault, case_no, "14", "housing_fund", paid)
        record_status(session, items["14"], Status.COMPLETED, "housing_fund", code="09", reason=None,
                      changed_at="2026-11-28T15:00:00+08:00", result=sealed)


def _serve(paths: Paths, ledger_url: str) -> Iterator[Hub]:
    apps = _valid_apps()
    frontend = FrontendDB(paths.frontend_url)
    frontend.insert_applications(apps)
    result = stage(frontend, ledger_url, paths.keys_dir)
    assert result.staged == 3, result
    _report(paths, ledger_url, apps[0]["case_no"])
    running: Running = start(create_app(ProgressDesk(ledger_url, paths.keys_dir)))
    yield Hub(running.url, paths, apps, ledger_url)
    running.stop()


@pytest.fixture
def hub(paths: Paths) -> Iterator[Hub]:
    yield from _serve(paths, paths.ledger_url)


@pytest.fixture
def hub_on_either(paths: Paths, ledger_url: str) -> Iterator[Hub]:
    """The same hub with its ledger on SQLite, and on a real PostgreSQL (LIANBAN_TEST_PG_URL)."""
    yield from _serve(paths, ledger_url)
