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
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_DEPT_HOUSING_FUND") as told:
        department_settings("housing_fund", env={})
    assert "请设置环境变量" in str(told.value) and "simulators/connections.env" in str(told.value)  # in Chinese, too
    assert department_settings("medical", env={"AIRFLOW_CONN_DEPT_MEDICAL": MEDICAL}).login == "hub"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081", "https://wanshi.example.test"])
def test_connection_json_round_trips(url: str) -> None:
    s = parse_connection("wanshi_tong", connection_json(url, "hub", SECRET, wsdl="w.wsdl", read_timeout=3))
    assert (s.base_url, s.login, s.password, s.wsdl, s.transport.read_timeout) == (url, "hub", SECRET, "w.wsdl", 3)


def test_paths_default_under_lianban_home(tmp_path: Path) -> None:
    p = Paths.from_env({"LIANBAN_HOME": str(tmp_path)})
    assert p.home == tmp_path.resolve() and p.keys_dir == tmp_path.resolve() / "keys"
    assert p.ledger_url == f"sqlite:///{tmp_path.resolve() / 'ledger.db'}"


def test_a_missing_ledger_points_to_init_and_to_the_demo_s_home(tmp_path: Path) -> None:
    """A newcomer right after `make demo` runs the CLI without LIANBAN_HOME: `lianban init` alone would make an empty
    ledger in var/lianban, while the demo's is in var/demo."""
    with pytest.raises(ConfigError) as told:
        Paths.from_env({"LIANBAN_HOME": str(tmp_path / "none")}).existing_ledger()
    assert "lianban init" in str(told.value) and "LIANBAN_HOME=var/demo" in str(told.value)
