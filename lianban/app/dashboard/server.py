"""The dashboard's FastAPI application, read-only; mounted by the Airflow plugin (``plugins/lianban_dashboard.py``)
or served on its own in a test.

Routes (relative to where it is mounted)::

    GET /               the page (lianban.app.dashboard.page)
    GET /numbers.json   the same figures as JSON (lianban.app.dashboard.board.Board): ``status`` is exactly
                        ``lianban status --json``
    GET /dashboard.css  its stylesheet

Who may look is not decided here: the caller passes ``dependencies`` (FastAPI dependencies run before every
route; inside Airflow, Airflow's own authentication and authorisation) and ``login`` (where a browser without a
session is sent, given the page it wanted). The ledger is the installation's (``LIANBAN_*`` settings,
:class:`lianban.app.config.Paths`) unless a URL is given; it is checked on every request, so a ledger created
after the server started is picked up, and a missing one is a page saying what to do (503), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from lianban.app.config import LEDGER, Paths, existing
from lianban.app.dashboard.board import DagRuns, read_board
from lianban.app.dashboard.page import render
from lianban.app.dashboard.style import CSS
from lianban.app.db_trouble import database_trouble
from lianban.errors import ConfigError

__all__ = ["HEADERS", "create_app"]

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'self'; "
       "base-uri 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
           "cache-control": "no-store", "x-frame-options": "SAMEORIGIN"}
Login = Callable[[str], str]


def _ledger(ledger_url: str | None) -> str:
    """The ledger's URL, checked on every request (ConfigError: not there, naming the setting, never the URL)."""
    return existing(ledger_url or Paths.from_env().ledger_url, LEDGER)


def _why(exc: Exception) -> str:
    """What to tell: a ConfigError's sentence; a database error as the command line says it (what SQLite said of
    the file, or its kind only: its text may hold a URL)."""
    return database_trouble(exc) if isinstance(exc, SQLAlchemyError) else str(exc)


def _unavailable(exc: Exception) -> HTMLResponse:
    return HTMLResponse(f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>联办运行看板</title>'
                        f"<p>看板暂不可用：{escape(_why(exc))}</p></html>", status_code=503)


def _routes(app: FastAPI, ledger_url: str | None, dag_runs: DagRuns | None) -> None:
    async def board_for() -> Any:
        return await run_in_threadpool(lambda: read_board(_ledger(ledger_url), dag_runs))

    @app.get("/", response_class=HTMLResponse)
    async def page() -> Response:
        try:
            return HTMLResponse(render(await board_for()))
        except (ConfigError, SQLAlchemyError) as exc:
            return _unavailable(exc)

    @app.get("/numbers.json")
    async def numbers() -> Response:
        try:
            return JSONResponse((await board_for()).as_dict())
        except (ConfigError, SQLAlchemyError) as exc:
            return JSONResponse({"error": _why(exc)}, status_code=503)

    @app.get("/dashboard.css")
    async def stylesheet() -> Response:
        return Response(CSS, media_type="text/css; charset=utf-8")


def _guards(app: FastAPI, login: Login | None) -> None:
    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.update(HEADERS)
        return response

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        """A browser without a session goes to the login page and comes back; anything else hears why."""
        wants_page = "text/html" in request.headers.get("accept", "") and request.url.path.endswith("/")
        if exc.status_code == 401 and login is not None and wants_page:
            return RedirectResponse(login(str(request.url.path)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(ledger_url: str | None = None, dag_runs: DagRuns | None = None,
               dependencies: Sequence[Callable[..., Any]] = (), login: Login | None = None) -> FastAPI:
    """The dashboard (module docstring): `dependencies` guard every route, `login` maps the page a browser
    wanted to the login page that brings it back."""
    app = FastAPI(title="联办运行看板", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(d) for d in dependencies])
    _routes(app, ledger_url, dag_runs)
    _guards(app, login)
    return app
