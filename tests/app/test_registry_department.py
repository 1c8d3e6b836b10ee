"""The catalog's ``connector`` field may point any department at any connector class; a delivery run for one
department must never run as another (the connector's ``department`` says whose outbox rows it claims, whose
key seals them and whose evidence it writes)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lianban.app.config import Paths
from lianban.app.registry import load_connector, load_department
from lianban.domain import catalog as catalog_module
from lianban.domain.catalog import load_catalog
from lianban.errors import ConfigError
from lianban.wire.settings import DepartmentSettings


@pytest.fixture
def borrowed_connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A catalog where department ``dental`` (owning item 15) is pointed at the health connector class."""
    copy = tmp_path / "catalog"
    shutil.copytree(catalog_module.CATALOG_DIR, copy)
    with open(copy / "departments.yaml", "a", encoding="utf-8") as out:
        out.write("  - {key: dental, name: 口腔医疗服务中心, transport: rest, "
                  "connector: connectors.health.connector:HealthConnector}\n")
    with open(copy / "items.yaml", "a", encoding="utf-8") as out:
        out.write('  - {code: "15", name: 退休职工口腔健康检查, department: dental, fields: [name], '
                  'time_limit_days: 5}\n')
    monkeypatch.setattr(catalog_module, "CATALOG_DIR", copy)
    load_catalog.cache_clear()
    yield
    load_catalog.cache_clear()


def test_a_connector_of_another_department_is_refused_with_a_sentence(borrowed_connector: None,
                                                                      paths: Paths) -> None:
    settings = DepartmentSettings("dental", "http://127.0.0.1:9", "app", "secret")
    for load in (load_department, load_connector):
        with pytest.raises(ConfigError) as raised:
            load("dental", settings, paths.keys_dir)
        assert "dental" in str(raised.value) and "health" in str(raised.value)
        assert "connectors.health.connector:HealthConnector" in str(raised.value)
