"""Beijing time (北京时间): the zone of every date and time a person, an operator or 皖事通办 reads."""

from __future__ import annotations

from datetime import timedelta, timezone

__all__ = ["BEIJING"]

#: Asia/Shanghai: UTC+8 all year (no daylight saving since 1991), so a fixed offset is exact for every time the
#: hub handles (a birth date is a date, never converted)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
