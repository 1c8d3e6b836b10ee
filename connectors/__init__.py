"""Department connectors, one package each. Connectors never import each other.

The registry reads dotted paths from ``schemas/catalog/departments.yaml`` and imports a connector only when
it is asked for, so parsing a DAG never imports zeep.
"""

from __future__ import annotations

import importlib
from typing import Any

from lianban.catalog import load_catalog
from lianban.errors import ConfigError
from lianban.settings import DepartmentSettings


def connector_path(department: str) -> str:
    dept = load_catalog().departments.get(department)
    if dept is None or not dept.connector:
        raise ConfigError(f"no connector is registered for department {department!r}")
    return dept.connector


def registered() -> dict[str, str]:
    """Department key → dotted path of its connector class."""
    return {k: d.connector for k, d in load_catalog().departments.items() if d.connector}


def load_connector(department: str, settings: DepartmentSettings) -> Any:
    """Import the department's connector class and build it from `settings`."""
    module_name, _, cls_name = connector_path(department).partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls.from_settings(settings)
