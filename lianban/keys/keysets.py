"""Asymmetric key pairs (SM2, or X25519/ECDSA for the NIST suite) kept beside the SM4 rings.

Files under the keys directory (mode 0600), one per purpose::

    hub-signing.json              the hub's signing keys (private)       → hub-signing.pub.json (public)
    <dept>-recipient.json         a department's unwrapping keys          → <dept>-recipient.pub.json
    <dept>-signing.json           a department's response-signing keys   → <dept>-signing.pub.json

Body: ``{"suite": "SM", "active": kid, "keys": {kid: {"public": b64, "private": b64}}}`` (no ``private``
in ``.pub`` files). In production each party holds only its own private file and the others' public files;
the demo and the tests keep both in one directory to play every party. Rotation adds a key and makes it
active; older keys keep verifying and unwrapping until they are retired (removed). A retired signing key's
public half stays under ``"retired": {kid: b64}``: never trusted for a message again, only to check what it
signed before (the hub's monthly evidence archives, which an auditor verifies for years).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lianban.crypto.suites import SUITES, get_suite, private_key_ok, public_key_ok
from lianban.domain.catalog import load_catalog
from lianban.errors import ConfigError
from lianban.keys.files import b64, changing, decoded, malformed, read_key_json, write_private_json
from lianban.keys.names import hub_signing_name, suite_of
from lianban.keys.rings import check_retirable, new_kid


@dataclass(frozen=True)
class KeySet:
    """One purpose's keys: kid → public (and, when we hold it, private); `retired`: kid → public of the signing
    keys retired, for checking old signatures only (module docstring)."""

    name: str
    suite: str
    active: str
    public: dict[str, bytes]
    private: dict[str, bytes]
    retired: dict[str, bytes] = field(default_factory=dict)

    def active_private(self) -> tuple[str, bytes]:
        try:
            return self.active, self.private[self.active]
        except KeyError:
            raise ConfigError(f"{self.name} 密钥文件中没有当前密钥 {self.active} 的私钥（可能只是公钥文件）："
                              f"请从备份恢复本方的私钥文件，可用 lianban keys list 查看 (key set {self.name} holds no "
                              f"private key for its active id {self.active})") from None

    def __repr__(self) -> str:
        return f"KeySet(name={self.name!r}, suite={self.suite!r}, active={self.active!r}, kids={sorted(self.public)})"


def _path(keys_dir: Path, name: str, public: bool) -> Path:
    return Path(keys_dir) / f"{name}{'.pub' if public else ''}.json"


def _text(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _body(ks: KeySet, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    retired = {"retired": {kid: _text(pub) for kid, pub in ks.retired.items()}} if ks.retired else {}
    return {"suite": ks.suite, "active": ks.active, "keys": keys, **retired}


def _write_private(keys_dir: Path, ks: KeySet) -> None:
    keys = {kid: {"public": _text(pub), **({"private": _text(ks.private[kid])} if kid in ks.private else {})}
            for kid, pub in ks.public.items()}
    write_private_json(_path(keys_dir, ks.name, False), _body(ks, keys))


def _write_public(keys_dir: Path, ks: KeySet) -> None:
    public = {kid: {"public": _text(pub)} for kid, pub in ks.public.items()}
    write_private_json(_path(keys_dir, ks.name, True), _body(ks, public))


def _save(keys_dir: Path, ks: KeySet) -> None:
    _write_private(keys_dir, ks)
    _write_public(keys_dir, ks)


def load(keys_dir: Path, name: str, public_only: bool = False) -> KeySet:
    """Read a key set; ``public_only`` reads the ``.pub`` file (what the other party holds). A missing,
    unreadable or malformed file, or one of an unknown suite, is a ConfigError naming the file."""
    path = _path(keys_dir, name, public_only)
    return _parse(name, path, read_key_json(path))


def _parse(name: str, path: Path, data: Any) -> KeySet:
    """Key set `name` from the JSON body of `path`; a ConfigError naming `path` when it is not one."""
    def read() -> tuple[dict[str, bytes], dict[str, bytes], str, str, dict[str, bytes]]:
        keys = data["keys"]
        public = {str(k): b64(v["public"]) for k, v in keys.items()}
        private = {str(k): b64(v["private"]) for k, v in keys.items() if "private" in v}
        retired = {str(k): b64(v) for k, v in data.get("retired", {}).items()}
        return public, private, str(data["suite"]), str(data["active"]), retired

    public, private, suite, active, retired = decoded(path, read, (
        "结构不符（应为 suite、active 与 keys 三项）",
        'expected {"suite": …, "active": kid, "keys": {kid: {"public": base64}}}'))
    if suite not in SUITES:
        raise malformed(path, f"算法套件 {suite!r} 未知（应为 {' 或 '.join(sorted(SUITES))}）",
                        f"unknown cipher suite {suite!r}, expected one of {', '.join(sorted(SUITES))}")
    if active not in public:
        raise malformed(path, f"当前密钥 {active} 不在文件中", f"the active key {active} is not in the file")
    if empty := [k for k, v in (*public.items(), *private.items(), *retired.items()) if not v]:
        raise malformed(path, f"密钥 {empty[0]} 为空", f"key {empty[0]} is empty")
    if wrong := _misshapen(name, suite, {**retired, **public}, private):
        purpose = _purpose(name)
        raise malformed(path, f"密钥 {wrong} 不是 {suite} 算法套件的{_PURPOSE_ZH[purpose]}密钥（长度或取值不符）",
                        f"key {wrong} is not a {suite} {purpose} key (wrong length or value)")
    return KeySet(name, suite, active, public, private, retired)


_PURPOSE_ZH = {"signing": "签名", "recipient": "接收（解封）"}


def _misshapen(name: str, suite: str, public: dict[str, bytes], private: dict[str, bytes]) -> str | None:
    """The id of the first key that is not one of `suite` for this set's purpose (a department's file of another
    suite, or a damaged one), which would otherwise fail only when used, naming no file."""
    signing = _purpose(name) == "signing"
    return next((kid for kid, key in public.items() if not public_key_ok(suite, signing, key)),
                next((kid for kid, key in private.items() if not private_key_ok(suite, key)), None))


def _generate(suite: str, purpose: str) -> tuple[bytes, bytes]:
    s = get_suite(suite)
    pair = s.generate_signing_key() if purpose == "signing" else s.generate_recipient_key()
    return pair.private, pair.public


def _purpose(name: str) -> str:
    return "signing" if "-signing" in name else "recipient"


def ensure(keys_dir: Path, name: str, suite: str = "SM") -> KeySet:
    """Load `name`, creating it with one fresh pair when absent (a folder where both files are needs no write). A
    public file alone is another party's keys, imported: it is loaded as it is, never replaced by a stand-in."""
    if _path(keys_dir, name, True).exists() and not _path(keys_dir, name, False).exists():
        return load(keys_dir, name, public_only=True)
    if not (_path(keys_dir, name, False).exists() and _path(keys_dir, name, True).exists()):
        with changing(_path(keys_dir, name, False)):
            _create(keys_dir, name, suite)
    return load(keys_dir, name)


