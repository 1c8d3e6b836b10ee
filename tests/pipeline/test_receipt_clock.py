"""A receipt's status is stamped with the hub's time of sending (lianban.pipeline.deliver._apply_receipt); the
department's own reports with its own clock. A department whose clock is behind the hub's reports its next status
at a time before that stamp: it is no late echo (the item was only at the receipt's status since), and is taken."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, cast

import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from connectors.health.connector import HealthConnector
from connectors.health.statuses import CODES
from lianban.app.config import Paths
from lianban.domain.clock import BEIJING
from lianban.domain.statuses import Status
from lianban.ledger.db import session_factory
from lianban.ledger.models import CaseItem, Delivery
from lianban.pipeline.deliver import deliver
from lianban.pipeline.feedback import poll_department
from lianban.pipeline.stage import stage
from lianban.wire.contract import DepartmentConnector, NoProofs, Peer


class Behind(BaseAdapter):
    """Health's gateway with its clock two minutes behind the hub's: each delivery answered 受理 (a receipt carries
    no time), each poll 审核中 a minute after it received the item, by its own clock (Beijing time, no offset)."""

    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status
        self.received: datetime | None = None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        asked = json.loads(request.body or b"{}")
        if "items" in asked:
            self.received = datetime.now(BEIJING).replace(tzinfo=None) - timedelta(minutes=2)
            body: dict[str, Any] = {"batch_id": asked["batch_id"], "receipts": [
                {"idempotency_key": i["idempotency_key"], "accepted": True, "duplicate": False, "ref": "WJW-1",
                 "code": CODES[Status.ACCEPTED], "reason": None} for i in asked["items"]]}
        else:
            assert self.received is not None
            at = (self.received + timedelta(minutes=1)).isoformat()
            rows = [{"idempotency_key": k, "code": CODES[self.status], "reason": None, "changed_at": at}
                    for k in asked["keys"]]
            body = {"statuses": rows, "page": 1, "page_size": 500, "total": len(rows)}
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = 200, json.dumps(body).encode(), "", request
        return resp

    def close(self) -> None:
        pass


def _statuses(paths: Paths) -> list[str | None]:
    with session_factory(paths.ledger_url)() as s:
        return list(s.scalars(select(CaseItem.status).join(Delivery, Delivery.case_item_id == CaseItem.id)
                              .where(Delivery.department == "health")))


def _peer(adapter: BaseAdapter) -> Peer[DepartmentConnector]:
    session = requests.Session()
    session.mount("http://", adapter)
    return Peer(cast(DepartmentConnector, HealthConnector("http://gateway.invalid", session)), NoProofs())


def test_a_department_behind_the_hubs_clock_moves_its_items_on_from_the_receipts_status(
        paths: Paths, seeded: Any) -> None:
    """Its 审核中 was judged older than the receipt's 受理 and dropped, at every poll: the item stood at 受理."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    peer = _peer(Behind(Status.UNDER_REVIEW))
    assert deliver(peer, paths.ledger_url, 100, paths.keys_dir).accepted > 0
    assert set(_statuses(paths)) == {Status.ACCEPTED.value}
    assert poll_department(peer, paths.ledger_url, paths.keys_dir).changed > 0
    assert set(_statuses(paths)) == {Status.UNDER_REVIEW.value}


def test_an_illegal_move_behind_the_receipt_stays_unapplied(paths: Paths, seeded: Any) -> None:
    """Only a move the status machine allows is taken before the receipt's stamp: 已办结 is health's to say of no
    item, whatever its time."""
    stage(seeded[0], paths.ledger_url, paths.keys_dir)
    peer = _peer(Behind(Status.COMPLETED))
    assert deliver(peer, paths.ledger_url, 100, paths.keys_dir).accepted > 0
    assert poll_department(peer, paths.ledger_url, paths.keys_dir).changed == 0
    assert set(_statuses(paths)) == {Status.ACCEPTED.value}
