"""The connector registry: which class serves each department, built with its settings and keys.

Dotted paths come from ``schemas/catalog/departments.yaml``; a connector is imported only when it is asked
for, so parsing a DAG never imports zeep.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from lianban.app.config import Paths
from lianban.domain.catalog import load_catalog
from lianban.errors import ConfigError
from lianban.wire.settings import DepartmentSettings
from lianban.wire.signatures import response_check


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
