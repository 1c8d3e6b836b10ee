"""Item 13's reward loop: health's eligibility decision → a payment request to HRSS → HRSS's confirmation.

The seed: 卫健委 checks eligibility and feeds the eligible list back; 人社 pays the reward (funded by 财政). So::

    health   审核通过 with the reward amount (a result)   or 审核不通过 with a reason (final)
    hub      for every item at 审核通过 that HRSS completes for another department (``completed_by: hrss``), one
             payment request with the amount, written to HRSS's 前置库 (:class:`PaymentDesk`) and recorded
             in the ledger, never twice
    HRSS     pays and logs 已办结 with the amount and date in its status log; the hub reads it like any
             HRSS status (lianban.pipeline.status_log) and the item completes. Health's own 已办结 is
             refused by the ledger (lianban.ledger.store).

The request is written before the ledger records it: a crash in between only writes the same 请求号 again,
which the desk recognises. An approved item without a readable amount (none sent, or a sealed one that cannot
be opened) is not paid: alerted, tried next run; the others are asked for all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.domain.catalog import load_catalog, window
from lianban.domain.statuses import Status
from lianban.errors import RejectedError
from lianban.keys.names import VAULT
from lianban.keys.rings import KeyRing, load_ring
from lianban.ledger.db import insert_unless_there, session_factory
from lianban.ledger.models import Case, CaseItem, PaymentRequest, StatusEvent
from lianban.ledger.results import open_result
from lianban.ledger.store import utcnow
from lianban.pipeline.feedback import FeedbackResult
from lianban.wire.contract import PaymentOrder
from lianban.wire.ids import idempotency_key

alerts = logging.getLogger("lianban.alerts")


class PaymentDesk(Protocol):
    """Where payment requests go (HRSS's 前置库); writing a 请求号 already there changes nothing."""

    def request_payments(self, requests: Sequence[PaymentOrder]) -> None: ...


def _due(session: Session) -> list[tuple[CaseItem, str]]:
    """Approved items HRSS completes by paying (another party decided), not yet requested: (item, 办件编号)."""
    paid_by_other = [i.code for i in load_catalog().items.values() if i.completer == window() != i.department]
    requested = select(PaymentRequest.case_item_id)
    query = (select(CaseItem, Case.case_no).join(Case)
             .where(CaseItem.item_code.in_(paid_by_other), CaseItem.status == Status.APPROVED.value,
                    CaseItem.id.not_in(requested)).order_by(CaseItem.id))
    return [(item, case_no) for item, case_no in session.execute(query).all()]


def _amount(session: Session, vault: KeyRing, item: CaseItem, case_no: str) -> str | None:
    sealed = session.scalars(select(StatusEvent.result).where(
        StatusEvent.case_item_id == item.id, StatusEvent.status == Status.APPROVED.value,
        StatusEvent.result.is_not(None)).order_by(StatusEvent.id.desc())).first()
    if sealed is None:
        return None
    return open_result(vault, case_no, item.item_code, sealed)[1].get("amount")


def _order(item: CaseItem, case_no: str, amount: str) -> PaymentOrder:
    request_no = "JL" + idempotency_key(case_no, item.item_code, window())[:40]
    return PaymentOrder(request_no, case_no, item.item_code, amount)


def _orders(session: Session, vault: KeyRing, result: FeedbackResult) -> list[tuple[int, PaymentOrder]]:
    """(case item id, order) for every reward due; one without a readable amount is alerted and left."""
    orders = []
    for item, case_no in _due(session):
        result.read += 1
        try:
            amount = _amount(session, vault, item, case_no)
        except (RejectedError, ValueError, KeyError):
            result.skipped += 1
            alerts.error("告警 ALERT: 办件 %s 的一次性奖励金额无法解密，暂不发放；请核对金库密钥", case_no)
            continue
        if amount is None:
            result.skipped += 1
            decided = load_catalog().item(item.item_code).department
            alerts.error("告警 ALERT: 办件 %s 的事项 %s 已审核通过但未附金额，暂不发放；请与%s联络员核对", case_no,
                         item.item_code, load_catalog().departments[decided].name)
            continue
        orders.append((item.id, _order(item, case_no, amount)))
    return orders


def request_payments(desk: PaymentDesk, ledger_url: str, keys_dir: Path) -> FeedbackResult:
    """Ask HRSS to pay every approved reward not yet asked for (module docstring); counts only."""
    sessions, vault, result = session_factory(ledger_url), load_ring(keys_dir, VAULT), FeedbackResult(window())
    with sessions() as session:
        orders = _orders(session, vault, result)
    if orders:
        desk.request_payments([order for _, order in orders])  # outside any ledger transaction
        with sessions.begin() as session:
            result.changed = _record(session, orders)
    return result


def _record(session: Session, orders: list[tuple[int, PaymentOrder]]) -> int:
    """Keep the requests asked for, each item once: one another run (``lianban run`` by hand while the DAG runs)
    recorded meanwhile is left as it is, not a unique-key error. The number recorded here."""
    now = utcnow()
    return sum(insert_unless_there(session, PaymentRequest, {"case_item_id": item_id, "request_no": order.request_no,
                                                             "requested_at": now}) for item_id, order in orders)
