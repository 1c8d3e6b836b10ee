"""A small demo ledger for the dashboard's tests, with something in every section: synthetic applications staged
(a few held for correction), deliveries taken at known delays, one refused with an ID-number-shaped run in the
department's reason, one dead, one retrying; statuses reported, one illegal report; two connection checks (one
failing) and the incidents they open. No Airflow, no simulator: the ledger's own functions and rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.statuses import Status
from lianban.ledger import health
from lianban.ledger.db import session_factory
from lianban.ledger.incidents import observe, sweep
from lianban.ledger.models import CaseItem, Delivery, StatusEvent
from lianban.ledger.store import DeliveryState, record_status
from lianban.pipeline.stage import stage
from simulators.people import generate

#: a department's reason carrying a synthetic ID number: the page and the JSON must show it masked
REFUSAL = "E07: 证件号码 341622196501011232 与参保信息不符"
DELAYS = (4, 6, 9, 15, 30)  # minutes from sealing to the department taking it, in turn


def _outcomes(deliveries: list[Delivery]) -> None:
    *taken, refused, dead, retrying = deliveries
    for i, d in enumerate(taken):  # sealed over the last week
        d.created_at -= timedelta(days=i % 7)
        d.state, d.attempts, d.sent_at = DeliveryState.ACCEPTED, 1, d.created_at + timedelta(minutes=DELAYS[i % 5])
    refused.state, refused.attempts, refused.last_error = DeliveryState.REFUSED, 1, REFUSAL
    refused.sent_at = refused.created_at
    dead.state, dead.attempts, dead.last_error = DeliveryState.DEAD, 8, "连接超时（8 次）"
    retrying.state, retrying.attempts, retrying.last_error = DeliveryState.RETRY, 3, "HTTP 503"


def seed_demo(paths: Paths, count: int = 40) -> list[dict[str, Any]]:
    """Fill `paths`' ledger (module docstring); returns the applications as HRSS wrote them."""
    apps = list(generate(count, seed=8))
    FrontendDB(paths.frontend_url).insert_applications(apps)
    stage(FrontendDB(paths.frontend_url), paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url).begin() as s:
        _outcomes(list(s.scalars(select(Delivery).order_by(Delivery.id))))
        pushed = list(s.scalars(select(CaseItem).where(CaseItem.department != "hrss").order_by(CaseItem.id)))
        taken = [i for i in pushed if i.delivery is not None and i.delivery.state == DeliveryState.ACCEPTED]
        for item in taken:
            record_status(s, item, Status.ACCEPTED, item.department, code="01", reason=None,
                          changed_at="2026-11-20T09:00:00+08:00")
        first = taken[0]  # completed, then "accepted" again by its department: an illegal report
        record_status(s, first, Status.COMPLETED, first.department, code="09", reason=None,
                      changed_at="2026-11-25T09:00:00+08:00")
        record_status(s, first, Status.ACCEPTED, first.department, code="01", reason="重复受理，联系人 13912345678",
                      changed_at="2026-11-26T09:00:00+08:00")
        health.record(s, "medical", True, None, None)
        health.record(s, "housing_fund", False, "tls", "TLS 握手失败：对方证书已过期，请联系住房公积金管理中心更新证书")
    with session_factory(paths.ledger_url).begin() as s:
        for i, event in enumerate(s.scalars(select(StatusEvent).order_by(StatusEvent.id))):
            event.recorded_at -= timedelta(days=i % 5)  # recorded over the last days
        sweep(s, observe(s))
    return apps
