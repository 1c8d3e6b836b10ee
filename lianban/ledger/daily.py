"""The liaisons' daily summary (联络员每日汇总), as the ledger sees it at the time it is made.

Per party: items still open (待办), how long the oldest has waited since its last change (最久已等, in days; an
item nothing has been reported on yet, since its case was staged; a held case's items are the HRSS window's, the
application waiting for correction there), overdue items (逾期), dead letters (死信),
quarantined rows (HRSS only: 隔离) and open incidents. A summary is sent once per party per day: :func:`due` and
:func:`sent` keep that in the ledger (a watermark per party), so a rerun of the day's job sends nothing twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import window
from lianban.domain.clock import moment_of
from lianban.ledger.models import Case, CaseItem, Delivery, Incident, Quarantine
from lianban.ledger.store import DEAD_STATES, QuarantineState, get_watermark, set_watermark, utcnow
from lianban.ledger.time_limits import handling_party, overdue_by_department

__all__ = ["Summary", "due", "sent", "summaries"]


@dataclass(frozen=True)
class Summary:
    party: str
    backlog: int
    oldest_wait_days: int
    overdue: int
    dead_letters: int
    quarantined: int
    open_incidents: int

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _days_since(text: str | None, now: datetime) -> int:
    """Whole days from `text` (ISO; without an offset Beijing time, as a department reports it) to `now` (naive
    UTC, as the ledger keeps time)."""
    try:
        moment = moment_of(text) if text else None
    except ValueError:
        return 0
    if moment is None:
        return 0
    return max(0, (now - moment.astimezone(UTC).replace(tzinfo=None)).days)


def _backlog(session: Session, now: datetime) -> dict[str, tuple[int, int]]:
    """Per party its open items wait on (a held case's: the HRSS window, as the overdue count has them): how many,
    and the days the one waiting longest has waited since its last change (one nothing has been reported on yet:
    since its case was staged), read in one pass. Departments write their times with their own offsets
    (``+08:00``, ``Z``, fractions or none), so each is read as the moment it names, not by the text's order (a
    ``min()`` in SQL picked the wrong item by hours across offsets)."""
    rows = session.execute(select(handling_party(), CaseItem.status_at, Case.staged_at)
                           .join(Case, Case.id == CaseItem.case_id).where(CaseItem.final.is_(False))
                           .execution_options(yield_per=10_000))
    counts: dict[str, int] = {}
    waits: dict[str, int] = {}
    for party, status_at, staged_at in rows:
        counts[party] = counts.get(party, 0) + 1
        waits[party] = max(waits.get(party, 0), _waited(status_at, staged_at, now))
    return {party: (n, waits[party]) for party, n in counts.items()}


def _waited(status_at: str | None, staged_at: datetime | None, now: datetime) -> int:
    """Whole days an open item has waited since its last change (one nothing has been reported on yet: since its
    case was staged, a ledger time: naive UTC as `now`)."""
    if status_at is not None:
        return _days_since(status_at, now)
    return max(0, (now - staged_at).days) if staged_at else 0


def summaries(session: Session, parties: list[str], today: date | None = None) -> list[Summary]:
    """One summary per party of `parties` (a party with nothing to report still gets its zeros)."""
    backlog = _backlog(session, utcnow())
    dead = dict(session.execute(select(Delivery.department, func.count()).where(Delivery.state.in_(DEAD_STATES))
                                .group_by(Delivery.department)).all())
    incidents = dict(session.execute(select(Incident.party, func.count()).where(Incident.state == "open")
                                     .group_by(Incident.party)).all())
    held = int(session.scalar(select(func.count(func.distinct(Quarantine.source_seq)))
                              .where(Quarantine.state == QuarantineState.OPEN)) or 0)
    late = overdue_by_department(session, today)
    return [Summary(p, backlog.get(p, (0, 0))[0], backlog.get(p, (0, 0))[1], late.get(p, 0), int(dead.get(p, 0)),
                    held if p == window() else 0, int(incidents.get(p, 0))) for p in parties]


def _mark(party: str) -> str:
    return f"daily_summary:{party}"


def due(session: Session, party: str, day: date) -> bool:
    """Whether `party` has not had its summary of `day` yet."""
    return get_watermark(session, _mark(party)) < int(day.strftime("%Y%m%d"))


def sent(session: Session, party: str, day: date) -> None:
    set_watermark(session, _mark(party), int(day.strftime("%Y%m%d")))
