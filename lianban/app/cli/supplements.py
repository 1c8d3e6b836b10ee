"""`lianban supplements …`: 补正 submissions that did not reach their department, and putting them back."""

from __future__ import annotations

import typer

from lianban.app.cli.output import JsonFlag, columns, emit_done, emit_rows
from lianban.app.config import Paths

supplements_app = typer.Typer(help="补正材料转送的死信 (补正 submissions that did not get through)",
                              no_args_is_help=True)


@supplements_app.command("list")
def supplements_list(as_json: JsonFlag = False) -> None:
    """列出未送达的补正材料：被拒收、重试耗尽或无法读取 (refused, out of retries, or unreadable)."""
    from lianban.pipeline.dead_letters import list_dead_supplements

    rows = [r.as_dict() for r in list_dead_supplements(Paths.from_env().existing_ledger())]
    emit_rows(rows, as_json, "补正死信 (supplements not delivered)", columns(
        ("序号", "source_seq"), ("办件编号", "case_no"), ("事项", "item_code"), ("部门", "department"),
        ("状态", "state"), ("次数", "attempts"), ("原因", "last_error")))


@supplements_app.command("retry")
def supplements_retry(as_json: JsonFlag = False) -> None:
    """把被拒收或重试耗尽的补正重新排队（保留补正编号，部门不会重复受理）(requeue; ids keep them single)."""
    from lianban.pipeline.dead_letters import requeue_supplements

    count = requeue_supplements(Paths.from_env().existing_ledger())
    emit_done(f"已重新排队 {count} 条补正 (requeued)，下一轮转送时发送；"
              "无法读取的补正请由人社在前置库更正并将同步标志置回 0", {"requeued": count}, as_json)
