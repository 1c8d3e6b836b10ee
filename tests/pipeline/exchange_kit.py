"""One round of the whole exchange, as the two DAGs run it, for pipeline tests against the real simulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import department_settings
from lianban.app.registry import load_department, load_sink
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import FeedbackResult, poll_department
from lianban.pipeline.report import report
from lianban.pipeline.rewards import request_payments
from lianban.pipeline.stage import stage
from lianban.pipeline.status_log import collect_hrss

PUSHED = ("medical", "health", "housing_fund")


def one_round(db: FrontendDB, office: Any, ledger_url: str, keys_dir: Path, batch: int = 100) -> FeedbackResult:
    """One round of the whole exchange as the two DAGs run it: HRSS works (and corrects what was held), stage,
    deliver, collect HRSS's log, poll every department, ask HRSS to pay item 13, report; the report's counts."""
    office.tick()
    stage(db, ledger_url, keys_dir)
    for name in PUSHED:
        deliver(load_department(name, department_settings(name), keys_dir), ledger_url, batch, keys_dir)
    collect_hrss(db, ledger_url, keys_dir)
    for name in PUSHED:
        poll_department(load_department(name, department_settings(name), keys_dir), ledger_url, keys_dir)
    request_payments(db, ledger_url, keys_dir)
    return report(load_sink(department_settings("wanshi_tong"), keys_dir), ledger_url, keys_dir)
