"""lianban_operations: the connection checks on a schedule, then the liaison alerts (运维).

Every party's connection is checked step by step (``lianban connectors check``, one task for all: the task
count never grows; the SMS gateway's when dept_sms is configured, skipped and logged when not), each result
kept with its time in the ledger; then the alerts check tells each liaison of every incident opened or cleared
since the last one (a failed check among them) — whatever became of the checks (trigger rule all_done). XCom
carries counts and party names only.
"""

from __future__ import annotations

import airflow_connections  # noqa: F401  (dept_* through Airflow's connection lookup)
import lianban_defaults
from airflow.sdk import dag, task

from lianban.app import jobs
from lianban.app.redact import masked_errors


@dag(
    dag_id="lianban_operations",
    description="退休一件事：定时连接检查与联络员告警 (health checks and liaison alerts)",
    **{**lianban_defaults.dag_defaults(), "schedule": "*/15 * * * *"},
)
def lianban_operations() -> None:
    checked = task(task_id="health_checks")(masked_errors(jobs.health_checks))()
    checked >> task(task_id="alert_liaisons", trigger_rule="all_done")(masked_errors(jobs.alerts_check))()


lianban_operations()
