"""A department without 国密 takes the NIST suite (AES-256-GCM, X25519 key wrap, ECDSA) end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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
