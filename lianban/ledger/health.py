"""Scheduled connection checks and failed Airflow tasks, kept in the ledger for the alerts and the dashboard.

A check is kept with its time (:func:`record`), the last one per party answers "reachable now, or why not"
(:func:`latest`); checks older than :data:`KEEP` are forgotten as new ones come. A failed task is one row
(:func:`task_failed`), counted by the alerts for :data:`FAILURE_WINDOW`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lianban.domain.identity import said
from lianban.ledger.models import HealthCheck, TaskFailure
from lianban.ledger.store import utcnow

__all__ = ["FAILURE_WINDOW", "KEEP", "latest", "recent_failures", "record", "task_failed"]

KEEP = timedelta(days=30)
FAILURE_WINDOW = timedelta(hours=1)


def record(session: Session, party: str, ok: bool, step: str | None, reason: str | None,
           now: datetime | None = None) -> None:
    """Keep one check of `party` (`step` and `reason`: the step that failed and its sentence, which may quote
    the party's answer: kept masked and bounded)."""
    now = now or utcnow()
    session.execute(delete(HealthCheck).where(HealthCheck.checked_at < now - KEEP))
    session.add(HealthCheck(party=party, checked_at=now, ok=ok, step=step,
                            reason=said(reason) if reason else None))


def latest(session: Session) -> dict[str, HealthCheck]:
    """The last check of every party checked."""
    last = select(HealthCheck.party, func.max(HealthCheck.id).label("id")).group_by(HealthCheck.party).subquery()
    rows = session.scalars(select(HealthCheck).join(last, HealthCheck.id == last.c.id))
    return {row.party: row for row in rows}


def task_failed(session: Session, dag_id: str, task_id: str, run_id: str, now: datetime | None = None) -> None:
    session.add(TaskFailure(dag_id=dag_id[:250], task_id=task_id[:250], run_id=run_id[:250],
                            failed_at=now or utcnow()))


def recent_failures(session: Session, now: datetime | None = None) -> int:
    """Failed tasks within FAILURE_WINDOW of `now`."""
    since = (now or utcnow()) - FAILURE_WINDOW
    return int(session.scalar(select(func.count()).select_from(TaskFailure).where(TaskFailure.failed_at > since))
               or 0)
