"""`lianban keys …` at the command: what an operator may rotate without losing what the ledger holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.hrss.frontend import FrontendDB
from lianban.app.cli import app
from lianban.app.config import Paths
from lianban.crypto.hashing import blind_index
from lianban.errors import ConfigError
from lianban.keys.rings import load_ring
from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog, verify_ledger
from lianban.ledger.models import Case


def test_the_blind_index_key_is_not_rotated(paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Found in review: `keys rotate hub` (docs/deploy.md listed it) made every blind index from then on differ
    from the ledger's: a person's open case was no longer found (a duplicate application went through), and a
    row read again no longer matched its fingerprint."""
    _, apps = seeded
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    before = load_ring(paths.keys_dir, "hub")
    result = CliRunner().invoke(app, ["keys", "rotate", "hub"])
    assert isinstance(result.exception, ConfigError) and "盲索引" in str(result.exception)
    key = load_ring(paths.keys_dir, "hub").active_key()[1]
    with session_factory(paths.ledger_url)() as session:
        indexes = set(session.scalars(select(Case.id_index)))
    assert indexes and indexes <= {blind_index(key, a["id_number"]) for a in apps}
    assert load_ring(paths.keys_dir, "hub") == before


def test_the_other_rings_still_rotate(paths: Paths) -> None:
    for ring in ("vault", "evidence", "query"):
        before = load_ring(paths.keys_dir, ring)
        assert CliRunner().invoke(app, ["keys", "rotate", ring]).exit_code == 0
        after = load_ring(paths.keys_dir, ring)
        assert after.active != before.active and before.active in after.keys


def test_a_chain_key_is_not_retired(paths: Paths) -> None:
    """Found in review: `keys retire evidence <old kid>` went through, and from then on the intact chain failed to
    verify ("链密钥 … 未知") at every entry the old key chained: the ledger keeps every entry for good."""
    def append(n: int) -> None:
        with session_factory(paths.ledger_url).begin() as session:
            EvidenceLog.load(paths.keys_dir).sent(session, "medical", "submit", [f"BZ{n}"], {"batch": n})

    append(1)
    old = load_ring(paths.keys_dir, "evidence").active
    assert CliRunner().invoke(app, ["keys", "rotate", "evidence"]).exit_code == 0
    append(2)
    result = CliRunner().invoke(app, ["keys", "retire", "evidence", old])
    assert isinstance(result.exception, ConfigError) and "证据链" in str(result.exception)
    with session_factory(paths.ledger_url)() as session:
        assert verify_ledger(session, paths.keys_dir).ok


