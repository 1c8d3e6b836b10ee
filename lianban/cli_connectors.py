"""`lianban connectors …`: what department IT staff run to list, check and scaffold connectors."""

from __future__ import annotations

import typer

connectors_app = typer.Typer(help="部门连接器 (department connectors)", no_args_is_help=True)


@connectors_app.command("list")
def list_connectors() -> None:
    """列出已注册的连接器 (registered connectors)."""
    from connectors import registered

    for department, path in registered().items():
        typer.echo(f"{department}\t{path}")
