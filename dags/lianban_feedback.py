"""lianban_feedback: collect every item's status and report it to 皖事通办 (一体反馈).

First the 补正 submissions recorded at the HRSS window are taken into the ledger; then, per department and in
that department's pool, they are forwarded to it and its items are polled, each its own task (a slow or silent
department holds up only its own); HRSS's own items come from its 前置库 status log meanwhile; then HRSS
is asked to pay the rewards health approved (item 13: HRSS's confirmation, read from its log next run,
completes the item); then every new status event is pushed, in order, to the 皖事通办
Bozhou sub-platform — whatever became of the collection tasks (trigger rule all_done), so one failing
department stops nobody else's report. XCom carries counts only.
"""

from __future__ import annotations

import airflow_connections  # noqa: F401  (dept_* through Airflow's connection lookup)
import lianban_defaults
from airflow.sdk import dag, task

from lianban.app import jobs
from lianban.app.redact import masked_errors


@dag(
    dag_id="lianban_feedback",
    description="退休一件事：归集办理状态并推送皖事通办 (collect and report)",
    **lianban_defaults.dag_defaults(),
)
def lianban_feedback() -> None:
    taken = task(task_id="take_supplements")(masked_errors(jobs.take_supplements))()
    collected = [task(task_id="collect_hrss", trigger_rule="all_done")(masked_errors(jobs.collect_hrss))()]
    for department in jobs.pushed_departments():
        pool = lianban_defaults.department_pool(department)
        forwarded = task(task_id=f"forward_{department}", trigger_rule="all_done", pool=pool)(
            masked_errors(jobs.forward_supplements))(department)
        polled = task(task_id=f"poll_{department}", trigger_rule="all_done", pool=pool)(
            masked_errors(jobs.poll))(department)
        taken >> forwarded >> polled
        collected.append(polled)
    taken >> collected[0]
    # all_done: one department down (or with a wrong password) never stops the rest or the report
    payments = task(task_id="request_payments", trigger_rule="all_done")(masked_errors(jobs.request_payments))()
    report = task(task_id="report_to_wanshi_tong", trigger_rule="all_done")(masked_errors(jobs.report))
    collected >> payments >> report()


lianban_feedback()
