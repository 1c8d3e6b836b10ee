"""The composition root's configuration: where an installation keeps its files, and how a department's
connection is found. The only module that reads the environment.

Paths come from ``LIANBAN_*`` variables with a local default (everything under ``LIANBAN_HOME``, default
``var/lianban``). Department endpoints are Airflow connections named ``dept_<department>``, read from
``AIRFLOW_CONN_DEPT_<DEPARTMENT>`` (Airflow's JSON or URI form), so the same setting works inside Airflow,
from the CLI and in tests; inside Airflow, ``dags/airflow_connections.py`` registers a resolver
(:func:`set_connection_resolver`) so a secrets backend works too. Parsing lives in
:func:`lianban.wire.settings.parse_connection`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lianban.errors import ConfigError
from lianban.wire.settings import DepartmentSettings, parse_connection


@dataclass(frozen=True)
class Paths:
    """The files one lianban installation uses; everything defaults under ``LIANBAN_HOME``."""

    home: Path
    ledger_url: str
    frontend_url: str  # HRSS 前置库
    keys_dir: Path
    logs: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = Path(env.get("LIANBAN_HOME", "var/lianban")).resolve()
        return cls(
            home=home,
            ledger_url=env.get("LIANBAN_LEDGER_URL", f"sqlite:///{home / 'ledger.db'}"),
            frontend_url=env.get("LIANBAN_FRONTEND_URL", f"sqlite:///{home / 'hrss_frontend.db'}"),
            keys_dir=Path(env.get("LIANBAN_KEYS_DIR", str(home / "keys"))),
            logs=Path(env.get("LIANBAN_LOGS", str(home / "logs"))),
        )


#: a function that resolves ``dept_<department>`` to settings some other way (e.g. Airflow's own lookup)
ConnectionResolver = Callable[[str], DepartmentSettings]
_resolver: ConnectionResolver | None = None


def set_connection_resolver(resolver: ConnectionResolver | None) -> ConnectionResolver | None:
    """Let :func:`department_settings` resolve connections through `resolver` (None: back to the
    ``AIRFLOW_CONN_DEPT_*`` environment); returns the previous resolver so a caller can restore it."""
    global _resolver
    previous, _resolver = _resolver, resolver
    return previous


def conn_env_name(department: str) -> str:
    return f"AIRFLOW_CONN_DEPT_{department.upper()}"


def department_settings(department: str, env: Mapping[str, str] | None = None) -> DepartmentSettings:
    """Settings of connection ``dept_<department>``: from the registered resolver (inside Airflow: its
    connection lookup and secrets backend), else from ``AIRFLOW_CONN_DEPT_<DEPARTMENT>``. An explicit
    `env` always reads that mapping."""
    if env is None and _resolver is not None:
        return _resolver(department)
    env = os.environ if env is None else env
    raw = env.get(conn_env_name(department))
    if not raw:
        raise ConfigError(f"未配置部门连接 dept_{department} (connection dept_{department} is not configured): "
                          f"set {conn_env_name(department)} or an Airflow connection")
    return parse_connection(department, raw)


def connection_json(base_url: str, login: str | None = None, password: str | None = None,
                    **extra: Any) -> str:
    """The Airflow JSON connection for a department at `base_url` (used by the demo and tests)."""
    scheme, rest = base_url.split("://", 1)
    host, _, port = rest.partition(":")
    conn = {"conn_type": "http", "host": host, "port": int(port) if port else None, "schema": scheme,
            "login": login, "password": password, "extra": extra}
    return json.dumps(conn)
