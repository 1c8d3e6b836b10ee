"""`lianban deliveries …`: dead letters, and putting them back in the queue."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lianban.app.cli.output import JsonFlag, console
from lianban.app.config import Paths

deliveries_app = typer.Typer(help="投递与死信 (deliveries and dead letters)", no_args_is_help=True)


DeadStates = Annotated[list[str] | None, typer.Option("--state", help="refused and/or dead (default both)")]


@deliveries_app.command("list")
def deliveries_list(department: Annotated[str | None, typer.Option(help="one department")] = None,
                    state: DeadStates = None, as_json: JsonFlag = False) -> None:
    """列出死信：被部门拒收或重试耗尽的投递 (dead letters: refused or out of retries)."""
    from lianban.ledger.store import DEAD_STATES
    from lianban.pipeline.dead_letters import list_dead

    rows = list_dead(Paths.from_env().ledger_url, department, state or DEAD_STATES)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"死信 (dead letters): {len(rows)}")
    for column in ("部门", "办件编号", "事项", "状态", "次数", "原因"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.department, r.case_no, r.item_code, r.state, str(r.attempts), r.last_error or "")
    console.print(table)


@deliveries_app.command("retry")
def deliveries_retry(department: Annotated[str | None, typer.Option(help="one department")] = None,
                     state: DeadStates = None) -> None:
    """把死信重新排队（保留幂等键，部门不会重复办理）(requeue dead letters; idempotency keeps them single)."""
    from lianban.ledger.store import DEAD_STATES
    from lianban.pipeline.dead_letters import requeue

    count = requeue(Paths.from_env().ledger_url, department, state or DEAD_STATES)
    typer.echo(f"已重新排队 {count} 条 (requeued)，下一轮投递时发送")
