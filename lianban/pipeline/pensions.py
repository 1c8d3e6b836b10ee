"""待遇告知: plan one SMS per approved pension (养老待遇核定), once.

HRSS writes each approved pension to the 前置库 (``T_LB_DYHD``) with 同步标志 ``0``. Each run takes the new rows
in pages, plans each one's notice through :func:`lianban.pipeline.sms_notices.plan` (person by blind index, kind
``pension_notice``, period the start month) and commits the ledger, then flags the rows ``1`` (taken) or ``9``
(unreadable: no amount, start month or pay day that can be read; counted, never logged). A crash between the
commit and the flag reads the rows again and plans nothing new: one SMS per pensioner per award.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from lianban.crypto.hashing import blind_index
from lianban.domain.intake import SourceRow
from lianban.domain.register import read_award
from lianban.ledger.db import session_factory
from lianban.pipeline.reminders import notice_keys
from lianban.pipeline.sms_notices import plan

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
                n = award.notice
                new = plan(session, keys.vault, n.kind, blind_index(keys.index, award.id_number), n.period,
                           award.phone, n.values)
                result.planned += new
                result.already += not new
                taken.append(row.seq)
        source.mark_awards(taken, "taken")
        source.mark_awards(unreadable, "quarantined")
        result.read += len(rows)
        result.unreadable += len(unreadable)
    return result
