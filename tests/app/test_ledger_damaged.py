"""A ledger file that is damaged, read-only or on a full disk is named for what it is, in Chinese, with what to
do: the one sentence for every database error (数据库不可用或结构不符 … 并运行 lianban init) sent the operator to
`lianban init`, which fails the same way on such a file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

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
    ("database is locked", "占用"),
])
def test_a_full_disk_or_read_only_ledger_is_named(said: str, told: str) -> None:
    sentence = database_trouble(OperationalError("INSERT …", {}, sqlite3.OperationalError(said)))
    assert told in sentence and "lianban init" not in sentence


def test_any_other_database_error_keeps_the_general_sentence() -> None:
    sentence = database_trouble(DatabaseError("SELECT …", {}, sqlite3.DatabaseError("no such column: x")))
    assert "数据库不可用或结构不符 (DatabaseError)" in sentence and "lianban init" in sentence


@pytest.mark.parametrize("said", ["UNIQUE constraint failed: cases.case_no",
                                  'duplicate key value violates unique constraint "cases_case_no_key"'])
def test_a_row_another_run_wrote_first_says_so(said: str) -> None:
    sentence = database_trouble(IntegrityError("INSERT …", {}, sqlite3.IntegrityError(said)))
    assert "另一轮" in sentence and "回滚" in sentence and "lianban init" not in sentence


def test_two_stage_runs_at_once_neither_sends_the_operator_to_init(paths: Paths) -> None:
    """`lianban run stage` by hand while the DAG's stage runs: the one that loses the race is rolled back and
    says so, nothing is staged twice."""
    from concurrent.futures import ThreadPoolExecutor

    from connectors.hrss.frontend import FrontendDB
    from simulators.people import generate

    FrontendDB(paths.frontend_url).insert_applications(list(generate(3000, seed=7)))
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: lianban(Path(paths.home), "run", "stage"), range(2)))
    assert all(run.returncode in (0, 2) and "Traceback" not in run.stderr for run in runs)
    assert not [run.stdout for run in runs if "lianban init" in run.stdout]


def test_init_while_another_process_holds_the_ledger_says_it_is_busy(paths: Paths) -> None:
    """`lianban init` (the upgrade) while a task writes the SQLite ledger: told the ledger is busy and to retry,
    not to run the `lianban init` it is running."""
    from alembic import command

    from lianban.ledger.db import alembic_config

    command.downgrade(alembic_config(paths.ledger_url), "0020")  # so that the upgrade has something to write
    held = sqlite3.connect(Path(paths.home) / "ledger.db")
    try:
        held.execute("BEGIN IMMEDIATE")
        done = lianban(Path(paths.home), "init")
    finally:
        held.rollback()
        held.close()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "占用" in done.stdout and "lianban init" not in done.stdout
