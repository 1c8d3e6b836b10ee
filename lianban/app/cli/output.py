"""What every command shares: the console, the ``--json`` flag, and one way to print a result."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object")]
#: for the long-running servers, whose stdout is JSON lines anyway: accepted so that every command takes --json
JsonLines = Annotated[bool, typer.Option("--json", help="stdout is JSON lines (always so; accepted for scripts)")]


def emit_done(message: str, data: dict[str, Any], as_json: bool) -> None:
    """The outcome of an action: `data` as one JSON object with ``--json``, otherwise the operator's sentence."""
    typer.echo(json.dumps(data, ensure_ascii=False) if as_json else message)


def emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    """`data` as one JSON object with ``--json``, otherwise a two-column table titled `title`, each key in the
    operator's Chinese with the JSON's key beside it (:mod:`lianban.app.cli.labels`), each value shown as it is,
    no markup read into it: a value can come from a source or a department."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    from lianban.app.cli.labels import label, shown

    table = Table(title=Text(title), show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")  # a path, a URL: folded, never cut short
    for key, value in data.items():
        table.add_row(Text(label(key)), Text(shown(value)))
    console.print(table)


#: one column of a list: its header, and how a row shows in it
Column = tuple[str, Callable[[dict[str, Any]], object]]


def columns(*named: tuple[str, str]) -> list[Column]:
    """Columns that each show one key of a row: (header, key) pairs."""
    return [(header, itemgetter(key)) for header, key in named]


def emit_rows(rows: Sequence[dict[str, Any]], as_json: bool, title: str, columns: Sequence[Column]) -> None:
    """A list of rows: a JSON list with ``--json``, otherwise a table titled `title` with its count (each value
    shown as it is, no markup read into it)."""
    if as_json:
        typer.echo(json.dumps(list(rows), ensure_ascii=False))
        return
    table = Table(title=f"{title}: {len(rows)}")
    for header, _ in columns:
        table.add_column(header)
    for row in rows:  # as Text: a value from a source (a held row's brackets) is never read as markup
        table.add_row(*(Text("" if (v := show(row)) is None else str(v)) for _, show in columns))
    console.print(table)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on stderr for a long operation; yields ``advance(done, total)`` (total None: not known
    ahead, the bar counts and pulses). Shown on a terminal only
    (stdout stays one JSON object or a table; a pipe, a log or cron gets nothing extra) and gone when done."""
    err = Console(stderr=True)
    if not err.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
