"""Installation commands: init, seed, simulate, demo."""

from __future__ import annotations

import json
import shlex
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from lianban.app.cli.output import JsonFlag, JsonLines, emit, emit_done
from lianban.app.config import Paths


def init(as_json: JsonFlag = False) -> None:
    """初始化：密钥、台账库结构 (create key rings, migrate the ledger)."""
    from lianban.app.setup import init as run

    paths = Paths.from_env()
    run(paths)
    emit_done("已初始化 (initialised)", {"initialised": True, "home": str(paths.home),
                                         "keys_dir": str(paths.keys_dir)}, as_json)


def seed(records: Annotated[int, typer.Option(min=1)] = 200,
         seed_value: Annotated[int, typer.Option("--seed")] = 20250101, as_json: JsonFlag = False,
         register: Annotated[int, typer.Option(min=0, help="另写入在职参保人员登记（及其二十分之一的待遇核定）"
                                               "的合成人数 (synthetic insured workers for 双告知)")] = 0) -> None:
    """向人社前置库写入合成的退休审批记录 (fill the HRSS 前置库 with synthetic approvals)."""
    from sqlalchemy.engine import make_url

    from lianban.app.setup import seed as run
    from lianban.app.setup import seed_register

    written = run(Paths.from_env(), records, seed_value)
    shown = make_url(Paths.from_env().frontend_url).render_as_string(hide_password=True)  # printed, and logged
    result: dict[str, object] = {"written": written, "frontend": shown}
    if register:
        result.update(seed_register(Paths.from_env(), register, seed_value))
    emit(result, as_json, "前置库已写入 (seeded)")


def simulate(step: Annotated[float, typer.Option(help="seconds per status step")] = 60.0,
             with_hrss: Annotated[bool, typer.Option(help="also run HRSS's back office")] = True,
             faults: Annotated[str, typer.Option(envvar="LIANBAN_SIM_FAULTS",
                                                 help="fault injection, see simulators/faults.py")] = "",
             push: Annotated[list[str] | None, typer.Option(
                 help="回调模式：该 REST 部门主动推送状态 (a REST department that pushes its statuses; repeatable)")]
             = None,
             hub_url: Annotated[str | None, typer.Option(help="枢纽地址，lianban serve 打印 (the hub's URL, "
                                                             "for --push)")] = None,
             as_json: JsonLines = False) -> None:
    """启动各部门模拟服务 (start the department simulators); first line: JSON of URLs."""
    from lianban.app.setup import require_simulators

    require_simulators()
    from simulators.runner import start

    paths = Paths.from_env()
    (paths.home / "simulators" / CONNECTIONS_FILE).unlink(missing_ok=True)  # a run before's ports: until written
    try:
        sim = start(paths.home, paths.keys_dir, paths.existing_frontend() if with_hrss else None, step,
                    faults=faults or None, push=push or (), hub_url=hub_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--push" if "push" in str(exc) else "--faults") from None
    _write_connections(paths, sim.urls)  # before the first line: whoever reads it may source the file at once
    typer.echo(json.dumps(sim.urls), nl=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sim.stop()


CONNECTIONS_FILE = "connections.env"


def _write_connections(paths: Paths, urls: dict[str, str]) -> None:
    """``<home>/simulators/connections.env`` (mode 0600): the ``AIRFLOW_CONN_DEPT_*`` exports for the simulated
    departments, so ``source`` points ``lianban run``, ``connectors check`` and ``serve`` at them."""
    from lianban.app.demo import connections
    from lianban.keys.files import write_private_text

    lines = [f"export {name}={shlex.quote(value)}" for name, value in connections(urls, paths.home).items()]
    write_private_text(paths.home / "simulators" / CONNECTIONS_FILE, "\n".join(lines) + "\n")


def demo(records: Annotated[int, typer.Option(min=1)] = 200, as_json: JsonFlag = False,
         rounds: Annotated[int, typer.Option(help="round limit")] = 25,
         step: Annotated[float, typer.Option(help="simulated seconds per status step")] = 3.0,
         home: Annotated[Path | None, typer.Option(help="demo folder (wiped first)")] = None,
         down: Annotated[list[str] | None, typer.Option(
             help="演练：该部门全程宕机，其余照常办结并上报 (fault drill: this department is down all run)")] = None,
         ) -> None:
    """一键演示：播种、启动模拟部门、经 Airflow 运行两个 DAG 直至办结 (the whole exchange, end to end)."""
    from lianban.app.demo import DemoOptions, run_demo
    from lianban.app.demo_view import print_round, print_summary

    opts = DemoOptions(records=records, max_rounds=rounds, step_seconds=step, down=tuple(down or ()),
                       **({"home": home.resolve()} if home else {}))
    summary = run_demo(opts, on_round=None if as_json else print_round)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    if not summary["complete"]:
        raise typer.Exit(1)
