"""Bring one installation up: key rings, ledger schema, and (for demos and tests) the HRSS 前置库 tables."""

from __future__ import annotations

import importlib.util
import os
from datetime import date
from pathlib import Path

from lianban.app.config import FRONTEND, LEDGER, Database, Paths, blocking_file, database_url, sqlite_file
from lianban.errors import ConfigError
from lianban.keys.provision import ensure_keys
from lianban.ledger.db import upgrade


def require_simulators() -> None:
    """Seeding, simulating and the demo need ``simulators/`` (synthetic people and the department servers),
    which a checkout has and an installed wheel does not: say so instead of a bare ImportError."""
    if importlib.util.find_spec("simulators") is None:
        raise ConfigError("此命令需要源码检出中的 simulators 包（合成数据与模拟部门，仅用于演示和测试）；"
                          "请在项目检出目录中运行 (this command needs the simulators package of a source checkout: "
                          "run it from the checkout)")


_WHY = {FileExistsError: ("同名文件已存在", "a file is in the way"), PermissionError: ("没有权限", "permission denied"),
        NotADirectoryError: ("上级路径不是目录", "a parent is not a folder")}


def make_folder(path: Path, variable: str, mode: int = 0o777) -> None:
    """Create `path` (and its parents) unless it is there; ConfigError naming `variable` when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as exc:
        zh, en = _WHY.get(type(exc), (type(exc).__name__, os.strerror(exc.errno) if exc.errno else "OS error"))
        raise ConfigError(f"无法创建目录 {path}（{zh}），请检查 {variable} (cannot create folder {path}: {en}; "
                          f"check {variable})") from None


def creatable(url: str, db: Database) -> str:
    """`url`, checked before a command that may create its database: a usable URL and, for SQLite, a folder
    for the file (made here, so a file in the way is one sentence and not a traceback)."""
    path = sqlite_file(database_url(url, db))
    if path is not None:
        blocker = blocking_file(path)
        if blocker is not None:
            raise ConfigError(f"无法创建{db.zh} {path}：{blocker} 是文件而不是目录，"
                              f"请检查 LIANBAN_HOME 与 {db.variable} (cannot create the {db.en} {path}: {blocker} "
                              f"is a file, not a folder; check LIANBAN_HOME and {db.variable})")
        if path.is_dir():
            raise ConfigError(f"{db.zh} {path} 是目录而不是数据库文件，请检查 {db.variable} "
                              f"({db.en} {path} is a folder, not a database file: check {db.variable})")
        make_folder(path.parent, db.variable)
    return url


def init(paths: Paths, with_frontend: bool = False) -> None:
    """Idempotent: create missing key rings, migrate the ledger, optionally create the 前置库 tables. The only
    step that creates the ledger database."""
    ledger = creatable(paths.ledger_url, LEDGER)  # first: a bad URL or a file in the way stops it early
    frontend = creatable(paths.frontend_url, FRONTEND) if with_frontend else None
    make_folder(paths.home, "LIANBAN_HOME")
    make_folder(paths.logs, "LIANBAN_LOGS")
    make_folder(paths.keys_dir, "LIANBAN_KEYS_DIR", mode=0o700)
    ensure_keys(paths.keys_dir)
    upgrade(ledger)
    if frontend is not None:
        from connectors.hrss.frontend import FrontendDB

        FrontendDB(frontend).create()


def seed(paths: Paths, records: int, seed_value: int = 20250101) -> int:
    """Fill the 前置库 with `records` synthetic approvals after those already there."""
    from sqlalchemy import func, select

    from connectors.hrss.frontend import FrontendDB, applications

    require_simulators()
    from simulators.people import generate

    frontend = FrontendDB(creatable(paths.frontend_url, FRONTEND))
    frontend.create()
    with frontend.engine.connect() as conn:
        start = int(conn.execute(select(func.count()).select_from(applications)).scalar_one()) + 1
    return frontend.insert_applications(generate(records, seed_value + start, start_seq=start))


def seed_register(paths: Paths, people: int, seed_value: int = 20250101,
                  reference: date | None = None) -> dict[str, int]:
    """Fill the 前置库's register of insured workers with `people` synthetic people around `reference` (default
    today), and their approved pensions with one in twenty as many (双告知; demo/test only)."""
    from connectors.hrss.frontend import FrontendDB

    require_simulators()
    from simulators.register import generate_awards, generate_register

    frontend = FrontendDB(creatable(paths.frontend_url, FRONTEND))
    frontend.create()
    when = reference or date.today()
    register = frontend.register
    return {"register": register.insert_people(generate_register(people, when, seed_value)),
            "awards": register.insert_awards(generate_awards(max(people // 20, 1), when, seed_value))}
