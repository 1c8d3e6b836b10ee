"""`lianban audit …` at the command: an archive checked where only the hub's public key is held."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lianban.app.cli import app
from lianban.app.config import Paths
from lianban.ledger.db import engine_for, session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.evidence_archive import archive_month
from lianban.ledger.models import Evidence
from lianban.ledger.time_limits import beijing_date
from tests.app.test_jobs_archive import _appended


def _month(session: Session) -> str:
    """The (Beijing) month of the ledger's first entry: the month whose archive holds it."""
    return f"{beijing_date(datetime.fromisoformat(str(session.scalar(select(Evidence.at))))):%Y-%m}"


def test_an_archive_verifies_where_only_the_hubs_public_key_is_held(paths: Paths, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `audit verify --archive` always wanted the chain key, so an auditor holding only the hub's
    public key (what the archive is signed for) got "密钥文件不存在 … evidence.json；请运行 lianban keys init"; and
    keys init there makes a new hub-signing-sm pair over the imported public file, after which the intact archive
    fails its signature check."""
    with session_factory(paths.ledger_url).begin() as session:
        EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", ["BZ1"], {"batch": 1})
    with session_factory(paths.ledger_url)() as session:
        month = _month(session)
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


def test_an_archive_goes_under_the_installations_home(paths: Paths, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the first-hour review: without --out the archive went to var/archive under whatever folder the
    command was typed in, so two installations on one machine (the demo's var/demo and var/lianban) wrote one
    file for a month, the second over the first, and `docker compose run --rm … audit archive` left it in the
    container it then removed."""
    with session_factory(paths.ledger_url).begin() as session:
        EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", ["BZ1"], {"batch": 1})
    with session_factory(paths.ledger_url)() as session:
        month = _month(session)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["audit", "archive", "--month", month, "--json"])
    assert result.exit_code == 0, result.exception
    written = Path(json.loads(result.output)["archive"])
    assert written.parent == paths.home / "archive" and written.is_file()
    assert not (elsewhere / "var").exists()


def test_the_ledger_is_checked_against_an_archive_kept_off_host(paths: Paths, tmp_path: Path) -> None:
    """Found in review: the README's threat model rests on the monthly archives kept elsewhere to catch whoever
    holds the keys folder and restores (or rebuilds) the ledger and the head file together, yet no command checked
    the ledger against an archive: `audit verify` found such a ledger intact, and `--archive` checks the file
    alone. `audit verify --against FILE` (repeatable) now verifies each archive, then that the ledger still holds
    its head, with the same hash."""
    def append(n: int) -> None:
        with session_factory(paths.ledger_url).begin() as session:
            EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", [f"BZ{n}"], {"batch": n})

    append(1)
    ledger, head = paths.home / "ledger.db", paths.keys_dir / "evidence-head.json"
    engine_for(paths.ledger_url).dispose()  # every connection closed: the WAL is checkpointed, as for a backup
    shutil.copy(ledger, tmp_path / "ledger.db")
    shutil.copy(head, tmp_path / "evidence-head.json")
    append(2)
    with session_factory(paths.ledger_url)() as session:
        month = _month(session)
        archive = archive_month(session, month, tmp_path / "off-host", paths.keys_dir)
    result = CliRunner().invoke(app, ["audit", "verify", "--against", str(archive), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["ok"], result.output
    engine_for(paths.ledger_url).dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "ledger.db", ledger)  # ledger and head file restored from one backup
    shutil.copy(tmp_path / "evidence-head.json", head)
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0  # consistent on this host
    result = CliRunner().invoke(app, ["audit", "verify", "--against", str(archive), "--json"])
    verdict = json.loads(result.output)
    assert result.exit_code == 1 and "已知链头" in verdict["problem"] and verdict["first_bad"] == 2
    archive.write_text(archive.read_text().replace("BZ1", "BZ9"))
    result = CliRunner().invoke(app, ["audit", "verify", "--against", str(archive), "--json"])
    verdict = json.loads(result.output)
    assert result.exit_code == 1 and str(archive) in verdict["problem"]


def test_archiving_a_month_again_never_replaces_its_signed_archive(paths: Paths) -> None:
    """Found in the recon review: `lianban audit archive --month M` typed a second time wrote a new archive over
    the first (an SM2 signature differs each time), so the copy an operator had verified and taken off-host no
    longer matched the host's, and an archive edited on the host was silently replaced by a fresh one. Now a
    complete archive that verifies is left as it is, and one that does not verify is kept and the command refused."""
    with session_factory(paths.ledger_url).begin() as session:
        EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", ["BZ1"], {"batch": 1})
    with session_factory(paths.ledger_url)() as session:
        month = _month(session)
    first = CliRunner().invoke(app, ["audit", "archive", "--month", month, "--json"])
    assert first.exit_code == 0, first.output
    archive = Path(json.loads(first.output)["archive"])
    before = archive.read_bytes()
    again = CliRunner().invoke(app, ["audit", "archive", "--month", month, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {"month": month, "archive": str(archive), "written": False}
    assert archive.read_bytes() == before
    archive.write_text(archive.read_text().replace("BZ1", "BZ9"))
    edited = archive.read_bytes()
    refused = CliRunner().invoke(app, ["audit", "archive", "--month", month, "--json"])
    assert refused.exit_code != 0 and "未覆盖" in str(refused.exception)
    assert archive.read_bytes() == edited and list(archive.parent.iterdir()) == [archive]


def test_archives_verified_together_must_chain_on_from_one_another(paths: Paths, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the recon review: `audit verify --archive` checked one file alone, so an auditor holding only the
    hub's public key and the monthly archives could not tell that one month's archive was missing from what they
    were given (or that one did not follow on from the month before): each verified. `--archive` is repeatable
    now, and archives verified together must chain on, each from an entry of the one before, none left out."""
    _appended(paths, monkeypatch, ["2026-10-10T03:00:00", "2026-11-10T03:00:00", "2026-11-11T03:00:00",
                                   "2026-12-10T03:00:00"])
    with session_factory(paths.ledger_url)() as session:
        october, november, december = (archive_month(session, month, tmp_path / "off-host", paths.keys_dir)
                                        for month in ("2026-10", "2026-11", "2026-12"))

    def verify(*archives: Path) -> tuple[int, dict[str, object]]:
        result = CliRunner().invoke(app, ["audit", "verify", *(f"--archive={a}" for a in archives), "--json"])
        return result.exit_code, json.loads(result.output)

    code, verdict = verify(december, october, november)  # in any order
    assert code == 0 and verdict["ok"] and verdict["checked"] == 4, verdict
    code, verdict = verify(october, december)
    assert code == 1 and not verdict["ok"] and verdict["first_bad"] == 2
    assert str(december) in str(verdict["problem"]) and "2–3" in str(verdict["problem"])
    assert verify(november)[0] == 0  # one archive alone: as before
