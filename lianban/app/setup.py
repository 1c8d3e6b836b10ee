"""Bring one installation up: key rings, ledger schema, and (for demos and tests) the HRSS 前置库 tables."""

from __future__ import annotations

import importlib.util

from lianban.app.config import Paths
from lianban.errors import ConfigError
from lianban.keys.provision import ensure_keys
from lianban.ledger.db import upgrade


def require_simulators() -> None:
    """Seeding, simulating and the demo need ``simulators/`` (synthetic people and the department servers),
    which a checkout has and an installed wheel does not: say so instead of a bare ImportError."""
    if importlib.util.find_spec("simulators") is None:
        raise ConfigError("此命令需要源码检出中的 simulators 包（合成数据与模拟部门，仅用于演示和测试）；"
                          "请在项目检出目录中运行 (this command needs the simulators package of a source checkout: "
                          "run it from the checkout)")


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

    require_simulators()
    from simulators.people import generate

    frontend = FrontendDB(paths.frontend_url)
    frontend.create()
    with frontend.engine.connect() as conn:
        start = int(conn.execute(select(func.count()).select_from(applications)).scalar_one()) + 1
    return frontend.insert_applications(generate(records, seed_value + start, start_seq=start))
