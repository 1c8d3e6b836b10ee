"""Key rings: one per department (SM4 data keys) plus the hub's own blind-index key.

A ring lives in ``<keys_dir>/<owner>.json`` (mode 0600): ``{"active": kid, "keys": {kid: base64}}``.
The active key seals; every listed key still opens, so rotation needs no downtime. Key material never
appears in the repository, a log line or XCom; only key ids travel.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lianban.errors import ConfigError
from lianban.keys.files import b64, changing, decoded, malformed, read_key_json, write_private_json

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


def rings_stamp(keys_dir: Path, owners: Sequence[str]) -> tuple[tuple[int, int, int] | None, ...]:
    """What changes whenever one of `owners`' ring files is written (a rotation, a retirement): each file's inode,
    size and modification time, None for a missing one; a few stat calls, cheap enough to ask at every request."""
    def stamp(path: Path) -> tuple[int, int, int] | None:
        try:
            found = path.stat()
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    return tuple(stamp(_path(keys_dir, owner)) for owner in owners)


def load_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Read `owner`'s ring; a missing, unreadable or malformed file is a ConfigError naming the file."""
    path = _path(keys_dir, owner)
    data = read_key_json(path)
    keys, active = decoded(path, lambda: ({str(kid): b64(v) for kid, v in data["keys"].items()}, str(data["active"])),
                           ("结构不符（应为 active 与 keys 两项）", 'expected {"active": kid, "keys": {kid: base64}}'))
    if active not in keys:
        raise malformed(path, f"当前密钥 {active} 不在文件中", f"the active key {active} is not in the file")
    for kid, key in keys.items():
        if len(key) != KEY_BYTES:
            raise malformed(path, f"密钥 {kid} 长度为 {len(key)} 字节而非 {KEY_BYTES} 字节",
                            f"key {kid} is {len(key)} bytes, not {KEY_BYTES}")
    return KeyRing(owner, active, keys)


def _write(path: Path, ring: KeyRing) -> None:
    write_private_json(path, {"active": ring.active,
                              "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}})


def check_retirable(owner: str, kid: str, active: str, held: Iterable[str]) -> None:
    """ConfigError unless `kid` is one of `held` and not the `active` key (rotate first, then retire)."""
    if kid == active:
        raise ConfigError(f"{kid} 是 {owner} 的当前密钥，请先轮换再停用 "
                          f"(is the active key of {owner}: rotate first, then retire it)")
    if kid not in held:
        raise ConfigError(f"{owner} 没有密钥 {kid}，可用 lianban keys list 查看现有密钥标识 "
                          f"({owner} has no key {kid}; see `lianban keys list`)")


def new_kid(owner: str) -> str:
    return f"{owner}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def ensure_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Load `owner`'s ring, creating it with one fresh key when absent."""
    path = _path(keys_dir, owner)
    if not path.exists():
        with changing(path):
            if not path.exists():
                kid = new_kid(owner)
                _write(path, KeyRing(owner, kid, {kid: secrets.token_bytes(KEY_BYTES)}))
    return load_ring(keys_dir, owner)


def rotate_ring(keys_dir: Path, owner: str) -> KeyRing:
    """Add a fresh key and make it active; older keys keep opening what they sealed."""
    with changing(_path(keys_dir, owner), existing=True):
        ring = load_ring(keys_dir, owner)
        kid = new_kid(owner)
        rotated = KeyRing(owner, kid, {**ring.keys, kid: secrets.token_bytes(KEY_BYTES)})
        _write(_path(keys_dir, owner), rotated)
    return rotated


def retire_ring_key(keys_dir: Path, owner: str, kid: str) -> KeyRing:
    """Remove `kid` from `owner`'s ring: what it sealed no longer opens. The active key cannot be retired."""
    with changing(_path(keys_dir, owner), existing=True):
        ring = load_ring(keys_dir, owner)
        check_retirable(owner, kid, ring.active, ring.keys)
        kept = KeyRing(owner, ring.active, {k: v for k, v in ring.keys.items() if k != kid})
        _write(_path(keys_dir, owner), kept)
    return kept