def test_another_party_s_imported_public_keys_are_listed(paths: Paths) -> None:
    """A production hub holds a department's public keys only (``keys import``): `keys list` showed its own sets
    alone, so an operator could not see which key of the department's the hub encrypts to."""
    (paths.keys_dir / "medical-recipient.json").unlink()  # as on a hub that never held the bureau's private key
    public = json.loads((paths.keys_dir / "medical-recipient.pub.json").read_text(encoding="utf-8"))
    result = CliRunner().invoke(app, ["keys", "list", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["medical-recipient"]
    assert shown == {"kind": public["suite"], "active": public["active"], "keys": sorted(public["keys"]),
                     "private_held": []}


def _retiring_old_is_refused(paths: Paths, ring: str, words: str) -> None:
    """`ring`'s active key rotated out, then its retirement refused with a ConfigError saying `words`; kept."""
    old = load_ring(paths.keys_dir, ring).active
    assert CliRunner().invoke(app, ["keys", "rotate", ring]).exit_code == 0
    result = CliRunner().invoke(app, ["keys", "retire", ring, old])
    assert isinstance(result.exception, ConfigError) and words in str(result.exception)
    assert old in load_ring(paths.keys_dir, ring).keys


def _a_key_nothing_needs_retires(paths: Paths, ring: str) -> None:
    unused = load_ring(paths.keys_dir, ring).active
    assert CliRunner().invoke(app, ["keys", "rotate", ring]).exit_code == 0
    assert CliRunner().invoke(app, ["keys", "retire", ring, unused]).exit_code == 0


def test_a_vault_key_the_ledger_still_needs_is_not_retired(paths: Paths,
                                                           seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Staged rows sealed under the old vault key, not delivered yet: retiring it would leave every one of them
    dead as 台账密文无法解密 at the next delivery run. Refused, naming what still needs it; a key nothing needs
    goes."""
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    _retiring_old_is_refused(paths, "vault", "待投递或死信")
    _a_key_nothing_needs_retires(paths, "vault")


def test_a_vault_key_an_unreadable_status_row_is_sealed_under_is_not_retired(paths: Paths) -> None:
    """An HRSS status row with a code not in its table keeps its fields under the vault key, to be read again once
    the code is added: retiring the key is refused, naming the row, so the row is not lost for good."""
    from lianban.pipeline.status_log import collect_hrss

    db = FrontendDB(paths.frontend_url)
    db.append_status("BZ-9", "01", "7", at="2026-12-01T09:00:00+08:00")
    assert collect_hrss(db, paths.ledger_url, paths.keys_dir).parked == 1
    _retiring_old_is_refused(paths, "vault", "搁置待重新读取的人社状态记录 1 条")


def test_a_query_key_cases_still_hold_passwords_under_is_not_retired(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Found in review: `keys retire query <old kid>` went through while staged cases kept their 查询密码 hashed
    under it (a password is hashed once, at staging or a reset): from then on every one of those applicants was
    told their password was wrong, and locked out by the rate limit for trying again. Refused, naming how many;
    a key no case uses goes."""
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    _retiring_old_is_refused(paths, "query", "查询密码")
    _a_key_nothing_needs_retires(paths, "query")


def test_retiring_the_active_vault_key_says_to_rotate_first(paths: Paths,
                                                            seeded: tuple[FrontendDB, list[dict[str, Any]]]) -> None:
    """Found in review: `keys retire vault <the active kid>` answered that the ledger still needs the key and to wait
    until its rows are delivered, which never comes (every new row is sealed under it); the key is refused for
    being the active one, and the sentence now says so: rotate first."""
    assert CliRunner().invoke(app, ["run", "stage", "--json"]).exit_code == 0
    for ring in ("vault", "query"):
        result = CliRunner().invoke(app, ["keys", "retire", ring, load_ring(paths.keys_dir, ring).active])
        assert isinstance(result.exception, ConfigError) and "请先轮换" in str(result.exception), ring


def test_the_hubs_signing_key_is_published_before_it_signs(paths: Paths, tmp_path: Path) -> None:
    """Found in review: `keys rotate hub-signing-sm` signed with the new key at once, and a department verifies the
    hub's batches with the copy of hub-signing-sm.pub.json it was sent: from that moment every batch was refused
    BATCH_SIG until each department had installed the new file. `keys rotate NAME --hold` now adds the new pair
    without using it (the public file lists it, to send), and `keys activate NAME KID` makes it the one that signs
    once the departments hold it: what the department was sent verifies before and after."""
    import shutil

    from lianban.crypto.batch import BatchOpener, seal_batch
    from lianban.keys import keysets

    def batch() -> dict[str, Any]:
        kid, private = keysets.load(paths.keys_dir, "hub-signing-sm").active_private()
        recipient = keysets.load(paths.keys_dir, "medical-recipient")
        return seal_batch("SM", recipient.active, recipient.public[recipient.active], kid, private, "medical",
                          [("a", {"x": 1})]).header

    before = keysets.load(paths.keys_dir, "hub-signing-sm").active
    result = CliRunner().invoke(app, ["keys", "rotate", "hub-signing-sm", "--hold", "--json"])
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)["held"]
    assert keysets.load(paths.keys_dir, "hub-signing-sm").active == before
    sent = tmp_path / "hub-signing-sm.pub.json"  # what the department is sent and installs
    shutil.copy(paths.keys_dir / "hub-signing-sm.pub.json", sent)
    opener = BatchOpener("SM", keysets.load(paths.keys_dir, "medical-recipient").private,
                         keysets.load(tmp_path, "hub-signing-sm", public_only=True).public)
    assert opener.open_header(batch()).batch_id
    assert CliRunner().invoke(app, ["keys", "activate", "hub-signing-sm", held]).exit_code == 0
    assert keysets.load(paths.keys_dir, "hub-signing-sm").active == held
    assert opener.open_header(batch()).batch_id
    result = CliRunner().invoke(app, ["keys", "activate", "hub-signing-sm", "no-such-kid"])
    assert isinstance(result.exception, ConfigError) and "no-such-kid" in str(result.exception)


def test_a_retired_signing_key_is_listed_as_retired(paths: Paths) -> None:
    """A retired signing key's public half is kept to check what it signed (archives): `keys list` did not show
    it, so an operator could not tell which old signatures still verify."""
    from lianban.keys import keysets

    old = keysets.load(paths.keys_dir, "hub-signing-sm").active
    assert CliRunner().invoke(app, ["keys", "rotate", "hub-signing-sm"]).exit_code == 0
    assert CliRunner().invoke(app, ["keys", "retire", "hub-signing-sm", old]).exit_code == 0
    shown = json.loads(CliRunner().invoke(app, ["keys", "list", "--json"]).output)["hub-signing-sm"]
    assert shown["retired"] == [old] and old not in shown["keys"] and old not in shown["private_held"]


@pytest.mark.parametrize("command", [["rotate", "vault"], ["rotate", "query"], ["rotate", "evidence"],
                                     ["retire", "hub", "hub-20260101-abcdef"]])
def test_a_keys_command_failing_on_a_home_without_keys_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """Found in review: `keys rotate vault` on a home without keys (a mistyped LIANBAN_HOME) made the keys folder and
    a vault.lock in it, then failed for the missing key file: the next look found a keys folder that was not
    there before. It fails the same, saying to run keys init, and leaves no folder or file."""
    home = tmp_path / "home"
    monkeypatch.setenv("LIANBAN_HOME", str(home))
    monkeypatch.delenv("LIANBAN_KEYS_DIR", raising=False)
    result = CliRunner().invoke(app, ["keys", *command])
    assert isinstance(result.exception, ConfigError) and "lianban keys init" in str(result.exception)
    assert not home.exists()


def test_a_keys_command_failing_for_a_missing_key_file_leaves_no_lock(paths: Paths) -> None:
    """The same in a keys folder that lacks one ring (deleted, or never made): no query.lock beside nothing."""
    for gone in ("query.json", "query.lock"):
        (paths.keys_dir / gone).unlink()
    before = sorted(p.name for p in paths.keys_dir.iterdir())
    result = CliRunner().invoke(app, ["keys", "rotate", "query"])
    assert isinstance(result.exception, ConfigError) and "query.json" in str(result.exception)
    assert sorted(p.name for p in paths.keys_dir.iterdir()) == before
