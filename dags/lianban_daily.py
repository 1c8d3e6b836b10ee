"""lianban_daily: each liaison's summary of its party at 08:30 Beijing time (联络员每日汇总), once a day, and the
last month's evidence archive (证据月度归档) on the first day of a month (and any month missed, the host down).

One task for every party (the task count never grows); a rerun sends nothing twice (the ledger keeps which
party had its summary of the day) and writes no archive twice (a whole month's already in ``<home>/archive``
is kept; one written before its month ended is set aside and the month written whole). XCom carries counts only.
"""

from __future__ import annotations

import airflow_connections  # noqa: F401  (dept_* and dept_sms through Airflow's connection lookup)
import lianban_defaults
from airflow.sdk import dag, task

from lianban.app import jobs
from lianban.app.redact import masked_errors


@dag(
    dag_id="lianban_daily",
    description="退休一件事：联络员每日汇总 (the liaisons' daily summary)",
    **{**lianban_defaults.dag_defaults(), "schedule": "30 8 * * *"},
)
def lianban_daily() -> None:
    task(task_id="daily_summary")(masked_errors(jobs.daily_summary))()
    task(task_id="archive_evidence")(masked_errors(jobs.archive_evidence))()


lianban_daily()
