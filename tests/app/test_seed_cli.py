"""`lianban seed` says which 前置库 it filled without its password: the trial profile's trial-seed runs it, and its
output is the container's log (`docker compose logs trial-seed`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lianban.app import setup
from lianban.app.cli import app

SECRET = "s3cret-frontend-pw"


@pytest.mark.parametrize("as_json", [True, False])
def test_seed_names_the_frontend_without_its_password(monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    monkeypatch.setenv("LIANBAN_FRONTEND_URL", f"postgresql+psycopg://lianban:{SECRET}@postgres:5432/hrss_trial")
    monkeypatch.setattr(setup, "seed", lambda paths, records, seed_value: records)  # no database here

    def written(*_: Any) -> None:
        raise AssertionError("no register was asked for")

    monkeypatch.setattr(setup, "seed_register", written)
    monkeypatch.setattr("lianban.app.cli.output.console", Console(width=200))  # the address on one line
    done = CliRunner().invoke(app, ["seed", "--records", "3", *(["--json"] if as_json else [])])
    assert done.exit_code == 0, done.output
    assert SECRET not in done.output and "postgres:5432/hrss_trial" in done.output
    if as_json:
        assert json.loads(done.output)["written"] == 3
