"""Create the key files an installation needs, when they are missing (idempotent; never overwrites)."""

from __future__ import annotations

from pathlib import Path

from lianban.domain.catalog import load_catalog
from lianban.keys import keysets
from lianban.keys.names import RINGS, hub_signing_name, names_for, suite_of
from lianban.keys.rings import ensure_ring

#: Parties answering the hub with signed responses: the receiving departments and 皖事通办.
SIGNED_PARTIES = ("wanshi_tong",)


def ensure_hub_keys(keys_dir: Path) -> None:
    """Only the hub's own keys (production): the departments' public keys are imported, never made here."""
    pushed = load_catalog().pushed_departments()
    for ring in RINGS:
        ensure_ring(keys_dir, ring)
    for suite in sorted({"SM", *(suite_of(d) for d in pushed)}):
        keysets.ensure(keys_dir, hub_signing_name(suite), suite)


def ensure_keys(keys_dir: Path) -> None:
    """Every key this installation needs, created when missing (idempotent).

    The hub: SM4 rings ``hub`` (blind index), ``vault`` (at rest), ``evidence`` (the evidence chain's
    HMAC key) and ``query`` (the 查询密码's HMAC key), a signing key set per suite in use (``hub-signing-sm``
    always: it signs evidence archives). Each receiving department: its recipient and response-signing key
    sets (in production the department holds the private halves and sends the hub only the ``.pub`` files)."""
    pushed = load_catalog().pushed_departments()
    ensure_hub_keys(keys_dir)
    for party in (*pushed, *SIGNED_PARTIES):
        recipient, signing = names_for(party)
        if party in pushed:
            keysets.ensure(keys_dir, recipient, suite_of(party))
        keysets.ensure(keys_dir, signing, suite_of(party))
