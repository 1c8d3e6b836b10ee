"""Key rings on disk: creation, rotation, file mode, repr and malformed files (lianban.keys.rings)."""

from __future__ import annotations

import base64
import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lianban.errors import ConfigError
from lianban.keys import rings
from lianban.keys.rings import KEY_BYTES, KeyRing, ensure_ring, load_ring, rotate_ring


def test_ensure_creates_a_private_ring_once(tmp_path: Path) -> None:
    ring = ensure_ring(tmp_path, "medical")
    path = tmp_path / "medical.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.active.startswith("medical-") and len(ring.active_key()[1]) == KEY_BYTES
    assert ensure_ring(tmp_path, "medical") == ring


def test_rotation_adds_a_new_active_key_and_keeps_the_old(tmp_path: Path) -> None:
    first = ensure_ring(tmp_path, "health")
    rotated = rotate_ring(tmp_path, "health")
    assert rotated.active != first.active
    assert rotated.keys[first.active] == first.keys[first.active]
    assert load_ring(tmp_path, "health") == rotated
    assert stat.S_IMODE((tmp_path / "health.json").stat().st_mode) == 0o600


def test_repr_shows_key_ids_but_no_key_material(tmp_path: Path) -> None:
    ensure_ring(tmp_path, "housing_fund")
    ring = rotate_ring(tmp_path, "housing_fund")
    text = repr(ring)
    assert ring.active in text
    for key in ring.keys.values():
        assert base64.b64encode(key).decode() not in text and key.hex() not in text and repr(key) not in text


def test_unknown_kid_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'nope'.*medical key ring"):
        ensure_ring(tmp_path, "medical").get("nope")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"keys": {}}',
        '{"active": "a", "keys": {"a": "!!notbase64"}}',
        json.dumps({"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}}),
        json.dumps({"active": "b", "keys": {"a": base64.b64encode(bytes(16)).decode()}}),
    ],
)
def test_malformed_ring_names_the_file(tmp_path: Path, body: str) -> None:
    (tmp_path / "medical.json").write_text(body)
    with pytest.raises(ConfigError, match=r"medical\.json"):
        load_ring(tmp_path, "medical")


def test_missing_ring_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"health\.json.*lianban keys init"):
        load_ring(tmp_path, "health")


def test_ring_whose_keys_are_a_list_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "medical.json").write_text('{"active": "a", "keys": ["a"]}')
    with pytest.raises(ConfigError, match=r"medical\.json"):
        load_ring(tmp_path, "medical")


def rotate_twice_at_once(monkeypatch: pytest.MonkeyPatch, module: Any, rotate: Callable[[], object]) -> object:
    """Rotate in a thread that stops (up to a second) as it starts writing, and meanwhile here: what this one made
    (`module`: where the rotation writes through ``write_private_json``)."""
    writing, done_here = threading.Event(), threading.Event()
    real = module.write_private_json

    def write(path: Path, body: object) -> None:
        if threading.current_thread() is there and not writing.is_set():
            writing.set()
            done_here.wait(1.0)
        real(path, body)

    monkeypatch.setattr(module, "write_private_json", write)
    there = threading.Thread(target=rotate)
    there.start()
    assert writing.wait(5)
    made = rotate()
    done_here.set()
    there.join()
    return made


def test_two_rotations_at_once_keep_both_new_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: each read the ring, added a key and wrote it back, so the later write dropped the key the
    other had just made active (and perhaps sealed with already)."""
    ensure_ring(tmp_path, "vault")
    made = rotate_twice_at_once(monkeypatch, rings, lambda: rotate_ring(tmp_path, "vault"))
    kids = sorted(load_ring(tmp_path, "vault").keys)
    assert len(kids) == 3 and isinstance(made, KeyRing) and made.active in kids


def test_the_keys_a_run_holds_never_show_in_their_repr(tmp_path: Path) -> None:
    """Found in review: README ("repr of records, keys and settings never shows them"), yet staging's StageKeys and
    the reminders' NoticeKeys, plain dataclasses, printed the blind-index key and the 查询密码's HMAC key in their
    repr (a traceback's locals, a debug line)."""
    from lianban.keys.provision import ensure_hub_keys
    from lianban.pipeline.prepare import load_keys
    from lianban.pipeline.reminders import notice_keys

    ensure_hub_keys(tmp_path)
    secret = [load_ring(tmp_path, ring).active_key()[1] for ring in ("hub", "query")]
    for keys in (load_keys(tmp_path), notice_keys(tmp_path)):
        assert not any(repr(key) in repr(keys) or key.hex() in repr(keys) for key in secret), type(keys).__name__
