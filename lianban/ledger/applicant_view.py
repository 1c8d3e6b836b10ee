"""One case as the applicant sees it (一体反馈): every chosen item, where it stands, and nothing else.

Shape (``as_dict``), the body of ``POST /api/v1/progress`` (``schemas/hub/openapi.json``)::

    {"case_no", "status", "items": [{"item_code", "item_name", "department", "status", "changed_at", "reason",
                                     "materials", "supplement_due", "due_date", "result"}]}

``department`` is the responsible department's Chinese name; ``status`` None until it reports;
``changed_at`` the department's time of the last change, in Beijing time with its offset (a time
without one is the department's Beijing time); ``reason`` redacted
(:func:`lianban.domain.identity.redact_text`); ``materials`` the Chinese names of the materials asked for
while the item is at 补正资料, with ``supplement_due`` the applicant's 补正 deadline; ``due_date`` the item's
committed date (:mod:`lianban.ledger.time_limits`); ``result`` the sentence of its latest 办理结果
(:func:`lianban.ledger.results.result_summary`, e.g. the housing fund amount transferred).

No name, ID number or phone: the ledger holds none of them in the clear (so not even a masked name).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.domain.catalog import load_catalog
from lianban.domain.clock import in_beijing
from lianban.domain.identity import redact_text
from lianban.domain.statuses import Status
from lianban.domain.supplements import material_names
from lianban.errors import LianbanError
from lianban.keys.rings import KeyRing
from lianban.ledger.cases import case_status, due_date
from lianban.ledger.models import Case, CaseItem, StatusEvent
from lianban.ledger.results import result_summary

alerts = logging.getLogger("lianban.alerts")


@dataclass(frozen=True)
class ItemProgress:
    """One chosen item as the applicant reads it."""

    item_code: str
    item_name: str
    department: str  # Chinese name
    status: str | None
    changed_at: str | None
    reason: str | None
    materials: list[str]
    supplement_due: str | None
    due_date: str | None
    result: str | None


@dataclass(frozen=True)
class CaseProgress:
    case_no: str
    status: str
    items: list[ItemProgress]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _results(session: Session, vault: KeyRing, case: Case) -> dict[int, str]:
    """Each item's latest result sentence (an envelope that cannot be opened is alerted, not shown)."""
    codes = {i.id: i.item_code for i in case.items}
    events = session.scalars(select(StatusEvent).where(StatusEvent.case_item_id.in_(codes),
                                                       StatusEvent.result.is_not(None)).order_by(StatusEvent.id))
    sentences: dict[int, str] = {}
    for e in events:
        try:
            sentences[e.case_item_id] = result_summary(vault, case.case_no, codes[e.case_item_id], e.result) or ""
        except (LianbanError, KeyError, ValueError) as exc:
            alerts.error("告警 ALERT: 办件 %s 的办理结果无法打开 (%s)", case.case_no, type(exc).__name__)
    return sentences


def _materials(item: CaseItem) -> list[str]:
    if item.status != Status.SUPPLEMENT.value or not item.materials:
        return []
    return list(material_names(json.loads(item.materials)))


def _beijing(moment: str | None) -> str | None:
    """A reported time as ISO 8601 in Beijing time (``+08:00``); as kept when it does not read as one."""
    return in_beijing(moment) if moment else moment


def _item(item: CaseItem, result: str | None) -> ItemProgress:
    catalog = load_catalog()
    entry, department = catalog.items.get(item.item_code), catalog.departments.get(item.department)
    at_supplement = item.status == Status.SUPPLEMENT.value and item.supplement_due is not None
    return ItemProgress(
        item.item_code, entry.name if entry else item.item_code, department.name if department else item.department,
        item.status, _beijing(item.status_at), redact_text(item.reason) if item.reason else None, _materials(item),
        item.supplement_due.isoformat() if at_supplement and item.supplement_due else None,
        due_date(item), result or None)


def case_progress(session: Session, vault: KeyRing, case: Case) -> CaseProgress:
    """`case` with every chosen item, in item-code order."""
    items = sorted(case.items, key=lambda i: i.item_code)
    results = _results(session, vault, case)
    return CaseProgress(case.case_no, case_status(items), [_item(i, results.get(i.id)) for i in items])