def _create(keys_dir: Path, name: str, suite: str) -> None:
    """Write what is missing of key set `name`: both files, or the public one a run cut short did not write."""
    if not _path(keys_dir, name, False).exists():
        kid = new_kid(name)
        private, public = _generate(suite, _purpose(name))
        _save(keys_dir, KeySet(name, suite, kid, {kid: public}, {kid: private}))
    elif not _path(keys_dir, name, True).exists():
        _write_public(keys_dir, load(keys_dir, name))


def rotate(keys_dir: Path, name: str, hold: bool = False) -> KeySet:
    """Add a fresh pair and make it active; older pairs keep working until retired. With `hold`, the pair is only
    added (listed in the public file, to send to the other parties) and :func:`activate` makes it active later:
    a party verifying with a copy of the public file must hold the key before it signs.

    Three writes, so that a run cut short between any two leaves files that still work together: the new pair
    is first held (private file, old key still active), then published as active (public file: others seal for
    it, the holder opens it), and only then used (private file: the holder signs with it, others verify it)."""
    with changing(_path(keys_dir, name, False), existing=True):
        ks = load(keys_dir, name)
        kid = new_kid(name)
        private, public = _generate(ks.suite, _purpose(name))
        held = KeySet(name, ks.suite, ks.active, {**ks.public, kid: public}, {**ks.private, kid: private})
        _write_private(keys_dir, held)
        if hold:
            _write_public(keys_dir, held)
            return held
        return _activate(keys_dir, held, kid)


def activate(keys_dir: Path, name: str, kid: str) -> KeySet:
    """Make `kid`, a pair this installation holds (one :func:`rotate` held), the active one."""
    with changing(_path(keys_dir, name, False), existing=True):
        ks = load(keys_dir, name)
        if kid not in ks.private:
            raise ConfigError(f"{name} 没有可启用的密钥 {kid}（须持有其私钥），可用 lianban keys list 查看现有密钥标识 "
                              f"({name} holds no private key {kid} to make active; see `lianban keys list`)")
        return _activate(keys_dir, ks, kid)


def _activate(keys_dir: Path, ks: KeySet, kid: str) -> KeySet:
    """Published as active first, then used (:func:`rotate`)."""
    rotated = replace(ks, active=kid)
    _write_public(keys_dir, rotated)
    _write_private(keys_dir, rotated)
    return rotated


