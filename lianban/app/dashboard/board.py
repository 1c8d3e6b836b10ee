"""Everything the dashboard shows, read once per request: :func:`read_board`.

``status`` is exactly what ``lianban status --json`` prints (the same function,
:func:`lianban.app.cli.inspect.status_numbers`), so the page and the CLI can never disagree; the rest are the
lists and day-by-day figures of :mod:`lianban.app.dashboard.queries` and :mod:`lianban.app.dashboard.series`,
and the last runs of each DAG from whoever can see them (the Airflow plugin passes a :data:`DagRuns` provider;
this package never imports Airflow).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from lianban.app.cli.inspect import status_numbers
from lianban.app.dashboard import queries, series
from lianban.ledger.db import session_factory
from lianban.ledger.store import utcnow

__all__ = ["Board", "DagRun", "DagRuns", "read_board"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DagRun:
    """One run of one DAG as the dashboard shows it (times already Beijing time, to the minute)."""

    dag_id: str
    run_id: str
    state: str
    started_at: str | None
    ended_at: str | None


#: the last runs of each DAG, newest first per DAG (inside Airflow: its metadata database)
DagRuns = Callable[[], Sequence[DagRun]]


@dataclass(frozen=True)
class Board:
    generated_at: str
    status: dict[str, Any]  # == `lianban status --json`
    backlog: list[dict[str, Any]]
    deliveries_by_state: dict[str, int]
    days: list[dict[str, Any]]
    quarantined: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    illegal_reports: list[dict[str, Any]]
    health: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    dag_runs: list[dict[str, Any]] | None  # None: the provider failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_board(ledger_url: str, dag_runs: DagRuns | None = None, today: date | None = None) -> Board:
    """The whole dashboard for the ledger at `ledger_url`, `today` (default: Beijing today)."""
    with session_factory(ledger_url)() as s:
        lists: dict[str, Any] = {"backlog": queries.backlog(s, today),
                                 "deliveries_by_state": queries.deliveries_by_state(s),
                                 "days": series.days(s, today), "quarantined": queries.quarantined(s),
                                 "dead_letters": queries.dead_letters(s), "overdue": queries.overdue(s, today),
                                 "illegal_reports": queries.illegal_reports(s),
                                 "health": queries.department_health(s), "incidents": queries.open_incidents(s)}
    return Board(generated_at=queries.beijing_minute(utcnow()) or "", status=status_numbers(ledger_url, today),
                 dag_runs=_runs(dag_runs), **lists)


def _runs(dag_runs: DagRuns | None) -> list[dict[str, Any]] | None:
    """The provider's runs; None when it failed (the rest of the page still shows, the section says so)."""
    if dag_runs is None:
        return []
    try:
        return [asdict(r) for r in dag_runs()]
    except Exception as exc:  # the provider is someone else's code (Airflow's database): never the whole page
        log.warning("看板无法读取 DAG 运行记录 (dashboard cannot read the DAG runs): %s", type(exc).__name__)
        return None
