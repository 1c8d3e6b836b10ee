"""`lianban up` / `lianban down`: the real Airflow, the simulators and the hub API on this machine
(:mod:`lianban.app.up`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lianban.app.cli.output import JsonFlag, console
from lianban.app.config import Paths


def up(executor: Annotated[str, typer.Option(help="执行器 local 或 celery (Airflow executor)")] = "local",
       workers: Annotated[int, typer.Option(min=1, max=8, help="Celery worker 数 (celery only)")] = 2,
       port: Annotated[int, typer.Option(min=0, max=65535, help="Airflow 界面端口，0 为任一空闲端口")] = 8080,
       records: Annotated[int, typer.Option(min=0, help="新建目录时写入前置库的合成审批数")] = 50,
       db_url: Annotated[str | None, typer.Option(envvar="LIANBAN_AIRFLOW_DB_URL",
                                                  help="Airflow 元数据库 (default: SQLite under <home>/airflow)")]
       = None,
       broker_url: Annotated[str | None, typer.Option(envvar="LIANBAN_BROKER_URL",
                                                      help="Celery 消息代理, e.g. redis://127.0.0.1:6379/0")] = None,
       as_json: JsonFlag = False) -> None:
    """启动本机真实 Airflow（调度器、执行器、界面）、模拟部门与枢纽 API，并启用 lianban DAG (start everything)."""
    from lianban.app.up import UpOptions
    from lianban.app.up import up as run

    opts = UpOptions(executor=executor, workers=workers, port=port, records=records, db_url=db_url,
                     broker_url=broker_url)
    result = run(Paths.from_env(), opts)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    _print_up(result, show_password=sys.stdout.isatty())


def _print_up(result: dict[str, Any], show_password: bool) -> None:
    """The operator's few lines: where to look, who logs in, the password (own terminal only) or its file."""
    head = "已在运行 (already up)" if result["already_up"] else "已启动 (up)"
    secret = json.loads(Path(result["password_file"]).read_text())[result["user"]] if show_password else None
    password = secret or f"见 {result['password_file']} (see that file)"
    console.print(f"Airflow {head}：[bold]{result['url']}[/bold]  执行器 {result['executor']}", soft_wrap=True)
    console.print(f"登录 (login)：用户 {result['user']}  密码 {password}", soft_wrap=True, markup=False)
    console.print(f"枢纽 API (hub API)：{result['hub_url']}/query", soft_wrap=True)
    console.print(f"进程 (processes)：{', '.join(f'{k} {v}' for k, v in result['processes'].items())}",
                  soft_wrap=True)
    console.print(f"日志 (logs)：{result['logs']}；停止：lianban down (stop)", soft_wrap=True)


def down(as_json: JsonFlag = False) -> None:
    """停止 lianban up 启动的全部进程 (stop everything `lianban up` started, by process id)."""
    from lianban.app.up import down as run

    result = run(Paths.from_env())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    elif result["stopped"]:
        console.print(f"已停止 (stopped)：{', '.join(result['stopped'])}", soft_wrap=True)
    else:
        console.print("没有在运行的进程 (nothing was running)", soft_wrap=True)
