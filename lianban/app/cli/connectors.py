"""`lianban connectors …`: what department IT staff run to list, check and scaffold connectors.

    lianban connectors list [--json]
    lianban connectors check NAME [--json]      exit 2 when the connection's settings are wrong (step config),
                                                1 when a later step fails, 0 when all pass
    lianban connectors new NAME [--title 部门名称] [--register] [--root DIR] [--json]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lianban.app.cli.output import JsonFlag, emit_rows

connectors_app = typer.Typer(help="部门连接器 (department connectors)", no_args_is_help=True)

#: step outcome → the mark printed before it
MARKS = {"ok": "[ok]     ", "failed": "[failed] ", "skipped": "[skipped]"}


@connectors_app.command("list")
def list_connectors(as_json: JsonFlag = False) -> None:
    """列出已注册的连接器 (registered connectors)."""
    from lianban.app.registry import registered

    rows = [{"department": department, "connector": path} for department, path in registered().items()]
    emit_rows(rows, as_json, "连接器 (connectors)", [("部门", lambda r: r["department"]),
                                                    ("连接器", lambda r: r["connector"])])


@connectors_app.command("check")
def check(name: Annotated[str, typer.Argument(help="部门，如 medical (department key)")],
          as_json: JsonFlag = False) -> None:
    """逐步检查连接 dept_NAME：解析、连接、TLS、服务描述、认证与试调用 (check each step, say why)."""
    from lianban.app.diagnose import Outcome, check_department, passed

    results = check_department(name)
    ok = passed(results)
    if as_json:
        typer.echo(json.dumps({"department": name, "connection": f"dept_{name}", "ok": ok,
                               "steps": [r.as_dict() for r in results]}, ensure_ascii=False))
    else:
        for r in results:
            row = r.as_dict()
            typer.echo(f"{MARKS[row['status']]} {row['step']}（{row['label']}）：{row['detail']}")
        typer.echo("全部通过 (all steps passed)" if ok else "检查未通过 (a step failed; see its reason above)")
    misconfigured = results[0].step == "config" and results[0].outcome is Outcome.FAILED
    raise typer.Exit(0 if ok else 2 if misconfigured else 1)


@connectors_app.command("new")
def new(name: Annotated[str, typer.Argument(help="新部门的键，小写标识符，如 civil_affairs")],
        title: Annotated[str, typer.Option(help="部门中文名称 (department name)")] = "",
        register: Annotated[bool, typer.Option("--register", help="also add it to schemas/catalog/departments.yaml")]
        = False,
        root: Annotated[Path | None, typer.Option(help="repository root to write under")] = None,
        as_json: JsonFlag = False) -> None:
    """生成新部门连接器骨架 (scaffold a REST department connector, its schema stub and tests)."""
    from lianban.app.scaffold import REPO, Scaffold, catalog_line, register_department, scaffold
    from lianban.errors import ConfigError

    spec = Scaffold(name, title or name, root or REPO)
    try:
        written = scaffold(spec)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    registered = str(register_department(spec)) if register else None
    if as_json:
        typer.echo(json.dumps({"department": name, "written": [str(p) for p in written], "registered": registered,
                               "catalog_line": catalog_line(spec)}, ensure_ascii=False))
        return
    _tell_next(name, written, registered, catalog_line(spec))


def _tell_next(name: str, written: list[Path], registered: str | None, line: str) -> None:
    for path in written:
        typer.echo(f"已生成 (written) {path}")
    if registered:
        typer.echo(f"已注册 (registered) in {registered}")
    else:
        typer.echo(f"在 schemas/catalog/departments.yaml 末尾加入这一行以注册 (add this line to register):\n{line}")
    typer.echo(f"下一步：填写 connectors/{name}/statuses.py 的状态码，然后运行 pytest tests/connectors/{name} "
               f"(next: fill the status table, then run its tests)")
