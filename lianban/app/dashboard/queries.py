"""What the dashboard reads from the ledger besides ``lianban status``'s counts: lists an operator acts on.

Every function takes an open session and returns plain dicts (JSON as they are), nothing personal: case
numbers (办件编号), item codes, departments, times and reasons, every free text with ID- and mobile-number-shaped
runs masked (:func:`lianban.domain.identity.redact_text`). Never a name, an ID number or a phone number.
Times are Beijing time to the minute. Lists are capped at :data:`LIMIT` rows (the counts say how many in all).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import load_catalog
from lianban.domain.identity import redact_text
from lianban.domain.incidents import KINDS
from lianban.domain.liaisons import HUB, SMS_GATEWAY, SMS_GATEWAY_NAME
from lianban.ledger import health
from lianban.ledger.models import Case, CaseItem, Delivery, IllegalTransition, Incident, Quarantine
from lianban.ledger.store import DEAD_STATES, QuarantineState
from lianban.ledger.time_limits import (
    BEIJING,
    beijing_date,
    beijing_today,
    handling_party,
    lateness,
    open_items_on_clocks,
)

__all__ = ["LIMIT", "backlog", "beijing_minute", "dead_letters", "deliveries_by_state", "department_health",
           "illegal_reports", "open_incidents", "overdue", "party_name", "quarantined"]

LIMIT = 50
NOT_IN_CATALOG = "（事项目录中已无此事项）"


def beijing_minute(moment: datetime | None) -> str | None:
    """A ledger time (naive UTC, or aware) as Beijing time to the minute."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def party_name(party: str) -> str:
    """A department's Chinese name (the hub itself: 联办枢纽; the SMS gateway: 短信网关)."""
    department = load_catalog().departments.get(party)
    return department.name if department else {HUB: "联办枢纽", SMS_GATEWAY: SMS_GATEWAY_NAME}.get(party, party)


def backlog(session: Session, today: date | None = None) -> list[dict[str, Any]]:
    """Per department: items not final yet, and the oldest of them (its case's 受理 day, days waited); a held
    case's items wait on the HRSS window, as `lianban status` counts them."""
    today = today or beijing_today()
    party = handling_party()
    rows = session.execute(select(party, func.count(), func.min(Case.approved_at))
                           .join(Case, Case.id == CaseItem.case_id).where(CaseItem.final.is_(False))
                           .group_by(party).order_by(party))
    return [{"department": d, "name": party_name(d), "open": int(n), "oldest_since": beijing_minute(oldest),
             "oldest_days": (today - beijing_date(oldest)).days} for d, n, oldest in rows]


def deliveries_by_state(session: Session) -> dict[str, int]:
    """Every delivery counted by its state (pending, retry, accepted, refused, dead)."""
    rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    return {str(state): int(n) for state, n in rows}


def quarantined(session: Session) -> list[dict[str, Any]]:
    """前置库 rows held now (open), oldest first, with their reasons; never the masked values."""
    rows = session.scalars(select(Quarantine).where(Quarantine.state == QuarantineState.OPEN)
                           .order_by(Quarantine.id).limit(LIMIT))
    return [{"id": q.id, "source_seq": q.source_seq, "case_no": q.case_no, "held_at": beijing_minute(q.created_at),
             "reasons": [_reason(r) for r in json.loads(q.reasons)]} for q in rows]


def _reason(reason: Any) -> str:
    if isinstance(reason, dict):
        return redact_text(f"{reason.get('message', '')}（{reason.get('code', '')}）")
    return redact_text(str(reason))


def dead_letters(session: Session) -> list[dict[str, Any]]:
    """Deliveries refused by their department or out of retries, oldest first, with the reason (masked)."""
    rows = session.execute(select(Delivery, CaseItem.item_code, Case.case_no)
                           .join(CaseItem, Delivery.case_item_id == CaseItem.id).join(Case, CaseItem.case_id == Case.id)
                           .where(Delivery.state.in_(DEAD_STATES)).order_by(Delivery.id).limit(LIMIT))
    return [{"department": d.department, "name": party_name(d.department), "case_no": case_no, "item_code": item,
             "state": d.state, "attempts": d.attempts, "reason": redact_text(d.last_error or "")}
            for d, item, case_no in rows]


def overdue(session: Session, today: date | None = None) -> list[dict[str, Any]]:
    """Items past their time limit (or their completing party's) or their 补正 deadline on `today`, most late
    first: the predicates the count of ``lianban status`` uses (:func:`lianban.ledger.time_limits.lateness`), over
    columns only; an item of a held case is listed under the HRSS window, as counted there (its department has
    received nothing)."""
    today = today or beijing_today()
    late = [_late(row, today) for row in session.execute(open_items_on_clocks())]
    return sorted(filter(None, late), key=lambda r: (-r["days_late"], r["case_no"], r["item_code"]))[:LIMIT]


def _late(row: Sequence[Any], today: date) -> dict[str, Any] | None:
    """One open item as the overdue list shows it, or None when it is not overdue."""
    late = lateness(row, today)
    if late is None:
        return None
    (code, status, case_no), (party, due) = (row[0], row[2], row[8]), late
    return {"case_no": case_no, "item_code": code, "item_name": item_name(code),
            "department": party, "name": party_name(party), "status": status or "未反馈",
            "due": due.isoformat(), "days_late": (today - due).days}


def item_name(code: str) -> str:
    """Item `code`'s name in the catalog, or a note that the catalog no longer has it."""
    item = load_catalog().items.get(code)
    return item.name if item is not None else NOT_IN_CATALOG


def illegal_reports(session: Session) -> list[dict[str, Any]]:
    """Status reports the status machine refused (kept, never applied), newest first."""
    rows = session.execute(select(IllegalTransition, CaseItem.item_code, Case.case_no)
                           .join(CaseItem, IllegalTransition.case_item_id == CaseItem.id)
                           .join(Case, CaseItem.case_id == Case.id)
                           .order_by(IllegalTransition.id.desc()).limit(LIMIT))
    return [{"source": t.source, "name": party_name(t.source), "case_no": case_no, "item_code": item,
             "from": t.from_status or "未反馈", "to": t.to_status, "reason": redact_text(t.reason or ""),
             "recorded_at": beijing_minute(t.recorded_at)} for t, item, case_no in rows]


def department_health(session: Session) -> list[dict[str, Any]]:
    """The last scheduled connection check of every party checked: reachable, or the step that failed and why."""
    return [{"party": party, "name": party_name(party), "ok": check.ok, "checked_at": beijing_minute(check.checked_at),
             "step": check.step, "reason": redact_text(check.reason or "")}
            for party, check in sorted(health.latest(session).items())]


def open_incidents(session: Session) -> list[dict[str, Any]]:
    """Incidents not cleared yet (联络员告警), oldest first, with what happened and what to do."""
    rows = session.scalars(select(Incident).where(Incident.state == "open").order_by(Incident.id))
    return [{"incident": f"INC-{i.id:06d}", "kind": i.kind, "what": KINDS[i.kind].what, "todo": KINDS[i.kind].todo,
             "party": i.party, "name": party_name(i.party), "count": i.count, "opened_at": beijing_minute(i.opened_at),
             "told": i.notified_at is not None} for i in rows]
