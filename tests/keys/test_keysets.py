"""Asymmetric key sets: right kind per purpose, public files carry no private key, rotate then retire."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from pathlib import Path

import pytest

from lianban.crypto.suites import get_suite
from lianban.errors import ConfigError
from lianban.keys import keysets


@pytest.mark.parametrize("suite", ["SM", "NIST"])
def test_signing_sets_sign_and_recipient_sets_unwrap(tmp_path: Path, suite: str) -> None:
    s = get_suite(suite)
    signing = keysets.ensure(tmp_path, f"hub-signing-{suite.lower()}", suite)
    kid, private = signing.active_private()
    assert s.verify(signing.public[kid], b"m", s.sign(private, b"m"))
    recipient = keysets.ensure(tmp_path, "medical-recipient", suite)
    rkid, rprivate = recipient.active_private()
    dek = b"k" * s.data_key_bytes
    assert s.unwrap(rprivate, s.wrap(recipient.public[rkid], dek)) == dek


def test_public_file_holds_no_private_key_and_files_are_private(tmp_path: Path) -> None:
    keysets.ensure(tmp_path, "health-signing")
    public = json.loads((tmp_path / "health-signing.pub.json").read_text())
    assert all("private" not in k for k in public["keys"].values())
    assert keysets.load(tmp_path, "health-signing", public_only=True).private == {}
    for name in ("health-signing.json", "health-signing.pub.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_rotate_keeps_old_keys_until_retired(tmp_path: Path) -> None:
    first = keysets.ensure(tmp_path, "medical-recipient").active
    rotated = keysets.rotate(tmp_path, "medical-recipient")
    assert rotated.active != first and first in rotated.private
    with pytest.raises(ConfigError, match="rotate first"):
        keysets.retire(tmp_path, "medical-recipient", rotated.active)
    kept = keysets.retire(tmp_path, "medical-recipient", first)
    assert first not in kept.public and first not in keysets.load(tmp_path, "medical-recipient", True).public
    assert kept.retired == {}  # a recipient key opens nothing after it is retired: nothing of it is kept


def test_a_retired_signing_key_is_kept_apart_to_check_what_it_signed_before(tmp_path: Path) -> None:
    """Its public half leaves `public` (no message signed with it is taken again) for `retired`, in both files,
    so the hub's archives signed with it still verify (lianban.ledger.evidence_archive)."""
    first = keysets.ensure(tmp_path, "hub-signing-sm")
    keysets.rotate(tmp_path, "hub-signing-sm")
    keysets.retire(tmp_path, "hub-signing-sm", first.active)
    for public_only in (False, True):
        loaded = keysets.load(tmp_path, "hub-signing-sm", public_only)
        assert first.active not in loaded.public and loaded.retired == {first.active: first.public[first.active]}


def test_repr_and_errors_never_show_key_material(tmp_path: Path) -> None:
    ks = keysets.ensure(tmp_path, "hub-signing-sm")
    _, private = ks.active_private()
    assert private.hex() not in repr(ks) and "private" not in repr(ks)
    (tmp_path / "broken-signing.json").write_text('{"suite": "SM", "active": "x", "keys": []}')
    with pytest.raises(ConfigError, match=r"broken-signing\.json"):
        keysets.load(tmp_path, "broken-signing")


def test_production_hub_imports_public_keys_only(tmp_path: Path) -> None:
    from lianban.keys.provision import ensure_hub_keys

    department = tmp_path / "medical-side"
    keysets.ensure(department, "medical-recipient")
    hub = tmp_path / "hub"
    ensure_hub_keys(hub)
    assert not (hub / "medical-recipient.json").exists()
    with pytest.raises(ConfigError, match="私钥"):
        keysets.import_public(hub, "medical-recipient", department / "medical-recipient.json")
    imported = keysets.import_public(hub, "medical-recipient", department / "medical-recipient.pub.json")
    assert imported.private == {} and keysets.load(hub, "medical-recipient", public_only=True).public
    assert not (hub / "medical-recipient.json").exists()


