"""What an operator looks at: ledger progress (the quarantine has its own group: lianban.app.cli.quarantine)."""

from __future__ import annotations

from lianban.app.cli.output import JsonFlag, emit
from lianban.app.config import Paths


def status(as_json: JsonFlag = False) -> None:
    """台账进度 (ledger progress)."""
    from lianban.ledger.progress import progress

    emit(progress(Paths.from_env().existing_ledger()).as_dict(), as_json, "办件进度 (progress)")
