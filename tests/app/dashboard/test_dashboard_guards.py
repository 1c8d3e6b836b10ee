"""The plugin's guards (plugins/lianban_dashboard.py) with Airflow's own check, its user and auth manager stood in
for: whoever may read every DAG's runs may look, and nobody narrows the question to a DAG of their own."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lianban.app.config import Paths
from lianban.app.dashboard import create_app

PLUGIN = Path(__file__).resolve().parents[3] / "plugins" / "lianban_dashboard.py"


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lianban_dashboard_under_test", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _OneDagOnly:
    """An auth manager granting one DAG's runs ("mine") and nothing else (FAB can: a role per DAG)."""

    def is_authorized_dag(self, *, method: str, access_entity: Any, details: Any, user: Any) -> bool:
        return details.id == "mine"


def test_a_dag_id_in_the_query_does_not_let_a_user_of_one_dag_read_the_whole_dashboard(
        paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Airflow's check asks about the DAG a ``dag_id`` query parameter names when there is one: the dashboard
    shows every DAG's ledger, so ``/?dag_id=mine`` must be refused like ``/``."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    guards = _plugin().guards()
    from airflow.api_fastapi.core_api import security

    monkeypatch.setattr(security, "get_auth_manager", _OneDagOnly)
    monkeypatch.setattr(security.DagModel, "get_team_name", staticmethod(lambda dag_id, **_: None))
    app = create_app(paths.ledger_url, dependencies=guards)
    app.dependency_overrides[security.get_user] = lambda: object()
    client = TestClient(app)
    assert client.get("/").status_code == 403
    assert client.get("/numbers.json", params={"dag_id": "mine"}).status_code == 403
    assert client.get("/", params={"dag_id": "mine"}).status_code == 403
