"""Where things are and how departments are reached.

Department endpoints come from Airflow-style connections named ``dept_<department>``; in the core they are
read from ``AIRFLOW_CONN_DEPT_<DEPARTMENT>`` (Airflow's JSON connection format), so the same setting works
inside Airflow, from the CLI and in tests. Paths come from ``LIANBAN_*`` variables with a local default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lianban.errors import ConfigError
from lianban.transport import TransportSettings

DEFAULT_BATCH_SIZE = 100


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


@dataclass(frozen=True)
class DepartmentSettings:
    """How to reach one department; ``password`` never appears in a repr."""

    department: str
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    wsdl: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    transport: TransportSettings = field(default_factory=TransportSettings)


def conn_env_name(department: str) -> str:
    return f"AIRFLOW_CONN_DEPT_{department.upper()}"


def _transport(extra: Mapping[str, Any]) -> TransportSettings:
    cert = (extra["client_cert"], extra["client_key"]) if extra.get("client_cert") else None
    return TransportSettings(
        connect_timeout=float(extra.get("connect_timeout", 5)),
        read_timeout=float(extra.get("read_timeout", 30)),
        verify=extra.get("ca_bundle") or _flag(extra.get("verify", True)),
        client_cert=cert,
    )


def _extra(name: str, extra: Any) -> Mapping[str, Any]:
    if isinstance(extra, str):
        try:
            extra = json.loads(extra or "{}")
        except ValueError:
            raise ConfigError(f"{name}: field 'extra' is not valid JSON") from None
    if not isinstance(extra, Mapping):
        raise ConfigError(f"{name}: field 'extra' must be a JSON object")
    return extra


def _flag(value: Any) -> bool:
    return value.strip().lower() not in {"false", "0", "no", "off"} if isinstance(value, str) else bool(value)


def parse_connection(department: str, raw: str) -> DepartmentSettings:
    """Parse Airflow's JSON connection form; errors name the connection and the field."""
    name = f"connection dept_{department}"
    try:
        conn = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name}: not valid JSON (use Airflow's JSON connection format)") from None
    if not isinstance(conn, dict):
        raise ConfigError(f"{name}: expected a JSON object (Airflow's JSON connection format)")
    if not conn.get("host"):
        raise ConfigError(f"{name}: field 'host' is missing")
    extra = _extra(name, conn.get("extra"))
    scheme = conn.get("schema") or "http"
    port = f":{conn['port']}" if conn.get("port") else ""
    try:
        batch_size = int(extra.get("batch_size", DEFAULT_BATCH_SIZE))
        transport = _transport(extra)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: field 'extra' has a malformed value ({exc.__class__.__name__})") from None
    return DepartmentSettings(
        department=department,
        base_url=f"{scheme}://{conn['host']}{port}",
        login=conn.get("login"),
        password=conn.get("password"),
        wsdl=extra.get("wsdl"),
        batch_size=batch_size,
        transport=transport,
    )


def department_settings(department: str, env: Mapping[str, str] | None = None) -> DepartmentSettings:
    env = os.environ if env is None else env
    raw = env.get(conn_env_name(department))
    if not raw:
        raise ConfigError(f"connection dept_{department} is not configured: set {conn_env_name(department)}")
    return parse_connection(department, raw)


def connection_json(base_url: str, login: str | None = None, password: str | None = None,
                    **extra: Any) -> str:
    """The Airflow JSON connection for a department at `base_url` (used by the demo and tests)."""
    scheme, rest = base_url.split("://", 1)
    host, _, port = rest.partition(":")
    conn = {"conn_type": "http", "host": host, "port": int(port) if port else None, "schema": scheme,
            "login": login, "password": password, "extra": extra}
    return json.dumps(conn)
