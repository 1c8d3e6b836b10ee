"""A ledger file that is damaged, read-only or on a full disk is named for what it is, in Chinese, with what to
do: the one sentence for every database error (数据库不可用或结构不符 … 并运行 lianban init) sent the operator to
`lianban init`, which fails the same way on such a file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError, OperationalError

from lianban.app.cli import database_trouble
from lianban.app.config import Paths
from tests.app.cli_kit import lianban


def test_a_damaged_ledger_file_says_restore_from_backup(paths: Paths) -> None:
    ledger = Path(paths.home) / "ledger.db"
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    ledger.write_bytes(ledger.read_bytes()[:100] + b"\x00garbage" * 200)
    done = lianban(Path(paths.home), "status")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "数据库文件已损坏" in done.stdout and "备份" in done.stdout and "lianban init" not in done.stdout


@pytest.mark.parametrize(("said", "told"), [
    ("database or disk is full", "磁盘已满"),
    ("attempt to write a readonly database", "只读"),
    ("unable to open database file", "无法打开"),
])
def test_a_full_disk_or_read_only_ledger_is_named(said: str, told: str) -> None:
    sentence = database_trouble(OperationalError("INSERT …", {}, sqlite3.OperationalError(said)))
    assert told in sentence and "lianban init" not in sentence


def test_any_other_database_error_keeps_the_general_sentence() -> None:
    sentence = database_trouble(DatabaseError("SELECT …", {}, sqlite3.DatabaseError("no such column: x")))
    assert "数据库不可用或结构不符 (DatabaseError)" in sentence and "lianban init" in sentence
