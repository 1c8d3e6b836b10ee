"""`lianban audit …` at the command: an archive checked where only the hub's public key is held."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lianban.app.cli import app
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.evidence_archive import archive_month
from lianban.ledger.models import Evidence


def test_an_archive_verifies_where_only_the_hubs_public_key_is_held(paths: Paths, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `audit verify --archive` always wanted the chain key, so an auditor holding only the hub's
    public key (what the archive is signed for) got "密钥文件不存在 … evidence.json；请运行 lianban keys init"; and
    keys init there makes a new hub-signing-sm pair over the imported public file, after which the intact archive
    fails its signature check."""
    with session_factory(paths.ledger_url).begin() as session:
        EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", ["BZ1"], {"batch": 1})
    with session_factory(paths.ledger_url)() as session:
        month = str(session.scalar(select(Evidence.at)))[:7]
        archive = archive_month(session, month, tmp_path / "archive", paths.keys_dir)
    auditor = tmp_path / "auditor-keys"
    auditor.mkdir()
    shutil.copy(paths.keys_dir / "hub-signing-sm.pub.json", auditor)
    monkeypatch.setenv("LIANBAN_KEYS_DIR", str(auditor))
    result = CliRunner().invoke(app, ["audit", "verify", "--archive", str(archive), "--json"])
    assert result.exit_code == 0, result.exception
    verdict = json.loads(result.output)
    assert verdict["ok"] and verdict["checked"] == 1 and verdict["chain_key"] is False
    monkeypatch.setenv("LIANBAN_KEYS_DIR", str(paths.keys_dir))
    verdict = json.loads(CliRunner().invoke(app, ["audit", "verify", "--archive", str(archive), "--json"]).output)
    assert verdict["ok"] and verdict["chain_key"] is True
    assert list(auditor.iterdir()) == [auditor / "hub-signing-sm.pub.json"]  # nothing created there
