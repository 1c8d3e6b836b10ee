"""What every command shares: the console, the ``--json`` flag, and one way to print a result."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
    console.print(table)
