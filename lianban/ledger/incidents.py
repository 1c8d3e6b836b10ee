"""Incidents in the ledger: what the ledger shows is wrong now, by party, and the incidents that follow from it.

:func:`observe` looks at the ledger once (counts only, nothing personal): per department, deliveries failing
again and again (:data:`FAILING_ATTEMPTS` tries or more, still retrying), dead letters, overdue items, illegal
status reports of the last day, 补正 submissions stuck, and a last scheduled connection check that failed; for
HRSS's 前置库, open quarantine rows at or above :data:`QUARANTINE_SPIKE` and status-log rows that cannot be read
(parked), and status events 皖事通办 refused (parked); for the hub itself, Airflow tasks that failed within
the last hour (lianban.ledger.health). :func:`sweep` turns observations into incidents: a kind
seen at a party with no open incident opens one; an open incident seen again is updated; an open incident not
seen any more is resolved.
Whoever notifies marks what it told (:func:`told`), so each incident is told once when it opens and once when it
clears, however often it is checked, and by whichever process checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lianban.domain.catalog import window
from lianban.ledger import health
from lianban.ledger.models import (
    Delivery,
    IllegalTransition,
    Incident,
    ParkedStatus,
    Quarantine,
    StatusEvent,
    Supplement,
)
from lianban.ledger.store import DEAD_STATES, DeliveryState, ParkedState, QuarantineState, SupplementState, utcnow
from lianban.ledger.time_limits import overdue_by_department

__all__ = ["FAILING_ATTEMPTS", "QUARANTINE_SPIKE", "Observation", "observe", "sweep", "told"]

FAILING_ATTEMPTS = 2  # a delivery retried this often is failing, not unlucky
QUARANTINE_SPIKE = 10  # open quarantine rows: more than a clerk's slip
ILLEGAL_WINDOW = timedelta(days=1)
#: a status-log row waiting this long for its case: the application is not coming by itself (quarantined, or the
#: 办件编号 in the log is not the application's)
WAITING_ALERT = timedelta(days=1)
OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True)
class Observation:
    kind: str  # a key of lianban.domain.incidents.KINDS
    party: str
    count: int


def _by_party(kind: str, rows: Iterable[tuple[str | None, int]]) -> list[Observation]:
    return [Observation(kind, party or "hub", int(n)) for party, n in rows if n]


def observe(session: Session, now: datetime | None = None, today: date | None = None) -> list[Observation]:
    """Everything wrong the ledger shows now (module docstring)."""
    now = now or utcnow()
    count = func.count()
    failing = session.execute(select(Delivery.department, count).where(
        Delivery.state == DeliveryState.RETRY, Delivery.attempts >= FAILING_ATTEMPTS).group_by(Delivery.department))
    dead = session.execute(select(Delivery.department, count).where(Delivery.state.in_(DEAD_STATES))
                           .group_by(Delivery.department))
    illegal = session.execute(select(IllegalTransition.source, count)
                              .where(IllegalTransition.recorded_at > now - ILLEGAL_WINDOW)
                              .group_by(IllegalTransition.source))
    stuck = session.execute(select(Supplement.department, count).where(
        Supplement.state.in_((SupplementState.DEAD, SupplementState.REFUSED, SupplementState.PARKED)))
        .group_by(Supplement.department))
    held = int(session.scalar(select(func.count(func.distinct(Quarantine.source_seq)))
                              .where(Quarantine.state == QuarantineState.OPEN)) or 0)
    unhealthy = [(party, 1) for party, check in health.latest(session).items() if not check.ok]
    failed_tasks = health.recent_failures(session, now)
    return [*_by_party("delivery_failing", failing), *_by_party("dead_letters", dead),
            *_by_party("overdue", overdue_by_department(session, today).items()),
            *_by_party("illegal_status", illegal), *_by_party("supplements_stuck", stuck),
            *([Observation("quarantine_spike", window(), held)] if held >= QUARANTINE_SPIKE else []),
            *_by_party("health_failing", unhealthy),
            *([Observation("task_failed", "hub", failed_tasks)] if failed_tasks else []), *_parked(session, now)]


def _parked(session: Session, now: datetime) -> list[Observation]:
    """HRSS status rows that cannot be read, status events 皖事通办 refused, and status rows whose case has not come
    in a day: set aside until a person acts (all for HRSS's liaison, as the runbook's 第9–11节 say). A row whose
    fields are not kept (parked before migration 0021, or holding what JSON cannot keep) is never read again and
    stays parked once HRSS writes it anew: it counts for a day, as an illegal report does, so that the incident
    can clear."""
    rows = int(session.scalar(select(func.count()).select_from(ParkedStatus).where(
        ParkedStatus.state == ParkedState.PARKED,
        ParkedStatus.raw.is_not(None) | (ParkedStatus.created_at > now - ILLEGAL_WINDOW))) or 0)
    events = int(session.scalar(select(func.count()).select_from(StatusEvent)
                                .where(StatusEvent.parked_at.is_not(None))) or 0)
    waiting = int(session.scalar(select(func.count()).select_from(ParkedStatus).where(
        ParkedStatus.state == ParkedState.WAITING, ParkedStatus.created_at <= now - WAITING_ALERT)) or 0)
    return (_by_party("status_rows_parked", [(window(), rows)]) + _by_party("events_parked", [(window(), events)])
            + _by_party("status_rows_waiting", [(window(), waiting)]))


def sweep(session: Session, seen: Iterable[Observation], now: datetime | None = None) -> list[Incident]:
    """Open, update and resolve incidents from what is `seen` now; the incidents whose liaison has something new
    to hear (opened and not told yet, or resolved and not told yet), oldest first."""
    now = now or utcnow()
    current = {(o.kind, o.party or "hub"): o for o in seen}
    open_ = {(i.kind, i.party): i for i in session.scalars(select(Incident).where(Incident.state == OPEN)
                                                          .with_for_update())}
    for key, o in current.items():
        incident = open_.get(key)
        if incident is None:
            incident = Incident(kind=o.kind, party=key[1], state=OPEN, opened_at=now, last_seen_at=now, count=0,
                                peak=0)
            session.add(incident)
        incident.last_seen_at, incident.count, incident.peak = now, o.count, max(incident.peak or 0, o.count)
    for key, incident in open_.items():
        if key not in current:
            incident.state, incident.resolved_at = RESOLVED, now
    session.flush()
    pending = select(Incident).where(
        ((Incident.state == OPEN) & Incident.notified_at.is_(None))
        | ((Incident.state == RESOLVED) & Incident.resolved_notified_at.is_(None)))
    return list(session.scalars(pending.order_by(Incident.id)))


def told(session: Session, incident_id: int, now: datetime | None = None) -> None:
    """The liaison heard what was new about the incident: that it opened, or that it cleared (when it cleared
    before anyone was told it opened, there is nothing to tell either way)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return
    now = now or utcnow()
    if incident.state == RESOLVED:
        incident.resolved_notified_at = now
        incident.notified_at = incident.notified_at or now
    else:
        incident.notified_at = now
