"""The feedback jobs as the DAG's tasks call them: a department's own task fails when its step fails (Airflow
marks it failed, retries it and records it for the duty desk), while `lianban run supplements`, which runs every
department in one process, still goes on past one that fails and names it."""

from __future__ import annotations

import pytest

from lianban.app import jobs
from lianban.app.config import Paths, conn_env_name
from lianban.errors import LianbanError


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
