"""What an operator looks at: ledger progress (the quarantine has its own group: lianban.app.cli.quarantine)."""

from __future__ import annotations

from datetime import date

from lianban.app.cli.output import JsonFlag, emit
from lianban.app.config import Paths


def status_numbers(ledger_url: str, today: date | None = None) -> dict[str, object]:
    """What ``lianban status --json`` prints, for the ledger at `ledger_url` (the dashboard shows the same)."""
    from lianban.ledger.progress import progress

    return progress(ledger_url, today).as_dict()


def status(as_json: JsonFlag = False) -> None:
    """台账进度 (ledger progress)."""
    emit(status_numbers(Paths.from_env().existing_ledger()), as_json, "办件进度 (progress)")