def test_lianban_init_keeps_an_imported_public_key_and_makes_no_stand_in(tmp_path: Path) -> None:
    """Found in review: `lianban init` (lianban-init runs it at every start) made a stand-in pair for every party
    whose private file it did not find, which on a production hub is every one: it wrote the hub a "department"
    private key and overwrote the department's imported public key, so the hub sealed for a key the department
    does not have, and checked its answers against one it never signed with."""
    from lianban.keys.provision import ensure_hub_keys, ensure_keys

    department = tmp_path / "medical-side"
    sent = keysets.ensure(department, "medical-recipient")
    hub = tmp_path / "hub"
    ensure_hub_keys(hub)
    keysets.import_public(hub, "medical-recipient", department / "medical-recipient.pub.json")
    ensure_keys(hub)
    assert keysets.load(hub, "medical-recipient", public_only=True).public == sent.public
    assert not (hub / "medical-recipient.json").exists()
    assert keysets.ensure(hub, "medical-recipient").private == {}


def _other_suite_file(tmp_path: Path, name: str, public: bytes) -> Path:
    source = tmp_path / "sent" / f"{name}.pub.json"
    source.parent.mkdir(exist_ok=True)
    source.write_text(json.dumps({"suite": "SM", "active": "k1",
                                  "keys": {"k1": {"public": base64.b64encode(public).decode()}}}))
    return source


@pytest.mark.parametrize("public", [get_suite("NIST").generate_recipient_key().public,  # an X25519 key, 32 bytes
                                    b"\x04" + b"\x01" * 64,  # the right length, not a point of the SM2 curve
                                    b"\x04"], ids=["x25519", "off-curve", "short"])
def test_a_key_that_is_not_one_of_its_suite_is_refused_naming_the_file(tmp_path: Path, public: bytes) -> None:
    """Found in review: such a file imported and loaded, and the delivery run then stopped on a bare
    ValueError ("recipient public key is not an SM2 point") naming no file and no remedy."""
    keysets.ensure(tmp_path, "hub-signing-sm")
    source = _other_suite_file(tmp_path, "medical-recipient", public)
    with pytest.raises(ConfigError, match=r"medical-recipient\.pub\.json.*k1"):
        keysets.import_public(tmp_path, "medical-recipient", source)
    shutil.copy(source, tmp_path / "medical-recipient.pub.json")
    with pytest.raises(ConfigError, match=r"medical-recipient\.pub\.json.*k1"):
        keysets.load(tmp_path, "medical-recipient", public_only=True)


@pytest.mark.parametrize("suite", ["SM", "NIST"])
def test_a_private_key_of_the_wrong_size_is_refused_naming_the_file(tmp_path: Path, suite: str) -> None:
    keysets.ensure(tmp_path, "hub-signing", suite)
    path = tmp_path / "hub-signing.json"
    body = json.loads(path.read_text())
    body["keys"][body["active"]]["private"] = base64.b64encode(b"\x01" * 31).decode()
    path.write_text(json.dumps(body))
    with pytest.raises(ConfigError, match=r"hub-signing\.json"):
        keysets.load(tmp_path, "hub-signing")


def _cut_at(monkeypatch: pytest.MonkeyPatch, failing: int) -> None:
    """Key files are written as before, but the `failing`-th write from now on (1-based) dies (disk full, crash)."""
    real, writes = keysets.write_private_json, []

    def write(path: Path, body: object) -> None:
        writes.append(path)
        if len(writes) == failing:
            raise OSError(28, "No space left on device")
        real(path, body)

    monkeypatch.setattr(keysets, "write_private_json", write)


@pytest.mark.parametrize("failing", [1, 2, 3])
@pytest.mark.parametrize("name", ["hub-signing-sm", "medical-recipient"])
def test_a_rotation_cut_short_leaves_private_and_public_files_that_work_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, failing: int) -> None:
    """Found in review: a rotation that wrote the private file but not the public one left the holder signing with
    a key the public file (what the other parties verify with) does not hold."""
    keysets.ensure(tmp_path, name)
    _cut_at(monkeypatch, failing)
    with pytest.raises(OSError):
        keysets.rotate(tmp_path, name)
    monkeypatch.undo()
    private, public = keysets.load(tmp_path, name), keysets.load(tmp_path, name, public_only=True)
    assert private.active in public.public  # what the holder signs with, the others verify
    assert public.active in private.private  # what the others seal for, the holder opens
    assert keysets.rotate(tmp_path, name).active in keysets.load(tmp_path, name, public_only=True).public


