"""A receipt carrying a department's decision: a duplicate answered with the item's status of now (the first
answer was lost), or a department that decides at once. A receipt has no place for a result (办理结果), so the
decision's result comes with the poll; it must not be lost to the receipt's word."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from connectors.health.connector import HealthConnector
from lianban.app.config import Paths
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import poll_department
from lianban.pipeline.rewards import request_payments
from lianban.pipeline.stage import stage
from lianban.wire.contract import DepartmentConnector, NoProofs, PaymentOrder, Peer


class Health(BaseAdapter):
    """Health's gateway: every delivery answered a duplicate already at 审核通过 (SHTG); every poll answers each
    key at 审核通过 with the reward amount, at health's own time."""

    def __init__(self) -> None:
        super().__init__()
        self.decided_at = datetime.now(UTC).isoformat()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        asked = json.loads(request.body or b"{}")
        if "items" in asked:
            body: dict[str, Any] = {"batch_id": asked["batch_id"], "receipts": [
                {"idempotency_key": i["idempotency_key"], "accepted": True, "duplicate": True, "ref": "WJW-1",
                 "code": "SHTG", "reason": None} for i in asked["items"]]}
        else:
            rows = [{"idempotency_key": k, "code": "SHTG", "reason": None, "changed_at": self.decided_at,
                     "result": {"amount": "3000.00"}} for k in asked["keys"]]
            body = {"statuses": rows, "page": 1, "page_size": 500, "total": len(rows)}
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = 200, json.dumps(body).encode(), "", request
        return resp

    def close(self) -> None:
        pass


class _Desk:
    def __init__(self) -> None:
        self.orders: list[PaymentOrder] = []

    def request_payments(self, requests: Sequence[PaymentOrder]) -> None:
        self.orders += requests


def test_a_decision_on_a_receipt_does_not_keep_its_result_from_the_poll(paths: Paths, seeded: Any) -> None:
    """Health's 审核通过 came first on a receipt (no amount), then with the amount on the poll: the poll's was taken
    for a repeat and dropped, so the reward was never asked of HRSS (alerted 未附金额 every run, for ever)."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    session = requests.Session()
    session.mount("http://", Health())
    peer = Peer(cast(DepartmentConnector, HealthConnector("http://gateway.invalid", session)), NoProofs())
    assert deliver(peer, paths.ledger_url, 100, paths.keys_dir).accepted > 0
    poll_department(peer, paths.ledger_url, paths.keys_dir)
    desk = _Desk()
    request_payments(desk, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as s:
        approved = s.scalars(select(CaseItem.id).join(Delivery, Delivery.case_item_id == CaseItem.id)
                             .where(Delivery.department == "health", CaseItem.status == "审核通过")).all()
    assert approved and len(desk.orders) == len(approved)
    assert {o.amount for o in desk.orders} == {"3000.00"}
