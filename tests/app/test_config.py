"""Installation paths and connection lookup from the environment (lianban.app.config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lianban.app.config import Paths, connection_json, department_settings
from lianban.errors import ConfigError
from lianban.wire.settings import parse_connection

SECRET = "s3cret-Pa55"
MEDICAL = json.dumps({"host": "medical.example.test", "login": "hub", "password": SECRET})


def test_missing_env_var_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_DEPT_HOUSING_FUND"):
        department_settings("housing_fund", env={})
    assert department_settings("medical", env={"AIRFLOW_CONN_DEPT_MEDICAL": MEDICAL}).login == "hub"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081", "https://wanshi.example.test"])
def test_connection_json_round_trips(url: str) -> None:
    s = parse_connection("wanshi_tong", connection_json(url, "hub", SECRET, wsdl="w.wsdl", read_timeout=3))
    assert (s.base_url, s.login, s.password, s.wsdl, s.transport.read_timeout) == (url, "hub", SECRET, "w.wsdl", 3)


def test_paths_default_under_lianban_home(tmp_path: Path) -> None:
    p = Paths.from_env({"LIANBAN_HOME": str(tmp_path)})
    assert p.home == tmp_path.resolve() and p.keys_dir == tmp_path.resolve() / "keys"
    assert p.ledger_url == f"sqlite:///{tmp_path.resolve() / 'ledger.db'}"
