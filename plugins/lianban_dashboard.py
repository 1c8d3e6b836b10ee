"""Airflow plugin: lianban's operations dashboard (联办运行看板) inside Airflow's UI.

The page itself is ``lianban.app.dashboard`` (which never imports Airflow); this file is the one place that joins
it to Airflow 3:

* ``fastapi_apps``: the dashboard's FastAPI application mounted in the api-server at :data:`URL_PREFIX`, every
  route behind Airflow's own authentication and authorisation (the ``_token`` session cookie the UI sets at
  login, or a bearer token): whoever may read every DAG's runs may read the dashboard. A browser without a
  session is sent to Airflow's login page and back. Airflow does not authenticate a plugin's routes by itself
  (a mounted app inherits none of the core API's dependencies), hence :func:`guards`; when they cannot be
  imported the dashboard refuses everyone.
* ``external_views``: the nav entry 联办运行看板 (under Browse), showing the page in Airflow's frame.
* the last runs of each DAG, read from Airflow's metadata database and passed to the dashboard as a provider.

The ledger is the installation's (``LIANBAN_*`` settings, read by lianban.app.config), so the api-server needs
the same environment as the DAGs. Point ``[core] plugins_folder`` (``AIRFLOW__CORE__PLUGINS_FOLDER``) at this
folder, or copy this file into the installation's plugins folder; it needs lianban installed, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from fastapi import HTTPException, Request

from lianban.app.dashboard import DagRun, create_app
from lianban.app.dashboard.queries import beijing_minute

URL_PREFIX = "/lianban"
RUNS_PER_DAG = 5


def _deny_all() -> None:
    from fastapi import HTTPException

    raise HTTPException(status_code=403, detail="看板无法接入 Airflow 的登录与权限，已拒绝访问")


def _no_dag_named(request: Request) -> None:
    """Airflow's check asks about the DAG a ``dag_id`` query parameter names, when there is one: a user who may
    read one DAG's runs would pass it with ``?dag_id=`` that DAG. The dashboard is every DAG's: refused."""
    if "dag_id" in request.query_params:
        raise HTTPException(status_code=403, detail="看板不接受 dag_id 参数：查看看板需能读取全部 DAG 的运行记录")


def guards() -> list[Callable[..., Any]]:
    """Airflow's check that the caller is signed in and may read every DAG's runs (fail closed)."""
    try:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
        from airflow.api_fastapi.core_api.security import requires_access_dag
    except ImportError:
        return [_deny_all]
    return [_no_dag_named, requires_access_dag("GET", DagAccessEntity.RUN)]


def login_url(next_url: str) -> str:
    """Airflow's login page, coming back to `next_url` afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def last_dag_runs() -> Sequence[DagRun]:
    """The last :data:`RUNS_PER_DAG` runs of every DAG, newest first per DAG (Airflow's metadata database)."""
    from airflow.models.dagrun import DagRun as AirflowDagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    rank = func.row_number().over(partition_by=AirflowDagRun.dag_id, order_by=AirflowDagRun.id.desc()).label("rank")
    ranked = select(AirflowDagRun.dag_id, AirflowDagRun.run_id, AirflowDagRun.state, AirflowDagRun.start_date,
                    AirflowDagRun.end_date, rank).subquery()
    query = select(ranked).where(ranked.c.rank <= RUNS_PER_DAG).order_by(ranked.c.dag_id, ranked.c.rank)
    with create_session() as session:
        return [DagRun(r.dag_id, r.run_id, str(r.state), beijing_minute(r.start_date), beijing_minute(r.end_date))
                for r in session.execute(query)]


#: the dashboard's application and where it is mounted; the nav entry that shows it in Airflow's frame
DASHBOARD = {"app": create_app(dag_runs=last_dag_runs, dependencies=guards(), login=login_url),
             "url_prefix": URL_PREFIX, "name": "联办运行看板"}
NAV_ENTRY = {"name": "联办运行看板", "href": "lianban/", "url_route": "lianban-dashboard", "destination": "nav",
             "category": "browse"}


class LianbanDashboardPlugin(AirflowPlugin):
    name = "lianban_dashboard"
    fastapi_apps = [DASHBOARD]  # noqa: RUF012  (Airflow reads the class attributes as they are)
    external_views = [NAV_ENTRY]  # noqa: RUF012
