"""待遇告知: plan one SMS per approved pension (养老待遇核定), once.

HRSS writes each approved pension to the 前置库 (``T_LB_DYHD``) with 同步标志 ``0``. Each run takes the new rows
in pages, plans each one's notice through :func:`lianban.pipeline.sms_notices.plan` (person by blind index, kind
``pension_notice``, period the start month) and commits the ledger, then flags the rows ``1`` (taken) or ``9``
(unreadable: no amount, start month or pay day that can be read; counted, never logged). A crash between the
commit and the flag reads the rows again and plans nothing new: one SMS per pensioner per award.

An award read again whose notice has not gone (no valid number, 空号, still to go, or every send failed at its
number: 关机, 停机, :data:`~lianban.pipeline.sms_notices.EXHAUSTED`) while the row now holds
another valid number — HRSS corrected it and set 同步标志 back to ``0`` — is planned again for that number
(:func:`lianban.pipeline.sms_notices.plan_again`): the pensioner is told once, at the corrected number.

An award read again with other values (重新核定: another monthly amount, say) is told them: the notice not sent
yet is rewritten, else a new one is planned, ``pension_notice_revised``, period the start month and ``/n`` (the
n-th time told again); one of the award still to be sent again with the old values — or failing later, invalid
for 空号 or out of sends — is dead, superseded, and the new one is invalid at once when the row still holds the
number 空号 was said of (not sent to it again; told once HRSS corrects the number). The award's notices are
compared with the latest only: read again unchanged, nothing new is planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lianban.crypto.hashing import blind_index
from lianban.domain.intake import SourceRow
from lianban.domain.register import PENSION_KINDS, PENSION_REVISED, Award, read_award
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.models import SmsNotice
from lianban.pipeline.reminders import NoticeKeys, notice_keys
from lianban.pipeline.sms_notices import (
    PLANNED_AGAIN,
    READDRESSED,
    SUPERSEDED,
    NoticeState,
    another_number,
    dead_number,
    may_go,
    plan,
    plan_again,
    replan,
    values_of,
)

__all__ = ["AwardSource", "PensionResult", "plan_pension_notices"]

PAGE = 500


class AwardSource(Protocol):
    """The approved pensions (``connectors.hrss.register.InsuredRegister``)."""

    def new_awards(self, limit: int) -> list[SourceRow]: ...

    def mark_awards(self, seqs: Sequence[int], flag: str) -> None: ...


@dataclass
class PensionResult:
    read: int = 0
    planned: int = 0
    already: int = 0  # read again after a crash: planned before
    readdressed: int = 0  # read again with a corrected number: its notice, still to go, goes there from now on
    revised: int = 0  # read again assessed again (重新核定): its new values told (a new notice, or the unsent one)
    unreadable: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_pension_notices(source: AwardSource, ledger_url: str, keys_dir: Path, page: int = PAGE) -> PensionResult:
    """Plan the 待遇告知 of every new award (module docstring); counts only."""
    keys, sessions, result = notice_keys(keys_dir), session_factory(ledger_url), PensionResult()
    while rows := source.new_awards(page):
        taken, unreadable = [], []
        with sessions.begin() as session:
            for row in rows:
                award = read_award(row.values)
                if award is None:
                    unreadable.append(row.seq)
                    continue
                _plan_award(session, keys, award, result)
                taken.append(row.seq)
        source.mark_awards(taken, "taken")
        source.mark_awards(unreadable, "quarantined")
        result.read += len(rows)
        result.unreadable += len(unreadable)
    return result


def _plan_award(session: Session, keys: NoticeKeys, award: Award, result: PensionResult) -> None:
    """The notice of `award` planned (module docstring), counted in `result`."""
    n, index = award.notice, blind_index(keys.index, award.id_number)
    if plan(session, keys.vault, n.kind, index, n.period, award.phone, n.values):
        result.planned += 1
        return
    told = _told(session, index, n.period)
    latest = told[-1]
    if values_of(keys.vault, latest) != {k: str(v) for k, v in n.values.items()}:
        result.revised += _revise(session, keys, latest, len(told), award, index)
        return
    done = None
    if another_number(keys.vault, latest, award.phone):
        done = plan_again(session, keys.vault, latest, latest.kind, award.phone or "", n.values)
    result.planned += done == PLANNED_AGAIN
    result.readdressed += done == READDRESSED
    result.already += done is None


def _told(session: Session, index: str, period: str) -> list[SmsNotice]:
    """The notices of the person's award starting in `period`, oldest first (the first, then each 重新核定)."""
    query = select(SmsNotice).where(SmsNotice.kind.in_(PENSION_KINDS), SmsNotice.person_index == index,
                                    or_(SmsNotice.period == period, SmsNotice.period.startswith(f"{period}/")))
    return list(session.scalars(query.order_by(SmsNotice.id)))


def _revise(session: Session, keys: NoticeKeys, latest: SmsNotice, count: int, award: Award, index: str) -> bool:
    """重新核定 of an award told `count` times, `latest` last: `latest` (read again under lock) rewritten with the
    new values while it was never sent; else a new notice tells them, and `latest`, when still to be sent again,
    invalid for 空号 or out of sends at its number, is dead, superseded. Either is invalid at once when the row
    still holds the number 空号 was said of (:func:`~lianban.pipeline.sms_notices.dead_number`). Whether anything
    was planned (no: another run planned it meanwhile)."""
    n = award.notice
    write_lock(session)
    session.refresh(latest, with_for_update=True)
    dead = dead_number(keys.vault, latest, award.phone)
    if latest.attempts == 0 and latest.state in (NoticeState.PLANNED, NoticeState.INVALID):
        replan(keys.vault, latest, latest.kind, award.phone, n.values, invalid=dead)
        return True
    if may_go(latest):
        latest.state, latest.reason = NoticeState.DEAD, SUPERSEDED
    return plan(session, keys.vault, PENSION_REVISED, index, f"{n.period}/{count}", award.phone, n.values,
                invalid=dead)
