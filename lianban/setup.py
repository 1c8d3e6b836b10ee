"""Bring one installation up: key rings, ledger schema, and (for demos and tests) the HRSS 前置库 tables."""

from __future__ import annotations

from lianban.catalog import load_catalog
from lianban.keys import ensure_ring
from lianban.ledger.db import upgrade
from lianban.settings import Paths


def init(paths: Paths, with_frontend: bool = False) -> None:
    """Idempotent: create missing key rings, migrate the ledger, optionally create the 前置库 tables."""
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    for owner in ("hub", *load_catalog().pushed_departments()):
        ensure_ring(paths.keys_dir, owner)
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
