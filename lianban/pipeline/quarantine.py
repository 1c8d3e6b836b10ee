"""Quarantine (隔离区): records that failed validation are held with their reasons, never delivered, never
dropped; the operator sees them masked, and a record fixed at the source is released when it is staged.

Held rows keep only masked values: personal fields (:data:`lianban.domain.record.PERSONAL_FIELDS`) by their
masks, and ID- or mobile-number-shaped runs in any other text too; the ledger never holds a plaintext name,
ID number or phone.

Reasons are stored as a JSON list of ``{"code", "message"}`` (codes from :mod:`lianban.domain.rules` and
:mod:`lianban.domain.intake`); rows written before codes existed hold plain strings and are listed with the
code ``LEGACY``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lianban.domain.identity import mask_id, mask_name, mask_phone, redact_text
from lianban.domain.record import PERSONAL_FIELDS
from lianban.ledger.db import session_factory
from lianban.ledger.models import Quarantine
from lianban.ledger.store import QuarantineState, utcnow

#: how each personal field is shown to an operator
MASKS: dict[str, Callable[[str], str]] = {"name": mask_name, "id_number": mask_id, "phone": mask_phone}
assert set(MASKS) == PERSONAL_FIELDS, "every personal field needs a mask"
SHOWN_MAX = 200  # characters of any one value an operator is shown
LEGACY = "LEGACY"  # the code of a reason stored as plain text, before reasons had codes


def _shown(key: str, value: Any) -> str:
    """One value as an operator may see it: a personal field masked, any other text with every ID- or
    mobile-number-shaped run masked (a phone typed into the employer name), at most SHOWN_MAX characters."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)[:SHOWN_MAX]
    return MASKS[key](text) if key in MASKS else redact_text(text)


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """A record's (or an unreadable row's) values as an operator may see them."""
    shown: dict[str, Any] = {key: _shown(key, values.get(key))
                             for key in ("case_no", *sorted(PERSONAL_FIELDS), "employer_name")}
    items = values.get("items")
    shown["items"] = list(items) if isinstance(items, tuple | list) else _shown("items", items).split(",")
    return shown


def coded(reason: Any) -> dict[str, str]:
    """One stored reason as ``{"code", "message"}`` (a plain string is a ``LEGACY`` reason), every ID- or
    mobile-number-shaped run in its message masked."""
    if isinstance(reason, Mapping):
        return {"code": str(reason.get("code") or LEGACY), "message": redact_text(str(reason.get("message", "")))}
    return {"code": LEGACY, "message": redact_text(str(reason))}


def hold(session: Session, seq: int, case_no: str, reasons: Sequence[Mapping[str, str]],
         values: Mapping[str, Any]) -> None:
    """Hold 前置库 row `seq` with its reasons (each ``{"code", "message"}``), once: a re-read after a crash (or
    of a row fixed at the source but still wrong) updates the open hold with the latest reasons."""
    known = select(Quarantine).where(Quarantine.source_seq == seq, Quarantine.state == QuarantineState.OPEN)
    text = json.dumps([coded(r) for r in reasons], ensure_ascii=False)
    shown = json.dumps(masked(values), ensure_ascii=False)
    existing = session.scalars(known).first()
    if existing is not None:
        existing.case_no, existing.reasons, existing.masked = case_no, text, shown
        return
    session.add(Quarantine(source_seq=seq, case_no=case_no, state=QuarantineState.OPEN, reasons=text, masked=shown,
                           created_at=utcnow()))


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
    reasons: list[dict[str, str]]  # each {"code", "message"}
    record: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_held(ledger_url: str) -> list[Held]:
    """Every quarantine row, oldest first (open and released)."""
    with session_factory(ledger_url)() as session:
        return [Held(q.source_seq, q.case_no, q.state, [coded(r) for r in json.loads(q.reasons)],
                     json.loads(q.masked))
                for q in session.scalars(select(Quarantine).order_by(Quarantine.id))]
