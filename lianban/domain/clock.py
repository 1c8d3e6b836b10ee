"""Beijing time (北京时间): the zone of every date and time a person, an operator or 皖事通办 reads.

A time that arrives from outside the hub without a UTC offset — the HRSS 前置库's 审批时间 and status log (Oracle
DATE columns), a department's status report or receipt, 皖事通办's answers — is Beijing time: government
databases and departments keep local time with no zone. :func:`aware` and :func:`moment_of` read it so, at the
boundary where it arrives; :func:`explicit` gives such text the ``+08:00`` it lacks before the hub keeps it. The
ledger's own naive columns (written with ``utcnow()``) are UTC by its convention and are not read here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

__all__ = ["AHEAD_ALLOWED", "BEIJING", "ahead", "aware", "explicit", "in_beijing", "moment_of"]

#: Asia/Shanghai: UTC+8 all year (no daylight saving since 1991), so a fixed offset is exact for every time the
#: hub handles (a birth date is a date, never converted)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

#: how far ahead of the hub's clock a status time from outside may be (a department's or the 前置库's clock a little
#: fast, by no more than a signed request's may be: lianban.wire.signatures.MAX_SKEW); further ahead it is a
#: mistake (a wrong zone or year), which kept would make every real later report of the item look older than it
AHEAD_ALLOWED = timedelta(minutes=5)


def aware(moment: datetime) -> datetime:
    """`moment`, a time from outside the hub, with its zone: one without an offset is Beijing time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING)


def ahead(moment: datetime) -> bool:
    """Whether `moment` (aware) is further ahead of the hub's clock than :data:`AHEAD_ALLOWED`."""
    return moment - datetime.now(UTC) > AHEAD_ALLOWED


def moment_of(text: str) -> datetime:
    """ISO 8601 text from outside the hub (a date, or a date and time, with or without an offset) as an aware
    time: no offset means Beijing time, a date alone its midnight. ValueError when it is not ISO 8601."""
    return aware(datetime.fromisoformat(text))


def explicit(text: str) -> str:
    """ISO 8601 text from outside the hub as the hub keeps it: as given when it carries an offset, otherwise
    that Beijing moment with ``+08:00`` ("2026-12-01" → "2026-12-01T00:00:00+08:00"). ValueError when it is not
    ISO 8601."""
    moment = datetime.fromisoformat(text)
    return text if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING).isoformat()


def in_beijing(text: str) -> str:
    """ISO 8601 text from outside the hub in Beijing time, to the second with its offset; text that does not read
    as one (not ISO 8601, or past what a date can hold in Beijing) as given."""
    try:
        return moment_of(text).astimezone(BEIJING).isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        return text
