"""A department without 国密 takes the NIST suite (AES-256-GCM, X25519 key wrap, ECDSA) end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths, department_settings
from lianban.app.demo import connections
from lianban.app.registry import load_department
from lianban.app.setup import init
from lianban.domain.catalog import load_catalog
from lianban.keys import keysets
from lianban.pipeline.deliver import deliver
from lianban.pipeline.stage import stage
from simulators.people import generate
from simulators.runner import start


@pytest.fixture
def nist_housing_fund(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    departments = load_catalog().departments
    monkeypatch.setitem(departments, "housing_fund", replace(departments["housing_fund"], suite="NIST"))
    monkeypatch.setenv("LIANBAN_HOME", str(tmp_path / "home"))
    paths = Paths.from_env()
    init(paths, with_frontend=True)
    return paths


def test_nist_department_receives_and_answers(nist_housing_fund: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = nist_housing_fund
    assert keysets.load(paths.keys_dir, "housing_fund-recipient").suite == "NIST"
    assert keysets.load(paths.keys_dir, "medical-recipient").suite == "SM"
    frontend = FrontendDB(paths.frontend_url)
    frontend.insert_applications(generate(30, seed=5))
    staged = stage(frontend, paths.ledger_url, paths.keys_dir)
    sim = start(paths.home, paths.keys_dir, None, step_seconds=0.1)
    try:
        for name, value in connections(sim.urls, paths.home).items():
            monkeypatch.setenv(name, value)
        peer = load_department("housing_fund", department_settings("housing_fund"), paths.keys_dir)
        result = deliver(peer, paths.ledger_url, 50, paths.keys_dir)
        assert result.accepted > 0 and result.refused == 0 and result.retrying == 0
        assert sim.engines["housing_fund"].stats()["unique"] == result.accepted
        assert staged.deliveries >= result.accepted
    finally:
        sim.stop()


def test_a_suite_changed_after_the_keys_were_made_is_told_before_anything_is_sealed(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: housing_fund set to NIST in departments.yaml after its SM keys were imported (and lianban
    init run again, as lianban-init does at every start): the next deliver run died in a Python traceback from
    the X25519 key wrap ("An X25519 public key is 32 bytes long"), naming neither the department nor the keys.
    It is a ConfigError saying which suite is configured, which the key is, and what to do; nothing is sent."""
    from typer.testing import CliRunner

    from lianban.app.cli import app
    from lianban.app.config import conn_env_name, connection_json
    from lianban.errors import ConfigError

    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    departments = load_catalog().departments
    monkeypatch.setitem(departments, "housing_fund", replace(departments["housing_fund"], suite="NIST"))
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    monkeypatch.setenv(conn_env_name("housing_fund"), connection_json("http://127.0.0.1:9", "hub", "secret"))
    result = CliRunner().invoke(app, ["run", "deliver", "housing_fund", "--json"])
    assert isinstance(result.exception, ConfigError), result.exception
    said = str(result.exception)
    for words in ("住房公积金管理中心", "配置的算法套件为 NIST", "是 SM 套件",
                  "lianban keys import housing_fund-recipient"):
        assert words in said
