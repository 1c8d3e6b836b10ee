"""Bring one installation up: key rings, ledger schema, and (for demos and tests) the HRSS 前置库 tables."""

from __future__ import annotations

from lianban.app.config import Paths
from lianban.keys.provision import ensure_keys
from lianban.ledger.db import upgrade


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
    from simulators.people import generate

    frontend = FrontendDB(paths.frontend_url)
    frontend.create()
    with frontend.engine.connect() as conn:
        start = int(conn.execute(select(func.count()).select_from(applications)).scalar_one()) + 1
    return frontend.insert_applications(generate(records, seed_value + start, start_seq=start))