def retire(keys_dir: Path, name: str, kid: str) -> KeySet:
    """Remove `kid`: what it sealed or signed is refused from now on. The active key cannot be retired. A signing
    key's public half is kept as retired, to check what it signed before (module docstring)."""
    with changing(_path(keys_dir, name, False), existing=True):
        ks = load(keys_dir, name)
        check_retirable(name, kid, ks.active, ks.public)
        retired = {**ks.retired, kid: ks.public[kid]} if _purpose(name) == "signing" else ks.retired
        kept = KeySet(name, ks.suite, ks.active, {k: v for k, v in ks.public.items() if k != kid},
                      {k: v for k, v in ks.private.items() if k != kid}, retired)
        _save(keys_dir, kept)
    return kept


def import_public(keys_dir: Path, name: str, source: Path) -> KeySet:
    """Install another party's public key file as ``<name>.pub.json``; a file holding any private key is
    refused (it must never leave its owner), and so is one that does not load, and any file for a key set whose
    private half this installation holds (its own public file must stay the one that matches it)."""
    _check_importable(name)
    try:
        body = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取要导入的公钥文件 {source}（{type(exc).__name__}）：请检查路径与权限 "
                          f"(cannot read the public key file to import: check its path and permissions)") from None
    holds_private = ConfigError(f"{source} 含有私钥，拒绝导入：只导入对方的公钥文件 "
                                f"(holds a private key; import public keys only)")
    if '"private"' in body:
        raise holds_private
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise malformed(source, "不是合法的 JSON", "not valid JSON") from None
    loaded = _parse(name, source, data)
    if loaded.private:  # spelt with JSON escapes ("\u0070rivate"), it passed the look at the text
        raise holds_private
    party = _party(name)
    agreed = suite_of(party) if party else None
    if agreed not in (None, loaded.suite):
        raise ConfigError(f"{source} 使用 {loaded.suite} 算法套件，而与对方约定的是 {agreed}"
                          f"（schemas/catalog/departments.yaml），拒绝导入：请对方按约定的套件提供公钥 (holds "
                          f"{loaded.suite} keys, but {agreed} is agreed with this party; not imported)")
    if party is None and _path(keys_dir, name, False).exists():  # a party's may be a stand-in lianban init made
        raise ConfigError(f"{name} 是本方持有私钥的密钥，拒绝用导入的公钥覆盖：导入对方的公钥请使用对方密钥的名称，"
                          f"如 medical-recipient (this installation holds the private keys of {name}; import another "
                          f"party's public keys under that party's name)")
    write_private_json(_path(keys_dir, name, True), data)
    _set_aside_stand_in(keys_dir, name, loaded)
    return loaded


def _set_aside_stand_in(keys_dir: Path, name: str, imported: KeySet) -> None:
    """Move a private file whose pair is not the imported active one (the stand-in ``lianban init`` made) to
    ``<name>.stand-in.bak`` (a later one to ``<name>.stand-in.2.bak``, ``.3.bak`` …, none overwritten): left in
    place, it was listed as the party's keys and rotated back over them."""
    private = _path(keys_dir, name, False)
    if not private.exists():
        return
    try:
        held = load(keys_dir, name).public.get(imported.active)
    except ConfigError:
        held = None
    if held != imported.public[imported.active]:
        private.replace(_free_stand_in_name(keys_dir, name))


def _free_stand_in_name(keys_dir: Path, name: str) -> Path:
    """The first of ``<name>.stand-in.bak``, ``<name>.stand-in.2.bak``, … not taken by a stand-in moved aside before."""
    taken = Path(keys_dir) / f"{name}.stand-in.bak"
    n = 1
    while taken.exists():
        n += 1
        taken = Path(keys_dir) / f"{name}.stand-in.{n}.bak"
    return taken


def _check_importable(name: str) -> None:
    """ConfigError unless `name` is a key set public keys are imported under: a party's (``<party>-recipient`` or
    ``<party>-signing``), or the hub's signing set (on an auditor's or a department's side)."""
    hub = sorted(hub_signing_name(suite) for suite in SUITES)
    if _party(name) is None and name not in hub:
        parties = "、".join(sorted(load_catalog().departments))
        raise ConfigError(f"{name!r} 不是可导入的密钥名称：应为对方的 <部门>-recipient 或 <部门>-signing"
                          f"（部门：{parties}），如 medical-recipient，或本中心的 {' / '.join(hub)}；未导入任何文件 "
                          f"({name!r} names no key set to import: use <party>-recipient or <party>-signing, e.g. "
                          f"medical-recipient, or {' / '.join(hub)}; nothing was imported)")


def _party(name: str) -> str | None:
    """The party (a department, 皖事通办) whose key set `name` is (``<party>-recipient`` or ``<party>-signing``): the
    hub seals and verifies with the suite agreed with it, whatever the file says; None for the hub's own sets."""
    party, _, purpose = name.rpartition("-")
    return party if purpose in ("recipient", "signing") and party in load_catalog().departments else None
