"""Key rings on disk: creation, rotation, file mode, repr and malformed files (lianban.keys.rings)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from lianban.errors import ConfigError
from lianban.keys.rings import KEY_BYTES, ensure_ring, load_ring, rotate_ring


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