def test_keys_init_completes_a_key_set_whose_public_file_was_never_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cut_at(monkeypatch, 2)
    with pytest.raises(OSError):
        keysets.ensure(tmp_path, "hub-signing-sm")
    monkeypatch.undo()
    held = keysets.ensure(tmp_path, "hub-signing-sm")
    assert keysets.load(tmp_path, "hub-signing-sm", public_only=True).public == held.public


def test_importing_a_partys_keys_of_another_suite_than_agreed_is_refused(tmp_path: Path) -> None:
    """Found in review: a NIST file imported as medical-recipient (medical agreed SM) was installed, and the
    delivery run then stopped on a bare ValueError when it wrapped a data key for it."""
    department = tmp_path / "medical-side"
    keysets.ensure(department, "medical-recipient", "NIST")
    hub = tmp_path / "hub"
    with pytest.raises(ConfigError, match=r"medical-recipient\.pub\.json.*NIST.*SM"):
        keysets.import_public(hub, "medical-recipient", department / "medical-recipient.pub.json")
    assert not (hub / "medical-recipient.pub.json").exists()
    keysets.ensure(department, "hub-signing-nist", "NIST")  # not a party's key set: any suite
    assert keysets.import_public(hub, "hub-signing-nist", department / "hub-signing-nist.pub.json").suite == "NIST"


def test_a_private_key_spelt_with_json_escapes_is_refused_on_import(tmp_path: Path) -> None:
    """Found in review: the import looked for the text ``"private"`` only, so ``"\\u0070rivate"`` (the same JSON
    key) passed, and the private key was written into medical-recipient.pub.json."""
    keysets.ensure(tmp_path / "dept", "medical-recipient")
    source = tmp_path / "sent.json"
    source.write_text((tmp_path / "dept" / "medical-recipient.json").read_text().replace('"private"',
                                                                                         '"\\u0070rivate"'))
    with pytest.raises(ConfigError, match="私钥"):
        keysets.import_public(tmp_path / "hub", "medical-recipient", source)
    assert not (tmp_path / "hub" / "medical-recipient.pub.json").exists()


def test_a_key_set_without_its_active_private_key_says_so_in_chinese(tmp_path: Path) -> None:
    """Found in review: this error (an operator reads it at `lianban audit archive`, or when a run seals) was
    English only."""
    keysets.ensure(tmp_path, "hub-signing-sm")
    shutil.copy(tmp_path / "hub-signing-sm.pub.json", tmp_path / "hub-signing-sm.json")
    with pytest.raises(ConfigError, match=r"^hub-signing-sm .*私钥.*lianban keys list"):
        keysets.load(tmp_path, "hub-signing-sm").active_private()


