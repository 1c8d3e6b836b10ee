"""Quarantine (隔离区): records that failed validation are held with their reasons, never delivered, never
dropped; the operator sees them masked, and a record fixed at the source is released when it is staged.

Held rows keep only masked personal fields (:data:`lianban.domain.record.PERSONAL_FIELDS`): the ledger never
holds a plaintext name, ID number or phone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lianban.domain.identity import mask_id, mask_name, mask_phone
from lianban.domain.record import PERSONAL_FIELDS, RetirementRecord
from lianban.ledger.db import session_factory
from lianban.ledger.models import Quarantine
from lianban.ledger.store import QuarantineState, utcnow

#: how each personal field is shown to an operator
MASKS: dict[str, Callable[[str], str]] = {"name": mask_name, "id_number": mask_id, "phone": mask_phone}
assert set(MASKS) == PERSONAL_FIELDS, "every personal field needs a mask"


def masked(record: RetirementRecord) -> dict[str, Any]:
    """The record as an operator may see it: personal fields masked, the rest as it came."""
    values = record.fields()
    shown = {f: MASKS[f](str(values[f] or "")) for f in sorted(PERSONAL_FIELDS)}
    return {"case_no": record.case_no, **shown, "employer_name": record.employer_name, "items": list(record.items)}


def hold(session: Session, record: RetirementRecord, reasons: list[str]) -> None:
    """Keep the record's reasons once: a re-read after a crash does not quarantine it twice."""
    known = select(Quarantine).where(Quarantine.source_seq == record.source_seq,
                                     Quarantine.case_no == record.case_no, Quarantine.state == QuarantineState.OPEN)
    text, shown = json.dumps(reasons, ensure_ascii=False), json.dumps(masked(record), ensure_ascii=False)
    existing = session.scalars(known).first()
    if existing is not None:  # read again (a crash, or fixed at the source but still wrong): latest reasons
        existing.reasons, existing.masked = text, shown
        return
    session.add(Quarantine(source_seq=record.source_seq, case_no=record.case_no, state=QuarantineState.OPEN,
                           reasons=text, masked=shown, created_at=utcnow()))


def release(session: Session, case_no: str) -> None:
    """The case was fixed at the source and staged: its open quarantine rows are released."""
    session.execute(update(Quarantine).where(Quarantine.case_no == case_no, Quarantine.state == QuarantineState.OPEN)
                    .values(state=QuarantineState.RELEASED))


@dataclass(frozen=True)
class Held:
    """One quarantine row as an operator sees it (masked)."""

    source_seq: int
    case_no: str
    state: str
    reasons: list[str]
    record: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_held(ledger_url: str) -> list[Held]:
    """Every quarantine row, oldest first (open and released)."""
    with session_factory(ledger_url)() as session:
        return [Held(q.source_seq, q.case_no, q.state, json.loads(q.reasons), json.loads(q.masked))
                for q in session.scalars(select(Quarantine).order_by(Quarantine.id))]
