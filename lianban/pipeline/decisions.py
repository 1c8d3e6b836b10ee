"""An operator's decisions on the quarantine (``lianban quarantine release|reject``), each in one transaction
with its evidence entry.

release  the held row goes as it is: recorded (who, when, why) and matched by fingerprint when the row is staged
         next (:func:`lianban.pipeline.quarantine.overridden`); the caller's `flag` marks the 前置库 row for
         taking again within the same transaction, so a 前置库 that fails leaves no release behind that nothing
         would ever take (the operator just runs the command again)
reject   the application is refused: recorded, and every open item of its held case told 不予受理 with the
         note (:func:`lianban.pipeline.notices.refuse`), which goes to 皖事通办 with the next report; a row of a
         case staged already (one that differs from it) is closed alone, the case going on as staged
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lianban.ledger.db import session_factory
from lianban.ledger.evidence import EvidenceLog
from lianban.ledger.models import Case
from lianban.ledger.store import QuarantineState
from lianban.pipeline import notices, quarantine

__all__ = ["Decided", "reject", "release"]


@dataclass(frozen=True)
class Decided:
    """What an operator decided, for the command's answer."""

    id: int
    source_seq: int
    case_no: str
    state: str
    items_told: int = 0  # items told 不予受理 (reject)
    case_staged: bool = False  # its 办件编号 is a case staged (not held): a rejected row leaves it as it is

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decide(ledger_url: str, keys_dir: Path, quarantine_id: int, state: QuarantineState, note: str,
            operator: str, flag: Callable[[int], None] | None = None) -> Decided:
    log = EvidenceLog.load(keys_dir)
    with session_factory(ledger_url).begin() as session:
        q = quarantine.decide(session, quarantine_id, state, note, operator)
        told = notices.refuse(session, q.case_no, q.decision_note or note) if state is QuarantineState.REJECTED else 0
        quarantine.log_decision(session, log, q)
        if flag is not None:  # last before the commit: a stage run can take the row unreleased only meanwhile
            flag(q.source_seq)  # raises: the transaction, its evidence entry included, is rolled back
        staged = session.scalar(select(Case.id).where(Case.case_no == q.case_no, Case.held.is_(False)))
        return Decided(q.id, q.source_seq, q.case_no, q.state, told, staged is not None)


def release(ledger_url: str, keys_dir: Path, quarantine_id: int, note: str, operator: str,
            flag: Callable[[int], None] | None = None) -> Decided:
    """Let the held row go as it is (its next staging takes it despite its reasons); `flag(source_seq)` marks its
    前置库 row for taking again before the decision is committed."""
    return _decide(ledger_url, keys_dir, quarantine_id, QuarantineState.OVERRIDDEN, note, operator, flag)


def reject(ledger_url: str, keys_dir: Path, quarantine_id: int, note: str, operator: str) -> Decided:
    """Refuse the application; the applicant is told 不予受理 with the note."""
    return _decide(ledger_url, keys_dir, quarantine_id, QuarantineState.REJECTED, note, operator)