def test_two_rotations_of_a_key_set_at_once_keep_both_new_pairs(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.keys.test_rings import rotate_twice_at_once

    keysets.ensure(tmp_path, "hub-signing-sm")
    made = rotate_twice_at_once(monkeypatch, keysets, lambda: keysets.rotate(tmp_path, "hub-signing-sm"))
    held = keysets.load(tmp_path, "hub-signing-sm")
    kids = sorted(held.private)
    assert len(kids) == 3 and isinstance(made, keysets.KeySet) and made.active in kids
    assert sorted(keysets.load(tmp_path, "hub-signing-sm", public_only=True).public) == kids


def test_importing_over_a_key_set_this_installation_holds_is_refused(tmp_path: Path) -> None:
    """Found in review: `keys import hub-signing-sm FILE` replaced the hub's own public file with another's, so
    what the hub signed from then on (and had signed before) no longer verified against it."""
    own = keysets.ensure(tmp_path / "hub", "hub-signing-sm")
    keysets.ensure(tmp_path / "other", "hub-signing-sm")
    with pytest.raises(ConfigError, match="本方"):
        keysets.import_public(tmp_path / "hub", "hub-signing-sm", tmp_path / "other" / "hub-signing-sm.pub.json")
    assert keysets.load(tmp_path / "hub", "hub-signing-sm", public_only=True).public == own.public


def test_a_partys_public_keys_replace_the_stand_in_lianban_init_made(tmp_path: Path) -> None:
    """deploy.md: imported after the first start, a department's keys take the place of init's stand-in."""
    from lianban.keys.provision import ensure_keys

    ensure_keys(tmp_path / "hub")
    sent = keysets.ensure(tmp_path / "dept", "medical-recipient")
    keysets.import_public(tmp_path / "hub", "medical-recipient", tmp_path / "dept" / "medical-recipient.pub.json")
    assert keysets.load(tmp_path / "hub", "medical-recipient", public_only=True).public == sent.public


def test_a_stand_in_private_file_gives_way_to_the_imported_public_keys(tmp_path: Path) -> None:
    """Found in review: imported over the stand-in `lianban init` made (deploy.md: import after the first start),
    the department's public keys went into ``.pub.json`` while the stand-in's private file stayed: `keys list` went
    on showing the stand-in's key ids as the department's, and `keys rotate medical-recipient` (allowed: a private
    file was there) wrote the stand-in's keys back over the imported ones, so the hub sealed every batch for a key
    the department does not have. The stand-in is now moved aside (kept, out of the way); the department's own
    pair, imported again, stays."""
    from lianban.keys.provision import ensure_keys

    hub = tmp_path / "hub"
    ensure_keys(hub)
    sent = keysets.ensure(tmp_path / "dept", "medical-recipient")
    keysets.import_public(hub, "medical-recipient", tmp_path / "dept" / "medical-recipient.pub.json")
    assert not (hub / "medical-recipient.json").exists() and (hub / "medical-recipient.stand-in.bak").exists()
    ensure_keys(hub)
    assert keysets.ensure(hub, "medical-recipient").public == sent.public
    assert keysets.load(hub, "medical-recipient", public_only=True).public == sent.public
    keysets.import_public(tmp_path / "dept", "medical-recipient", tmp_path / "dept" / "medical-recipient.pub.json")
    assert keysets.load(tmp_path / "dept", "medical-recipient").private == sent.private


def test_every_stand_in_moved_aside_is_kept(tmp_path: Path) -> None:
    """A second stand-in (init run again after the imported file went missing), moved aside by a second import,
    replaced the first one's ``.stand-in.bak``: the private key of the first was lost. Each is kept now."""
    from lianban.keys.provision import ensure_keys

    hub, sent = tmp_path / "hub", tmp_path / "dept" / "medical-recipient.pub.json"
    keysets.ensure(tmp_path / "dept", "medical-recipient")
    stand_ins = []
    for _ in range(3):
        ensure_keys(hub)
        stand_ins.append((hub / "medical-recipient.json").read_bytes())
        keysets.import_public(hub, "medical-recipient", sent)
        (hub / "medical-recipient.pub.json").unlink()  # gone: the next init makes a stand-in again
    kept = sorted(hub.glob("medical-recipient.stand-in*.bak"))
    assert sorted(p.read_bytes() for p in kept) == sorted(stand_ins)
    assert (hub / "medical-recipient.stand-in.bak").read_bytes() == stand_ins[0]


@pytest.mark.parametrize("name", ["medical-recipent", "medical", "../outside-signing", "vault"])
def test_a_name_no_key_set_is_known_by_is_not_imported(tmp_path: Path, name: str) -> None:
    """Found in review: `keys import` wrote whatever name it was given: a misspelt one (medical-recipent) was
    reported 已导入 and never used, the hub went on sealing for the key the department had replaced, and a name
    with a path in it was written outside the keys folder. Now the name must be a party's key set or the hub's
    signing set; nothing is written otherwise."""
    sent = keysets.ensure(tmp_path / "dept", "medical-recipient")
    assert sent.public
    hub = tmp_path / "keys" / "hub"
    hub.mkdir(parents=True)
    with pytest.raises(ConfigError, match="medical-recipient"):
        keysets.import_public(hub, name, tmp_path / "dept" / "medical-recipient.pub.json")
    assert not list((tmp_path / "keys").rglob("*.pub.json"))
