"""Every `lianban` command takes ``--json`` (issue 14, item 5): scripts and the bureau's own tooling read one
JSON object (or, for the long-running servers, JSON lines) instead of scraping Chinese sentences.

The command tree is walked, so a command added later without ``--json`` fails here; the actions that used to
print only a sentence are run for real on an initialised home and their JSON is checked against what they did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

from lianban.app.cli import app

runner = CliRunner()


def leaf_commands(command: click.Command, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return {" ".join(prefix): command}
    found: dict[str, click.Command] = {}
    for name, sub in subcommands.items():
        found |= leaf_commands(sub, (*prefix, name))
    return found


def test_every_command_takes_json() -> None:
    commands = leaf_commands(typer.main.get_command(app))
    assert len(commands) > 30, "the walk found too few commands to mean anything"
    missing = sorted(name for name, command in commands.items()
                     if "--json" not in {o for p in command.params for o in getattr(p, "opts", [])})
    assert missing == [], f"commands without --json: {missing}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("json") / "home"


@pytest.fixture(autouse=True)
def _env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LIANBAN_LEDGER_URL", "LIANBAN_FRONTEND_URL", "LIANBAN_KEYS_DIR", "LIANBAN_LOGS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LIANBAN_HOME", str(home))


def run_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"one JSON line expected, got: {result.stdout!r}"
    return json.loads(lines[0])


def test_init_then_key_actions_answer_in_json(home: Path) -> None:
    assert run_json("init") == {"initialised": True, "home": str(home.resolve()),
                                "keys_dir": str(home.resolve() / "keys")}
    assert run_json("keys", "init")["ready"] is True
    before = run_json("keys", "list")["vault"]["active"]
    rotated = run_json("keys", "rotate", "vault")
    assert rotated["name"] == "vault" and rotated["active"] != before
    assert run_json("keys", "list")["vault"]["active"] == rotated["active"]
    assert run_json("keys", "retire", "vault", before) == {"name": "vault", "retired": before}


def test_requeue_and_listing_answer_in_json() -> None:
    run_json("init")
    assert run_json("deliveries", "retry") == {"requeued": 0}
    assert run_json("supplements", "retry") == {"requeued": 0}
    connectors = run_json("connectors", "list")
    assert {"medical", "housing_fund"} <= {row["department"] for row in connectors}


def test_audit_archive_answers_with_the_file_it_wrote(tmp_path: Path) -> None:
    run_json("init")
    written = run_json("audit", "archive", "--month", "2025-01", "--out", str(tmp_path))
    assert written["month"] == "2025-01" and Path(written["archive"]).is_file()
    assert Path(written["archive"]).parent == tmp_path
