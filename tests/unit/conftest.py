"""Fixtures for the core's unit tests: the real catalog and one valid synthetic retirement record."""

from __future__ import annotations

import random

import pytest

from lianban.catalog import Catalog, load_catalog
from lianban.domain import RetirementRecord
from lianban.seed import synthetic_application


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def record() -> RetirementRecord:
    """A valid synthetic approval (seed 1, sequence 1)."""
    app = synthetic_application(random.Random(1), 1)
    return RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})
