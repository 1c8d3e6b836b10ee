"""What both DAGs share: Airflow-only knowledge (schedule, retries, tags) kept beside the DAG files."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def dag_defaults() -> dict[str, Any]:
    """What the DAGs share: every five minutes, one run at a time (a run that overruns delays the next, never
    doubles it: the ledger makes each run's work idempotent anyway), no catch-up (a missed run is not owed:
    the next one takes everything due), Beijing time."""
    return {"schedule": "*/5 * * * *", "start_date": datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
            "catchup": False, "max_active_runs": 1, "default_args": task_defaults(),
            "tags": ["lianban", "退休一件事"]}


def task_defaults() -> dict[str, Any]:
    """Airflow task defaults. Task retries cover a crashed worker; department outages are handled inside
    the ledger (retry with back-off, then dead letter), so a demo may set ``LIANBAN_TASK_RETRIES=0``
    (``LIANBAN_TASK_RETRY_SECONDS``, default 60: `lianban up --executor celery` retries a dead worker's task
    sooner). A task that fails for good is kept in the ledger for the duty desk's alert (lianban_operations
    tells it)."""
    return {"retries": _count("LIANBAN_TASK_RETRIES", 2, 0),
            "retry_delay": timedelta(seconds=_count("LIANBAN_TASK_RETRY_SECONDS", 60, 1)),
            "execution_timeout": timedelta(minutes=_count("LIANBAN_TASK_TIMEOUT_MINUTES", 30, 1)),
            "on_failure_callback": record_failure}


def _count(name: str, default: int, least: int) -> int:
    """Environment variable `name` as a whole number of at least `least`; a ValueError naming it otherwise, which
    Airflow shows as every DAG's import error (``int()``'s own said only "invalid literal", naming nothing)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if value < least:
        raise ValueError(f"{name} 应为不小于 {least} 的整数，收到 {raw[:20]!r}：请在 departments.env 或 .env 中改正 "
                         f"(must be a whole number of at least {least})")
    return value


def department_pool(department: str) -> str:
    """The Airflow pool of a department's tasks: a slow or stuck department holds only its own slots (create
    them with ``airflow pools set lianban_<department> 2 …``; `lianban demo` and docker's airflow-init do)."""
    return f"lianban_{department}"


def record_failure(context: Any) -> None:
    """on_failure_callback: the failed task's ids in the ledger (never its exception: it may carry anything)."""
    from lianban.app import jobs

    instance = context.get("ti") or context.get("task_instance")
    if instance is None:
        return
    try:
        jobs.record_task_failure(instance.dag_id, instance.task_id, str(context.get("run_id", instance.run_id)))
    except Exception:  # a callback that fails must not hide the task's own failure
        logging.getLogger("lianban.alerts").exception("告警 ALERT: 无法记录失败的任务 %s.%s",
                                                      instance.dag_id, instance.task_id)
