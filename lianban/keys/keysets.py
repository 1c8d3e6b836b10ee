"""Asymmetric key pairs (SM2, or X25519/ECDSA for the NIST suite) kept beside the SM4 rings.

Files under the keys directory (mode 0600), one per purpose::

    hub-signing.json              the hub's signing keys (private)       → hub-signing.pub.json (public)
    <dept>-recipient.json         a department's unwrapping keys          → <dept>-recipient.pub.json
    <dept>-signing.json           a department's response-signing keys   → <dept>-signing.pub.json

Body: ``{"suite": "SM", "active": kid, "keys": {kid: {"public": b64, "private": b64}}}`` (no ``private``
in ``.pub`` files). In production each party holds only its own private file and the others' public files;
the demo and the tests keep both in one directory to play every party. Rotation adds a key and makes it
active; older keys keep verifying and unwrapping until they are retired (removed).
"""

from __future__ import annotations

import base64
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lianban.crypto.suites import get_suite
from lianban.errors import ConfigError
from lianban.keys.files import write_private_json
from lianban.keys.rings import check_retirable, new_kid


@dataclass(frozen=True)
class KeySet:
    """One purpose's keys: kid → public (and, when we hold it, private)."""

    name: str
    suite: str
    active: str
    public: dict[str, bytes]
    private: dict[str, bytes]

    def active_private(self) -> tuple[str, bytes]:
        try:
            return self.active, self.private[self.active]
        except KeyError:
            raise ConfigError(f"key set {self.name} holds no private key for its active id {self.active}") from None

    def __repr__(self) -> str:
        return f"KeySet(name={self.name!r}, suite={self.suite!r}, active={self.active!r}, kids={sorted(self.public)})"


def _path(keys_dir: Path, name: str, public: bool) -> Path:
    return Path(keys_dir) / f"{name}{'.pub' if public else ''}.json"


def _save(keys_dir: Path, ks: KeySet) -> None:
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    keys = {kid: {"public": b64(pub), **({"private": b64(ks.private[kid])} if kid in ks.private else {})}
            for kid, pub in ks.public.items()}
    write_private_json(_path(keys_dir, ks.name, False), {"suite": ks.suite, "active": ks.active, "keys": keys})
    public = {kid: {"public": b64(pub)} for kid, pub in ks.public.items()}
    write_private_json(_path(keys_dir, ks.name, True), {"suite": ks.suite, "active": ks.active, "keys": public})


def load(keys_dir: Path, name: str, public_only: bool = False) -> KeySet:
    """Read a key set; ``public_only`` reads the ``.pub`` file (what the other party holds)."""
    path = _path(keys_dir, name, public_only)
    try:
        data = json.loads(path.read_text())
        keys = data["keys"]
        public = {str(k): base64.b64decode(v["public"]) for k, v in keys.items()}
        private = {str(k): base64.b64decode(v["private"]) for k, v in keys.items() if "private" in v}
        ks = KeySet(name, str(data["suite"]), str(data["active"]), public, private)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"密钥文件缺失或格式错误 key file {path} is missing or malformed ({type(exc).__name__}); "
                          f"run `lianban keys init`") from None
    if ks.active not in public:
        raise ConfigError(f"key file {path}: active key {ks.active} is not in the file")
    return ks


def _generate(suite: str, purpose: str) -> tuple[bytes, bytes]:
    s = get_suite(suite)
    pair = s.generate_signing_key() if purpose == "signing" else s.generate_recipient_key()
    return pair.private, pair.public


def _purpose(name: str) -> str:
    return "signing" if "-signing" in name else "recipient"


def ensure(keys_dir: Path, name: str, suite: str = "SM") -> KeySet:
    """Load `name`, creating it with one fresh pair when absent."""
    if not _path(keys_dir, name, False).exists():
        kid = new_kid(name)
        private, public = _generate(suite, _purpose(name))
        _save(keys_dir, KeySet(name, suite, kid, {kid: public}, {kid: private}))
    return load(keys_dir, name)


def rotate(keys_dir: Path, name: str) -> KeySet:
    """Add a fresh pair and make it active; older pairs keep working until retired."""
    ks = load(keys_dir, name)
    kid = new_kid(name)
    private, public = _generate(ks.suite, _purpose(name))
    rotated = KeySet(name, ks.suite, kid, {**ks.public, kid: public}, {**ks.private, kid: private})
    _save(keys_dir, rotated)
    return rotated


def retire(keys_dir: Path, name: str, kid: str) -> KeySet:
    """Remove `kid`: what it sealed or signed is refused from now on. The active key cannot be retired."""
    ks = load(keys_dir, name)
    check_retirable(name, kid, ks.active, ks.public)
    kept = KeySet(name, ks.suite, ks.active, {k: v for k, v in ks.public.items() if k != kid},
                  {k: v for k, v in ks.private.items() if k != kid})
    _save(keys_dir, kept)
    return kept


def import_public(keys_dir: Path, name: str, source: Path) -> KeySet:
    """Install another party's public key file as ``<name>.pub.json``; a file holding any private key is
    refused (it must never leave its owner), and so is one that does not load."""
    body = source.read_text()
    if '"private"' in body:
        raise ConfigError(f"{source} 含有私钥，拒绝导入：只导入对方的公钥文件 "
                          f"(holds a private key; import public keys only)")
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, f"{name}.pub.json").write_text(body)
        loaded = load(Path(scratch), name, public_only=True)
    write_private_json(_path(keys_dir, name, True), json.loads(body))
    return loaded
