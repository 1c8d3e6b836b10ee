"""The feedback jobs as the DAG's tasks call them: a department's own task fails when its step fails (Airflow
marks it failed, retries it and records it for the duty desk), while `lianban run supplements`, which runs every
department in one process, still goes on past one that fails and names it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from connectors.hrss.frontend import FrontendDB
from lianban.app import jobs
from lianban.app.config import Paths, conn_env_name
from lianban.errors import LianbanError
from lianban.ledger.db import session_factory
from lianban.ledger.models import StatusEvent
from lianban.ledger.store import utcnow
from lianban.pipeline.stage import stage


def _unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for department in jobs.pushed_departments():
        monkeypatch.delenv(conn_env_name(department), raising=False)


def test_a_forward_task_whose_connection_is_missing_fails(paths: Paths,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _unconfigured(monkeypatch)
    with pytest.raises(LianbanError, match="dept_medical"):
        jobs.forward_supplements("medical")  # the DAG's forward_medical: never green with an error inside


def test_run_supplements_goes_on_past_a_department_that_fails(paths: Paths,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _unconfigured(monkeypatch)
    results = jobs.supplements()
    assert "error" not in results["hrss"]
    assert all("dept_" + d in results[d]["error"] for d in jobs.pushed_departments())


def test_retry_parked_with_the_platform_s_connection_missing_puts_nothing_back(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    """``lianban run report --retry-parked`` put every refused event back in the outbox before it found that
    dept_wanshi_tong was not configured: the command failed (exit 2, as a slip should) having changed the ledger,
    the events gone from ``lianban parked`` and pushed unchanged by the next scheduled run. A slip changes
    nothing."""
    monkeypatch.delenv(conn_env_name("wanshi_tong"), raising=False)
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        s.execute(update(StatusEvent).values(parked_at=utcnow(), parked_reason="事项编码不在编码表中"))
    with pytest.raises(LianbanError, match="dept_wanshi_tong"):
        jobs.report(retry_parked=True)
    with session_factory(paths.ledger_url)() as s:
        assert s.scalar(select(func.count()).select_from(StatusEvent).where(StatusEvent.parked_at.is_(None))) == 0
