"""`lianban run …`: one pipeline step without Airflow."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import typer

from lianban.app import jobs
from lianban.app.cli.output import JsonFlag, emit, progress_bar
from lianban.app.config import Paths
from lianban.domain.catalog import window

run_app = typer.Typer(help="单步运行流水线 (run one pipeline step without Airflow)", no_args_is_help=True)


@run_app.command("stage")
def run_stage(as_json: JsonFlag = False) -> None:
    """抽取、校验、分发、加密并写入台账 (extract → stage)."""
    with progress_bar("抽取入账 (staging)") as advance:
        staged = jobs.stage(progress=advance)
    emit(staged, as_json, "抽取入账 (staged)")


@run_app.command("deliver")
def run_deliver(department: str, as_json: JsonFlag = False) -> None:
    """向一个部门投递待发记录 (deliver one department's outbox)."""
    emit(jobs.deliver(department), as_json, f"投递 {department}")


def _isolated(job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One source's result, or the sentence saying why it failed: one department down, or its connector failing
    unexpectedly, never stops the others (ID- and mobile-number-shaped runs masked: a department's refusal may
    quote the applicant; anything not lianban's own by its kind only)."""
    return jobs.result_or_why(job)


@run_app.command("collect")
def run_collect(as_json: JsonFlag = False) -> None:
    """归集各事项状态并请人社发放已核准的奖励；一个部门失败不影响其他部门 (collect HRSS's log, poll every
    department, each on its own, then ask HRSS to pay the rewards health approved)."""
    Paths.from_env().existing_ledger()  # no ledger is an operator slip, not one source's failure
    results = {window(): _isolated(jobs.collect_hrss),
               **{d: _isolated(partial(jobs.poll, d)) for d in jobs.pushed_departments()},
               "payments": _isolated(jobs.request_payments)}
    emit(results, as_json, "状态归集 (collected)")
    if any("error" in r for r in results.values()):
        raise typer.Exit(1)


@run_app.command("supplements")
def run_supplements(as_json: JsonFlag = False) -> None:
    """转交补正材料：读取人社窗口的补正提交并转交各部门；一个部门失败不影响其他部门 (forward 补正 submissions)."""
    results = jobs.supplements()
    emit(results, as_json, "补正转交 (supplements)")
    if any("error" in r for r in results.values()):
        raise typer.Exit(1)


@run_app.command("report")
def run_report(as_json: JsonFlag = False,
               retry_parked: Annotated[bool, typer.Option(
                   "--retry-parked", help="先把被皖事通办拒收而搁置的状态事件重新排队（原因排除后）")] = False) -> None:
    """推送状态至皖事通办 (push status events to 皖事通办)."""
    emit(jobs.report(retry_parked), as_json, "推送皖事通办 (reported)")
