"""lianban_exchange: HRSS 前置库 → extract → validate → route → minimise → seal → ledger → deliver.

One task stages every new approval (batches, not records); one task per receiving department delivers
its outbox. XCom carries counts only. The task count is fixed by the item catalog, never by the data.
"""

from __future__ import annotations

import airflow_connections  # noqa: F401  (dept_* through Airflow's connection lookup)
import lianban_defaults
from airflow.sdk import dag, task

from lianban.app import jobs
from lianban.app.redact import masked_errors


@dag(
    dag_id="lianban_exchange",
    description="退休一件事：抽取、校验、分发、加密、投递 (pull and deliver)",
    **lianban_defaults.dag_defaults(),
)
def lianban_exchange() -> None:
    staged = task(task_id="extract_validate_stage")(masked_errors(jobs.stage))()
    for department in jobs.pushed_departments():
        pool = lianban_defaults.department_pool(department)
        staged >> task(task_id=f"deliver_{department}", pool=pool)(masked_errors(jobs.deliver))(department)


lianban_exchange()
