"""Bring one installation up: key rings, ledger schema, and (for demos and tests) the HRSS 前置库 tables."""

from __future__ import annotations

from pathlib import Path

from lianban import keystore
from lianban.catalog import load_catalog
from lianban.envelopes import VAULT, hub_signing_name, suite_of
from lianban.keys import ensure_ring
from lianban.ledger.db import upgrade
from lianban.settings import Paths

#: Parties answering the hub with signed responses: the receiving departments and 皖事通办.
SIGNED_PARTIES = ("wanshi_tong",)


def ensure_hub_keys(keys_dir: Path) -> None:
    """Only the hub's own keys (production): the departments' public keys are imported, never made here."""
    pushed = load_catalog().pushed_departments()
    for ring in ("hub", VAULT, "evidence"):
        ensure_ring(keys_dir, ring)
    for suite in sorted({"SM", *(suite_of(d) for d in pushed)}):
        keystore.ensure(keys_dir, hub_signing_name(suite), suite)


def ensure_keys(keys_dir: Path) -> None:
    """Every key this installation needs, created when missing (idempotent).

    The hub: SM4 rings ``hub`` (blind index), ``vault`` (at rest) and ``evidence`` (the evidence chain's
    HMAC key), a signing key set per suite in use (``hub-signing-sm`` always: it signs evidence archives).
    Each receiving department: its recipient and response-signing key sets (in production the department
    holds the private halves and sends the hub only the ``.pub`` files)."""
    pushed = load_catalog().pushed_departments()
    ensure_hub_keys(keys_dir)
    for party in (*pushed, *SIGNED_PARTIES):
        recipient, signing = keystore.names_for(party)
        if party in pushed:
            keystore.ensure(keys_dir, recipient, suite_of(party))
        keystore.ensure(keys_dir, signing, suite_of(party))


def init(paths: Paths, with_frontend: bool = False) -> None:
    """Idempotent: create missing key rings, migrate the ledger, optionally create the 前置库 tables."""
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    ensure_keys(paths.keys_dir)
    upgrade(paths.ledger_url)
    if with_frontend:
        from connectors.hrss.frontend import FrontendDB

        FrontendDB(paths.frontend_url).create()


def seed(paths: Paths, records: int, seed_value: int = 20250101) -> int:
    """Fill the 前置库 with `records` synthetic approvals after those already there."""
    from sqlalchemy import func, select

    from connectors.hrss.frontend import FrontendDB, applications
    from lianban.seed import generate

    frontend = FrontendDB(paths.frontend_url)
    frontend.create()
    with frontend.engine.connect() as conn:
        start = int(conn.execute(select(func.count()).select_from(applications)).scalar_one()) + 1
    return frontend.insert_applications(generate(records, seed_value + start, start_seq=start))
