"""The operator's one sentence for a database error, the same wherever it is shown (the command line, a step of
``lianban notices run``, the dashboard): what SQLite said of the file, by name, or the error's kind only (its
message may carry a URL with a password)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

__all__ = ["database_trouble"]

_DATABASES = "请检查 LIANBAN_LEDGER_URL / LIANBAN_FRONTEND_URL 所指的文件"
#: what SQLite says of a file `lianban init` cannot mend, and what to tell the operator instead
_FILE_TROUBLE = (
    (("file is not a database", "malformed"), f"数据库文件已损坏或不是数据库（{_DATABASES}），请停止各任务后从备份恢复 "
                                              f"(the database file is damaged: restore it from a backup)"),
    (("disk is full",), f"数据库所在磁盘已满，未能写入（{_DATABASES}），请腾出空间后重试 (disk full)"),
    (("readonly database",), f"数据库文件只读，无法写入（{_DATABASES}及其目录的权限） (the database is read-only)"),
    (("unable to open database file",), f"无法打开数据库文件（{_DATABASES}及其目录的权限） (cannot open the database)"),
    (("database is locked",), "数据库正被其他任务或命令长时间占用（等待写锁超时），未能写入；"
                              "请待其结束后重试，升级台账前请先停止各任务 "
                              "(the database is busy: retry once the other writer has finished)"),
    (("unique constraint failed", "duplicate key value"),
     "另一轮同一步骤先写入了相同的记录（如 Airflow 任务与手工运行同时进行）：本轮正在写入的一批已回滚，"
     "未重复写入，稍后再运行即可 (another run wrote the same rows first: this run's batch was rolled back; run it "
     "again later)"),
)


def database_trouble(exc: SQLAlchemyError) -> str:
    """The operator's sentence for a database error: a damaged, read-only, full or busy SQLite file by name, a row
    another run of the same step wrote first (the step's unique constraints stop it) as that, anything else by its
    kind only (the message may carry a URL with a password)."""
    said = str(getattr(exc, "orig", "") or "").lower()
    for marks, sentence in _FILE_TROUBLE:
        if any(mark in said for mark in marks):
            return sentence
    return (f"数据库不可用或结构不符 ({type(exc).__name__})；请检查 LIANBAN_LEDGER_URL / LIANBAN_FRONTEND_URL "
            f"并运行 `lianban init` (database unavailable)")
