"""One small demo ledger (tests/app/dashboard/seed.py) shared by the module's tests: staging it takes a while."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lianban.app.config import Paths
from lianban.app.setup import init
from tests.app.dashboard.seed import seed_demo


@dataclass(frozen=True)
class Demo:
    paths: Paths
    apps: list[dict[str, Any]]  # as HRSS wrote them: every personal value the page must never show
    env: dict[str, str]  # LIANBAN_* of this installation, for the CLI


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    env = {"LIANBAN_HOME": str(tmp_path_factory.mktemp("dashboard") / "home")}
    paths = Paths.from_env(env)
    init(paths, with_frontend=True)
    return Demo(paths, seed_demo(paths), env)
