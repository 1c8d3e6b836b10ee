"""Key rings: one per department (SM4 data keys) plus the hub's own blind-index key.

A ring lives in ``<keys_dir>/<owner>.json`` (mode 0600): ``{"active": kid, "keys": {kid: base64}}``.
The active key seals; every listed key still opens, so rotation needs no downtime. Key material never
appears in the repository, a log line or XCom; only key ids travel.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lianban.errors import ConfigError
from lianban.keys.files import write_private_json

KEY_BYTES = 16  # SM4 is a 128-bit block cipher with a 128-bit key


@dataclass(frozen=True)
class KeyRing:
    owner: str
    active: str
    keys: dict[str, bytes]

    def active_key(self) -> tuple[str, bytes]:
        return self.active, self.keys[self.active]

    def get(self, kid: str) -> bytes:
        try:
            return self.keys[kid]
        except KeyError:
            raise ConfigError(f"密钥标识 {kid!r} 不在 {self.owner} 密钥环中（已停用或未知）"
                              f"(key id not in the {self.owner} key ring)") from None

    def __repr__(self) -> str:
        return f"KeyRing(owner={self.owner!r}, active={self.active!r}, kids={sorted(self.keys)})"


def _path(keys_dir: Path, owner: str) -> Path:
    return Path(keys_dir) / f"{owner}.json"


def load_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Read `owner`'s ring; a missing or malformed file is a ConfigError naming the file."""
    path = _path(keys_dir, owner)
    try:
        data = json.loads(path.read_text())
        keys = {str(kid): base64.b64decode(v) for kid, v in data["keys"].items()}
        ring = KeyRing(owner, str(data["active"]), keys)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"密钥文件缺失或格式错误 key ring {path} is missing or malformed ({type(exc).__name__}); "
                          f"run `lianban keys init`") from None
    if ring.active not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
        raise ConfigError(f"key ring {path}: active key missing or a key is not {KEY_BYTES} bytes")
    return ring


def _write(path: Path, ring: KeyRing) -> None:
    write_private_json(path, {"active": ring.active,
                              "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}})


def check_retirable(owner: str, kid: str, active: str, held: Iterable[str]) -> None:
    """ConfigError unless `kid` is one of `held` and not the `active` key (rotate first, then retire)."""
    if kid == active:
        raise ConfigError(f"{kid} 是 {owner} 的当前密钥，请先轮换再停用 "
                          f"(is the active key of {owner}: rotate first, then retire it)")
    if kid not in held:
        raise ConfigError(f"{owner} 没有密钥 {kid} (has no key {kid})")


def new_kid(owner: str) -> str:
    return f"{owner}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def ensure_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Load `owner`'s ring, creating it with one fresh key when absent."""
    path = _path(keys_dir, owner)
    if not path.exists():
        kid = new_kid(owner)
        _write(path, KeyRing(owner, kid, {kid: secrets.token_bytes(KEY_BYTES)}))
    return load_ring(keys_dir, owner)


def rotate_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Add a fresh key and make it active; older keys keep opening what they sealed."""
    ring = load_ring(keys_dir, owner)
    kid = new_kid(owner)
    rotated = KeyRing(owner, kid, {**ring.keys, kid: secrets.token_bytes(KEY_BYTES)})
    _write(_path(keys_dir, owner), rotated)
    return rotated


def retire_ring_key(keys_dir: Path, owner: str, kid: str) -> KeyRing:
    """Remove `kid` from `owner`'s ring: what it sealed no longer opens. The active key cannot be retired."""
    ring = load_ring(keys_dir, owner)
    check_retirable(owner, kid, ring.active, ring.keys)
    kept = KeyRing(owner, ring.active, {k: v for k, v in ring.keys.items() if k != kid})
    _write(_path(keys_dir, owner), kept)
    return kept
