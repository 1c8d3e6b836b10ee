"""The `lianban` command: set-up, seeding, simulators, single steps, operator views and the demo.

Operator-facing text is Chinese first, English after; `--json` prints one JSON object for machines. One
module per command group::

    home         init, seed, simulate, demo           run          run stage|deliver|collect|
                                                                   supplements|report
    inspect      status, parked                       deliveries   deliveries list|retry
    quarantine   quarantine [list|show|release|reject]  alerts       alerts check|list (联络员告警)
    keys         keys init|list|rotate|retire|import  audit        audit verify|archive
    connectors   connectors list|check|new            case         case list|show|reset-password
    serve        serve (the progress query over HTTP)     report       report (reconciliation, 对账)
    retirement   retirement-age (the 2025 reform)         validate     validate FILE (the suite over a file)
    notices      notices list [--failed] (双告知 SMS)
                 notices run (到龄提醒, 待遇告知, send, receipts)
    forecast     forecast --months N (退休高峰预测)
    up           up, down (the real Airflow on this machine)
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from lianban.app.cli import forecast, home, inspect, report, retirement, serve, up, validate
from lianban.app.cli.alerts import alerts_app
from lianban.app.cli.audit import audit_app
from lianban.app.cli.case import case_app
from lianban.app.cli.connectors import connectors_app
from lianban.app.cli.deliveries import deliveries_app
from lianban.app.cli.keys import keys_app
from lianban.app.cli.notices import notices_app
from lianban.app.cli.output import console
from lianban.app.cli.quarantine import quarantine_app
from lianban.app.cli.run import run_app
from lianban.app.cli.supplements import supplements_app
from lianban.app.redact import redact
from lianban.errors import LianbanError


class _MaskedGroup(TyperGroup):
    """The root command: a usage error (a bad option or argument, ours or click's) may repeat what was typed,
    an ID number or phone in the wrong place; it is masked before it is shown."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context (typer._click, not public)
        try:
            return super().invoke(ctx)
        except TyperException as exc:  # typer's own click: its usage errors and BadParameter
            exc.message = redact(exc.message)
            raise


app = typer.Typer(help="lianban 联办：退休一件事数据交换枢纽 (data-exchange hub)", no_args_is_help=True,
                  cls=_MaskedGroup)
for command in (home.init, home.seed, home.simulate, inspect.status, inspect.parked, home.demo, serve.serve,
                report.report):
    app.command()(command)
app.add_typer(run_app, name="run")
app.add_typer(keys_app, name="keys")
app.add_typer(connectors_app, name="connectors")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(supplements_app, name="supplements")
app.add_typer(audit_app, name="audit")
app.add_typer(case_app, name="case")
app.command("retirement-age")(retirement.retirement_age_command)
app.command("validate")(validate.validate_command)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(alerts_app, name="alerts")
app.add_typer(notices_app, name="notices")
app.command("forecast")(forecast.forecast_command)
app.command("up")(up.up)
app.command("down")(up.down)


def main() -> None:
    from lianban import gc_tuning
    from lianban.app.redact import install

    install()
    gc_tuning.tune()
    try:
        app()
    except LianbanError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:  # the message may carry a URL with a password: name the kind only
        fail(database_trouble(exc))
    except OSError as exc:  # last resort for a file an operator named or broke: the file, not a traceback
        if exc.filename is None:
            raise
        fail(f"无法访问 {exc.filename}（{type(exc).__name__}）：请检查路径与权限 "
             f"(cannot access {exc.filename}: check the path and its permissions)")


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


def fail(sentence: str) -> NoReturn:
    """Print one operator-facing sentence, unwrapped and with no markup read into it, ID- and mobile-number-shaped
    runs masked (it may repeat what was typed, or a department's words), and exit 2."""
    console.print(f"[red]错误 (error):[/red] {escape(redact(sentence))}", soft_wrap=True)
    raise SystemExit(2) from None


if __name__ == "__main__":
    main()
