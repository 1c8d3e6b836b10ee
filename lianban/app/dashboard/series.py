"""The dashboard's day-by-day figures (Beijing days) over the last :data:`DAYS` days, today included.

Per day:

* ``sent``, ``accepted``, ``failed``: deliveries created that day (sealed into the outbox), those the
  department took and those that became dead letters (refused, or out of retries); ``success_rate`` is
  accepted ÷ (accepted + failed) in per cent, None while none of that day's deliveries was decided;
* ``latency_minutes``: the median time from sealing to the department taking it, over deliveries taken that
  day (None: none taken);
* ``events``: status events recorded that day (every change of any item, from any source).

:func:`days` reads only rows of the window; :func:`median` and :func:`rate` are the arithmetic, pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from statistics import median as _median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lianban.ledger.models import Delivery, StatusEvent
from lianban.ledger.store import DEAD_STATES, DeliveryState
from lianban.ledger.time_limits import beijing_date, beijing_midnight, beijing_today

__all__ = ["DAYS", "days", "median", "rate", "window"]

DAYS = 14


def window(today: date, count: int = DAYS) -> list[date]:
    """The `count` Beijing days ending with `today`, oldest first."""
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def rate(good: int, bad: int) -> float | None:
    """good ÷ (good + bad) in per cent, one decimal; None when there is nothing to divide."""
    return round(100.0 * good / (good + bad), 1) if good + bad else None


def median(values: Sequence[float]) -> float | None:
    """The median, one decimal; None for no values."""
    return round(float(_median(values)), 1) if values else None


def _deliveries(session: Session, since: datetime) -> Iterable[Any]:
    return session.execute(select(Delivery.state, Delivery.created_at, Delivery.sent_at)
                           .where(Delivery.created_at >= since)).all()


def days(session: Session, today: date | None = None, count: int = DAYS) -> list[dict[str, Any]]:
    """One row per day of the window (module docstring), oldest first."""
    dates = window(today or beijing_today(), count)
    since = beijing_midnight(dates[0])
    counts: dict[date, dict[str, int]] = defaultdict(lambda: {"sent": 0, "accepted": 0, "failed": 0, "events": 0})
    waits: dict[date, list[float]] = defaultdict(list)
    for state, created, sent in _deliveries(session, since):
        day = counts[beijing_date(created)]
        day["sent"] += 1
        day["accepted"] += state == DeliveryState.ACCEPTED
        day["failed"] += state in DEAD_STATES
        if state == DeliveryState.ACCEPTED and sent is not None:
            waits[beijing_date(sent)].append((sent - created).total_seconds() / 60)
    for (recorded,) in session.execute(select(StatusEvent.recorded_at).where(StatusEvent.recorded_at >= since)):
        counts[beijing_date(recorded)]["events"] += 1
    return [{"day": d.isoformat(), **counts[d], "success_rate": rate(counts[d]["accepted"], counts[d]["failed"]),
             "latency_minutes": median(waits[d])} for d in dates]
