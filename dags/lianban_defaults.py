"""What both DAGs share: Airflow-only knowledge (schedule, retries, tags) kept beside the DAG files."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def dag_defaults() -> dict[str, Any]:
    """What both DAGs share: every five minutes, one run at a time, no catch-up, Beijing time."""
    return {"schedule": "*/5 * * * *", "start_date": datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
            "catchup": False, "max_active_runs": 1, "default_args": task_defaults(),
            "tags": ["lianban", "退休一件事"]}


def task_defaults() -> dict[str, Any]:
    """Airflow task defaults. Task retries cover a crashed worker; department outages are handled inside
    the ledger (retry with back-off, then dead letter), so a demo may set ``LIANBAN_TASK_RETRIES=0``."""
    return {"retries": int(os.environ.get("LIANBAN_TASK_RETRIES", "2")), "retry_delay": timedelta(minutes=1)}
