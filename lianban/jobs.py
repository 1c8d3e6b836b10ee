"""The pipeline steps wired to their real source, connectors and ledger: what DAG tasks and the CLI call.

Each job reads its settings from the environment (:class:`lianban.settings.Paths`, ``AIRFLOW_CONN_DEPT_*``),
runs one step, and returns a small dict of counts: safe for XCom, never a record.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lianban.catalog import load_catalog
from lianban.redact import install as _install_redaction
from lianban.settings import Paths, department_settings

_install_redaction()  # every task that imports the jobs logs through the redaction layer


def dag_defaults() -> dict[str, Any]:
    """What both DAGs share: every five minutes, one run at a time, no catch-up, Beijing time."""
    return {"schedule": "*/5 * * * *", "start_date": datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
            "catchup": False, "max_active_runs": 1, "default_args": task_defaults(),
            "tags": ["lianban", "退休一件事"]}


def task_defaults() -> dict[str, Any]:
    """Airflow task defaults. Task retries cover a crashed worker; department outages are handled inside
    the ledger (retry with back-off, then dead letter), so a demo may set ``LIANBAN_TASK_RETRIES=0``."""
    return {"retries": int(os.environ.get("LIANBAN_TASK_RETRIES", "2")), "retry_delay": timedelta(minutes=1)}


def pushed_departments() -> list[str]:
    """Departments that receive pushed records, from the catalog (fixed: task count never grows with data)."""
    return load_catalog().pushed_departments()


def _connector(department: str) -> Any:
    from connectors import load_connector

    return load_connector(department, department_settings(department))


def _frontend(paths: Paths) -> Any:
    from connectors.hrss.frontend import FrontendDB

    return FrontendDB(paths.frontend_url)


def stage() -> dict[str, Any]:
    """Extract new approvals from the HRSS 前置库, validate, route, seal and write the outbox."""
    from lianban.pipeline.stage import stage as run

    paths = Paths.from_env()
    return run(_frontend(paths), paths.ledger_url, paths.keys_dir).as_dict()


def deliver(department: str) -> dict[str, Any]:
    """Deliver the department's due outbox rows in batches."""
    from lianban.pipeline.deliver import deliver as run

    settings, paths = department_settings(department), Paths.from_env()
    return run(_connector(department), paths.ledger_url, settings.batch_size, paths.keys_dir).as_dict()


def collect_hrss() -> dict[str, Any]:
    """Read HRSS's own items' statuses from its 前置库 status log."""
    from lianban.pipeline.feedback import collect_hrss as run

    paths = Paths.from_env()
    return run(_frontend(paths), paths.ledger_url).as_dict()


def poll(department: str) -> dict[str, Any]:
    """Poll a department for the status of its delivered, unfinished items."""
    from lianban.pipeline.feedback import poll_department

    return poll_department(_connector(department), Paths.from_env().ledger_url).as_dict()


def report() -> dict[str, Any]:
    """Push unreported status events to 皖事通办."""
    from lianban.pipeline.feedback import report as run

    return run(_connector("wanshi_tong"), Paths.from_env().ledger_url).as_dict()
