"""The operations dashboard (运行看板) in Simplified Chinese, shown inside Airflow's UI.

Modules: queries (the lists an operator acts on, from the ledger), series (day-by-day figures), board (everything
the page shows, read once: ``status`` is ``lianban status --json`` itself), svg (charts as server-rendered SVG),
page (the HTML), style (its stylesheet), server (the read-only FastAPI application).

Airflow is never imported here: ``plugins/lianban_dashboard.py`` mounts :func:`create_app` in Airflow's
api-server, passing Airflow's authentication as FastAPI dependencies and a provider of the DAGs' last runs.
"""

from __future__ import annotations

from lianban.app.dashboard.board import Board, DagRun, DagRuns, read_board
from lianban.app.dashboard.server import create_app

__all__ = ["Board", "DagRun", "DagRuns", "create_app", "read_board"]
