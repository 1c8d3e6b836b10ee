"""Department connectors, one package each. Connectors never import each other.

The registry reads dotted paths from ``schemas/catalog/departments.yaml`` and imports a connector only when
it is asked for, so parsing a DAG never imports zeep.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from lianban.catalog import load_catalog
from lianban.envelopes import response_check
from lianban.errors import ConfigError
from lianban.settings import DepartmentSettings, Paths


def connector_path(department: str) -> str:
    dept = load_catalog().departments.get(department)
    if dept is None or not dept.connector:
        raise ConfigError(f"no connector is registered for department {department!r}")
    return dept.connector


def registered() -> dict[str, str]:
    """Department key → dotted path of its connector class."""
    return {k: d.connector for k, d in load_catalog().departments.items() if d.connector}


def load_connector(department: str, settings: DepartmentSettings, keys_dir: Path | None = None) -> Any:
    """Import the department's connector class and build it from `settings`, its every answer checked
    against the department's response-signing key (from `keys_dir`, default the installation's)."""
    module_name, _, cls_name = connector_path(department).partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    check = response_check(keys_dir or Paths.from_env().keys_dir, department)
    return cls.from_settings(replace(settings, transport=replace(settings.transport, response_check=check)))
