"""What the domain tests share: a copy of the catalog a test may change."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import lianban.domain.catalog as catalog_module
from lianban.domain.catalog import load_catalog
from lianban.domain.results import load_results


@pytest.fixture
def broken_catalog_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the catalog that the test may damage; the cached real catalog is restored afterwards."""
    copy = tmp_path / "catalog"
    shutil.copytree(catalog_module.CATALOG_DIR, copy)
    monkeypatch.setattr(catalog_module, "CATALOG_DIR", copy)
    load_catalog.cache_clear()
    load_results.cache_clear()
    yield copy
    load_catalog.cache_clear()
    load_results.cache_clear()
