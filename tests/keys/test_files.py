"""Key files on disk (lianban.keys.files): written whole, 0600, and still there after a crash or power loss."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lianban.keys import files


def test_a_key_file_is_on_disk_before_it_replaces_the_old_one_and_the_rename_is_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: nothing was flushed, so a power loss soon after a rotation could leave the new key file
    empty, or the old one back, while the ledger had already committed what the new key sealed."""
    done: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        done.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        done.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "keys" / "vault.json"
    files.write_private_json(path, {"active": "k"})
    assert [step for step, _ in done] == ["fsync", "replace", "fsync"]
    assert done[0][1] == done[1][1] != str(path)  # the temporary file, flushed, then renamed
    assert done[2][1] == str(path.parent)  # then the folder holding the rename
    assert json.loads(path.read_text()) == {"active": "k"} and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_writers_of_one_key_file_do_not_share_a_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: both wrote ``<file>.tmp``; one writer's rename took the other's file away (and a write
    into a file the other had just truncated would leave a garbled key)."""
    path = tmp_path / "vault.json"
    real_replace, nested = os.replace, []

    def replace(src: str | Path, dst: str | Path) -> None:
        if not nested:  # another process writes the same file just before this one renames
            nested.append(True)
            files.write_private_json(path, {"active": "b"})
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files.write_private_json(path, {"active": "a"})
    assert json.loads(path.read_text()) == {"active": "a"}
    assert [p.name for p in tmp_path.iterdir()] == ["vault.json"]


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_file_written_only_where_there_is_none_is_never_put_over_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool) -> None:
    """Found in the recon review: write_private_text(replace=False), an evidence archive's writer, links the whole
    file into place so that one already there is never replaced; on a file system without hard links (a network
    share given as `audit archive --out`) the link failed (EPERM) and nothing was archived. There it is renamed
    into place once the path is found missing; either way a file there is left as it was, with no temporary left."""
    if not hard_links:
        def no_link(src: str, dst: Path) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "archive" / "evidence-2026-11.jsonl"
    files.write_private_text(path, "first\n", replace=False)
    assert path.read_text() == "first\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        files.write_private_text(path, "second\n", replace=False)
    assert path.read_text() == "first\n" and list(path.parent.iterdir()) == [path]
