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
from lianban.app.db_trouble import database_trouble
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


def fail(sentence: str) -> NoReturn:
    """Print one operator-facing sentence, unwrapped and with no markup read into it, ID- and mobile-number-shaped
    runs masked (it may repeat what was typed, or a department's words), and exit 2."""
    console.print(f"[red]错误 (error):[/red] {escape(redact(sentence))}", soft_wrap=True)
    raise SystemExit(2) from None


if __name__ == "__main__":
    main()
