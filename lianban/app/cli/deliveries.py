"""`lianban deliveries …`: dead letters, and putting them back in the queue."""

from __future__ import annotations

from typing import Annotated

import typer

from lianban.app.cli.output import JsonFlag, columns, emit_done, emit_rows, progress_bar
from lianban.app.config import Paths
from lianban.errors import ConfigError

deliveries_app = typer.Typer(help="投递与死信 (deliveries and dead letters)", no_args_is_help=True)


DeadStates = Annotated[list[str] | None, typer.Option("--state", help="refused and/or dead (default both)")]
ListedStates = Annotated[list[str] | None, typer.Option(
    "--state", help="refused and/or dead (default both), or retry: still retrying after a failure (第1节)")]
RETRYING = "retry"  # listed, never requeued: the outbox sends it again by itself


def _dead_states(state: list[str] | None, more: tuple[str, ...] = ()) -> list[str]:
    """The chosen dead-letter states (default: all of them; `more`: other states that may be chosen too);
    ConfigError naming the allowed ones."""
    from lianban.ledger.store import DEAD_STATES

    default = [s.value for s in DEAD_STATES]
    allowed = [*default, *more]
    for value in state or []:
        if value not in allowed:
            raise ConfigError(f"--state 不能是 {value!r}，只能是 {' 或 '.join(allowed)}（可重复）"
                              f"(--state must be {' or '.join(allowed)}, not {value!r})")
    return list(state or default)


def _department(department: str | None) -> str | None:
    from lianban.app.jobs import pushed_department

    return pushed_department(department) if department is not None else None


@deliveries_app.command("list")
def deliveries_list(department: Annotated[str | None, typer.Option(help="one department")] = None,
                    state: ListedStates = None, as_json: JsonFlag = False) -> None:
    """列出死信：被部门拒收或重试耗尽的投递；--state retry：失败后仍在重试的投递 (dead letters; or retrying)."""
    from lianban.pipeline.dead_letters import list_dead

    states, department = _dead_states(state, (RETRYING,)), _department(department)
    rows = [r.as_dict() for r in list_dead(Paths.from_env().existing_ledger(), department, states)]
    emit_rows(rows, as_json, "投递 (deliveries)" if RETRYING in states else "死信 (dead letters)", columns(
        ("部门", "department"), ("办件编号", "case_no"), ("事项", "item_code"), ("状态", "state"), ("次数", "attempts"),
        ("原因", "last_error")))


@deliveries_app.command("retry")
def deliveries_retry(key: Annotated[str | None, typer.Argument(help="只重投这一条（deliveries list --json 的 "
                                                                   "idempotency_key）(one delivery)")] = None,
                     department: Annotated[str | None, typer.Option(help="one department")] = None,
                     state: DeadStates = None, as_json: JsonFlag = False) -> None:
    """把死信重新排队（保留幂等键，部门不会重复办理）(requeue dead letters; idempotency keeps them single)."""
    from lianban.pipeline.dead_letters import requeue

    states, department = _dead_states(state), _department(department)
    with progress_bar("重新排队 (requeueing)") as advance:
        count = requeue(Paths.from_env().existing_ledger(), department, states, key, progress=advance)
    emit_done(f"已重新排队 {count} 条 (requeued)，下一轮投递时发送", {"requeued": count}, as_json)
