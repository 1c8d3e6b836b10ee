"""Helpers for pipeline tests: a seeded 前置库."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from simulators.people import generate


@pytest.fixture
def seeded(paths: Paths) -> tuple[FrontendDB, list[dict[str, Any]]]:
    """A 前置库 holding 60 synthetic approvals (a few broken on purpose)."""
    db = FrontendDB(paths.frontend_url)
    apps = list(generate(60, seed=11))
    db.insert_applications(apps)
    return db, apps

