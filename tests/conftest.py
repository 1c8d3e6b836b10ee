"""Shared fixtures: an isolated lianban home, a seeded 前置库, the real simulators, the ledger on SQLite or
PostgreSQL."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.app.setup import init
from lianban.domain.catalog import Catalog, load_catalog
from lianban.domain.record import RetirementRecord
from simulators.people import generate, synthetic_application


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A fresh installation (keys, ledger, 前置库 tables) under tmp_path, exported as LIANBAN_* env."""
    monkeypatch.setenv("LIANBAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LIANBAN_LEDGER_URL", raising=False)
    monkeypatch.delenv("LIANBAN_FRONTEND_URL", raising=False)
    monkeypatch.delenv("LIANBAN_KEYS_DIR", raising=False)
    p = Paths.from_env()
    init(p, with_frontend=True)
    return p


@pytest.fixture
def held_case(paths: Paths) -> str:
    """The 办件编号 of a staged held application (its ID number's check digit wrong: told 补正资料 at the HRSS
    window), which chose a pushed item beside the window's own."""
    from lianban.pipeline.stage import stage

    app = next(a for a in generate(40, seed=3) if set(a["items"].split(",")) - {f"{n:02d}" for n in range(1, 11)})
    wrong = app["id_number"][:17] + ("0" if app["id_number"][17] != "0" else "1")
    db = FrontendDB(paths.frontend_url)
    db.insert_applications([{**app, "id_number": wrong}])
    assert stage(db, paths.ledger_url, paths.keys_dir).notified > 0
    return str(app["case_no"])


@pytest.fixture
def seeded(paths: Paths) -> tuple[FrontendDB, list[dict[str, Any]]]:
    """A 前置库 holding 60 synthetic approvals (a few broken on purpose)."""
    db = FrontendDB(paths.frontend_url)
    apps = list(generate(60, seed=11))
    db.insert_applications(apps)
    return db, apps


@pytest.fixture
def simulation(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Every department as a real local server (fast status clock), connections exported as env."""
    from lianban.app.demo import connections
    from simulators.runner import start

    sim = start(paths.home, paths.keys_dir, None, step_seconds=0.2)
    for name, value in connections(sim.urls, paths.home).items():
        monkeypatch.setenv(name, value)
    yield sim
    sim.stop()


def _own_postgres(url: str) -> str:
    """This test worker's own, empty schema in the PostgreSQL database at `url`, and the URL that uses it:
    pytest-xdist workers share the database, and one dropping the schema another is migrating fails both."""
    schema = "ledger_" + re.sub(r"\W", "_", os.environ.get("PYTEST_XDIST_WORKER", "main"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, paths: Paths) -> str:
    """The ledger on SQLite (default) and on a real PostgreSQL (LIANBAN_TEST_PG_URL), migrated."""
    from lianban.ledger.db import upgrade

    if request.param == "sqlite":
        return paths.ledger_url
    own = own_postgres()
    upgrade(own)
    return own


def own_postgres() -> str:
    """This test worker's own, empty schema on the real PostgreSQL at LIANBAN_TEST_PG_URL (:func:`_own_postgres`);
    the test is skipped when none is set."""
    url = os.environ.get("LIANBAN_TEST_PG_URL")
    if not url:
        pytest.skip("LIANBAN_TEST_PG_URL not set (scripts/ensure-postgres.sh starts one)")
    return _own_postgres(url)


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """The cost (log2 n, r, p) of every scrypt the 查询密码's check computes (lianban.crypto.passwords) from now
    on, in this process (a server started by the test included)."""
    from lianban.crypto import passwords

    costs: list[tuple[int, int, int]] = []
    real = passwords._scrypt

    def spy(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
        costs.append((log_n, r, p))
        return real(password, salt, log_n, r, p)

    monkeypatch.setattr(passwords, "_scrypt", spy)
    return costs


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def record() -> RetirementRecord:
    """A valid synthetic approval (seed 1, sequence 1)."""
    app = synthetic_application(random.Random(1), 1)
    return RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})
