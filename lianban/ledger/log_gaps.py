"""Reading an append-only log past a watermark when its numbers can commit out of order.

HRSS's 前置库 numbers its rows (序号) from a sequence as they are written, not as they commit: on PostgreSQL or
Oracle, with two writers, row 101 can commit after row 102. A reader that took 102 and moved its watermark past
it would never read 101. So a reader takes rows only up to the first number missing after its watermark (a
gap); the rows past the gap are read again by a later run, once it is filled, and taken in order.

A number that never appears (a writer that rolled back, a sequence's cached numbers lost at a restart) would
hold the log up for good, so a gap is passed over once it has been missing for :data:`GAP_GRACE_SECONDS`,
counted from the run that first saw it (kept in the ledger's ``watermarks`` as ``<log>.gap``: the first number
missing, and when it was first seen), with a warning naming the numbers. HRSS's writes take well under a
second; ten minutes is a writer stalled past any timeout, not one still committing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from lianban.ledger.models import Watermark
from lianban.ledger.store import utcnow

#: how long a number missing after the watermark holds back the rows past it
GAP_GRACE_SECONDS = 600.0
log = logging.getLogger("lianban.feedback")


def takeable(session: Session, log_name: str, label: str, mark: int, seqs: Sequence[int]) -> int:
    """How many of `seqs` (the numbers read past watermark `mark` of log `log_name`, ascending) may be taken
    now: all of them, or those before the first gap still within its grace (module docstring). `label`: the
    log as an operator knows it (人社状态日志), for the warning."""
    expected = mark + 1
    for taken, seq in enumerate(seqs):
        if seq > expected and not _overdue(session, log_name, label, expected, seq - 1):
            return taken
        expected = seq + 1
    return len(seqs)


def _overdue(session: Session, log_name: str, label: str, first: int, last: int) -> bool:
    """Whether numbers `first`…`last` of `log_name` have been missing past the grace; a gap seen for the first
    time is recorded, with this moment."""
    key, now = f"{log_name}.gap", utcnow()
    seen = session.get(Watermark, key)
    if seen is None:
        seen = Watermark(name=key, value=first, updated_at=now)
        session.add(seen)
    elif seen.value != first:
        seen.value, seen.updated_at = first, now
    if (now - seen.updated_at).total_seconds() < GAP_GRACE_SECONDS:
        return False
    log.warning("%s第 %s 条已缺失 %d 分钟以上（写入方回滚或序号跳号），越过继续读取 (numbers missing past the "
                "grace: passed over)", label, first if first == last else f"{first}–{last}", GAP_GRACE_SECONDS // 60)
    return True
