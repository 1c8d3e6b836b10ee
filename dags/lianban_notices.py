"""lianban_notices: 双告知 by SMS, daily at 10:00 Beijing time (inside sending hours, 08:00–21:00).

到龄提醒 planned from HRSS's register (everyone reaching statutory age within ``LIANBAN_REMINDER_MONTHS``, default
3), 待遇告知 planned from the pensions HRSS approved, then every due notice sent (quiet hours held until 08:00),
then the gateway's delivery receipts collected. Four tasks whatever the register's size; XCom carries counts
only. Each step runs whatever became of the one before (trigger rule all_done): a register HRSS cannot serve
today never holds back the pension notices, nor sending what was planned before. A rerun sends nothing twice
(the notice ledger, lianban.pipeline.sms_notices).
"""

from __future__ import annotations

import airflow_connections  # noqa: F401  (dept_sms through Airflow's connection lookup)
import lianban_defaults
from airflow.sdk import dag, task

from lianban.app import jobs
from lianban.app.redact import masked_errors


@dag(
    dag_id="lianban_notices",
    description="退休一件事：双告知短信（到龄提醒、待遇告知）(retirement reminders and pension notices by SMS)",
    **{**lianban_defaults.dag_defaults(), "schedule": "0 10 * * *"},
)
def lianban_notices() -> None:
    reminders = task(task_id="plan_reminders")(masked_errors(jobs.plan_reminders))()
    pensions = task(task_id="plan_pension_notices", trigger_rule="all_done")(masked_errors(jobs.plan_pension_notices))()
    sent = task(task_id="send_due", trigger_rule="all_done")(masked_errors(jobs.send_notices))()
    receipts = task(task_id="collect_receipts", trigger_rule="all_done")(masked_errors(jobs.collect_notice_receipts))()
    reminders >> pensions >> sent >> receipts


lianban_notices()
