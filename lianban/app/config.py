"""The composition root's configuration: where an installation keeps its files, and how a department's
connection is found. The only module that reads the environment.

Paths come from ``LIANBAN_*`` variables with a local default (everything under ``LIANBAN_HOME``, default
``var/lianban``). Department endpoints are Airflow connections named ``dept_<department>``, read from
``AIRFLOW_CONN_DEPT_<DEPARTMENT>`` (Airflow's JSON or URI form), so the same setting works inside Airflow,
from the CLI and in tests; inside Airflow, ``dags/airflow_connections.py`` registers a resolver
(:func:`set_connection_resolver`) so a secrets backend works too. Parsing lives in
:func:`lianban.wire.settings.parse_connection`.

Only ``lianban init`` creates the ledger (and ``lianban seed`` / the demo the HRSS 前置库, the demo's stand-in
for HRSS's own database): every other command asks :meth:`Paths.existing_ledger` /
:meth:`Paths.existing_frontend`, which refuse a URL SQLAlchemy cannot use and a SQLite file that is not
there, in one sentence naming the variable (never the URL: it may carry a password).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lianban.errors import ConfigError, NotConfigured
from lianban.ledger.db import HEAD_REVISION, ledger_revision
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

    def existing_ledger(self) -> str:
        """The ledger's URL for a command that uses the ledger: ConfigError unless it exists (see `existing`) and
        is migrated up to this release's newest migration (one behind is not used as it stands: a step would
        meet a missing column, or go on over data a migration has not converted yet)."""
        url = existing(self.ledger_url, LEDGER)
        revision = ledger_revision(url)
        if revision is None or revision < HEAD_REVISION:
            raise ConfigError(f"台账数据库结构版本 {revision or '（空）'} 落后于本版本所需的 {HEAD_REVISION}："
                              f"请先备份台账，再运行 `lianban init` 升级（docs/deploy.md 第 7 节） (the ledger is at "
                              f"migration {revision or 'none'}, this release needs {HEAD_REVISION}: back it up, "
                              f"then run `lianban init` to upgrade it)")
        return url

    def existing_frontend(self) -> str:
        """The HRSS 前置库's URL for a command that reads it: ConfigError unless it exists."""
        return existing(self.frontend_url, FRONTEND)


@dataclass(frozen=True)
class Database:
    """One database an installation uses, as an operator is told about it."""

    variable: str  # the environment variable holding its URL
    zh: str
    en: str
    fix_zh: str  # what to do when it is not there
    fix_en: str


LEDGER = Database("LIANBAN_LEDGER_URL", "台账数据库", "ledger database",
                  "请先运行 lianban init；要查看 make demo 的结果，请设置 LIANBAN_HOME=var/demo",
                  "run `lianban init` first; to look at what `make demo` left, set LIANBAN_HOME=var/demo")
FRONTEND = Database("LIANBAN_FRONTEND_URL", "人社前置库", "HRSS 前置库",
                    "请检查 LIANBAN_FRONTEND_URL，演示环境请先运行 lianban seed",
                    "check LIANBAN_FRONTEND_URL, or run `lianban seed` for a demo")


def database_url(url: str, db: Database) -> URL:
    """`url` parsed, its dialect and driver importable; otherwise a ConfigError naming `db`'s variable and at
    most the URL's scheme (the rest may carry a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{db.variable} 不是数据库 URL，应形如 sqlite:///路径 或 postgresql+psycopg://主机/库名 "
                          f"({db.variable} is not a database URL: use e.g. sqlite:///PATH or "
                          f"postgresql+psycopg://HOST/DB)") from None
    try:
        parsed.get_dialect().import_dbapi()
    except (ArgumentError, ImportError):  # NoSuchModuleError is an ArgumentError
        raise ConfigError(f"{db.variable} 的数据库类型 {parsed.drivername} 不受支持或其驱动未安装，"
                          f"请改用 sqlite:///路径 或 postgresql+psycopg://… ({db.variable}: database scheme "
                          f"{parsed.drivername} is not supported or its driver is not installed)") from None
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (None: not SQLite, in memory, or a ``file:`` URI)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def blocking_file(path: Path) -> Path | None:
    """The first parent of `path` that exists but is not a folder (a file in the way), if any."""
    for parent in reversed(path.absolute().parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def existing(url: str, db: Database) -> str:
    """`url`, checked: a usable URL and, for SQLite, a file that is there (only ``lianban init`` / ``seed``
    create one; any other command must not leave an empty database behind a typo)."""
    path = sqlite_file(database_url(url, db))
    if path is None or path.is_file():
        return url
    if path.is_dir():
        raise ConfigError(f"{db.zh} {path} 是目录而不是数据库文件，请检查 {db.variable} "
                          f"({db.en} {path} is a folder, not a database file: check {db.variable})")
    blocker = blocking_file(path)
    why_zh = f"（{blocker} 是文件而不是目录，请检查 LIANBAN_HOME 与 {db.variable}）" if blocker else ""
    why_en = f" ({blocker} is a file, not a folder: check LIANBAN_HOME and {db.variable})" if blocker else ""
    raise ConfigError(f"{db.zh}不存在：{path}{why_zh}；{db.fix_zh} ({db.en} not found: {path}{why_en}; {db.fix_en})")


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
        raise NotConfigured(f"未配置部门连接 dept_{department}：请设置环境变量 {conn_env_name(department)} 或 "
                            f"Airflow 连接 dept_{department}；连接模拟部门时先 source "
                            f"<LIANBAN_HOME>/simulators/connections.env（由 lianban simulate 写入） (connection "
                            f"dept_{department} is not configured: set {conn_env_name(department)} or an Airflow "
                            f"connection)")
    return parse_connection(department, raw)


def connection_json(base_url: str, login: str | None = None, password: str | None = None,
                    **extra: Any) -> str:
    """The Airflow JSON connection for a department at `base_url` (used by the demo and tests)."""
    scheme, rest = base_url.split("://", 1)
    host, _, port = rest.partition(":")
    conn = {"conn_type": "http", "host": host, "port": int(port) if port else None, "schema": scheme,
            "login": login, "password": password, "extra": extra}
    return json.dumps(conn)
