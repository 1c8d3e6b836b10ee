"""Working days (工作日) in mainland China: weekends, public holidays (法定节假日) and make-up working days (调休).

Time limits (承诺时限) count working days, so a 国庆 week or 春节 does not eat into them and a Saturday worked
in lieu (调休上班) does. The calendar is the State Council's yearly schedule (国务院办公厅关于某年部分节假日
安排的通知) as the ``chinese-calendar`` package bundles it; this module only reads that bundled data (no I/O).

Counting: day 1 of a limit is the first working day *after* the start (the day of 受理 is not counted), so
``add_working_days(Friday, 1)`` is the next Monday (or later, if that Monday is a holiday).

**Years the package does not carry.** ``chinese-calendar`` knows only the years published before its release.
A year published since can be written in ``schemas/catalog/holidays.yaml`` (its days off and its 调休 working
days, copied from the State Council's notice) and is then counted exactly. For a date in neither
(:func:`is_official` False) this module falls back to "Monday–Friday are working days, but the holidays fixed
by the calendar date" (元旦 1 January, 劳动节 1–2 May, 国庆 1–3 October, as the 全国年节及纪念日放假办法 of
2024 sets them), which misses the lunar holidays (春节, 清明, 端午, 中秋), the days joined to them and 调休. Such
a result is an estimate: :func:`deadline` says so (``Deadline.estimated``) and the operator view marks the due
date 估算.

**Yearly update.** 国务院办公厅 publishes next year's schedule in November or December. Write it in
``schemas/catalog/holidays.yaml`` at once; when a ``chinese-calendar`` release carries it, bump the package in
``pyproject.toml`` (``.tools/bin/uv lock --upgrade-package chinese-calendar``, then ``make install``) and the
file's entry is no longer read. Until either, due dates in the new year are marked 估算.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

import chinese_calendar

from lianban.domain.schemas import load_versioned, schema_path

#: the years the bundled State Council schedule covers (e.g. 2004–2026 in chinese-calendar 1.11)
PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
SCHEDULE_FILE = schema_path("catalog", "holidays.yaml")

_DAY = timedelta(days=1)
#: (month, day) of the statutory holidays fixed by the calendar date: the fallback's holidays in years not covered
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


@dataclass(frozen=True)
class YearSchedule:
    """One year's schedule as ``holidays.yaml`` gives it: its days off and its weekend days worked (调休)."""

    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_working_day(self, d: date) -> bool:
        return d in self.workdays or (d.weekday() < 5 and d not in self.holidays)


@cache
def written_years() -> Mapping[int, YearSchedule]:
    """The years ``holidays.yaml`` gives that the package does not carry; ConfigError naming the file if it is
    wrong (a day outside its year, a day in both lists, a 调休 working day that is no Saturday or Sunday)."""
    return load_versioned(SCHEDULE_FILE, _schedules, "节假日安排文件", "the holiday schedule")


def _schedules(data: Mapping[str, Any]) -> dict[int, YearSchedule]:
    years = data["years"] or {}
    return {int(year): _schedule(int(year), entry) for year, entry in years.items() if int(year) not in PACKAGE_YEARS}


def _schedule(year: int, entry: Mapping[str, Any]) -> YearSchedule:
    holidays, workdays = (frozenset(_day(d) for d in entry.get(k) or ()) for k in ("holidays", "workdays"))
    if any(d.year != year for d in holidays | workdays):
        raise ValueError(f"{year} 年的安排中有不属于该年的日期")
    if holidays & workdays:
        raise ValueError(f"{year} 年有日期既是放假日又是调休上班日：{min(holidays & workdays)}")
    if any(d.weekday() < 5 for d in workdays):
        raise ValueError(f"{year} 年的调休上班日须为周六或周日：{min(d for d in workdays if d.weekday() < 5)}")
    return YearSchedule(holidays, workdays)


def _day(value: Any) -> date:
    if isinstance(value, date):  # YAML reads 2027-01-01 as a date
        return value
    return date.fromisoformat(str(value))


def official_years() -> tuple[int, ...]:
    """Every year whose holidays and 调休 are known: the package's and those ``holidays.yaml`` adds."""
    return tuple(sorted({*PACKAGE_YEARS, *written_years()}))


def is_official(d: date) -> bool:
    """Whether `d` is in a year whose holidays and 调休 the State Council has published (and we carry)."""
    return d.year in PACKAGE_YEARS or d.year in written_years()


@lru_cache(maxsize=8192)  # the calendar is fixed data: a status sweep asks about the same few hundred days
def is_working_day(d: date) -> bool:
    """Whether `d` is a working day: the official schedule where known (the package's, else ``holidays.yaml``'s),
    otherwise Monday–Friday but the holidays
    fixed by date (module docstring)."""
    if d.year in PACKAGE_YEARS:
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:  # a year chinese-calendar refuses after all: same fallback
            pass
    written = written_years().get(d.year)
    if written is not None:
        return written.is_working_day(d)
    return d.weekday() < 5 and (d.month, d.day) not in FIXED_HOLIDAYS


@lru_cache(maxsize=8192)
def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (day 1 = the first working day after it); `start` for 0."""
    if days < 0:
        raise ValueError(f"days must be zero or more, not {days}")
    d = start
    while days:
        d += _DAY
        if is_working_day(d):
            days -= 1
    return d


def working_days_between(a: date, b: date) -> int:
    """How many working days fall after `a` up to and including `b` (0 when b == a; negative when b < a), so
    that ``working_days_between(a, add_working_days(a, n)) == n``."""
    if b < a:
        return -working_days_between(b, a)
    count, d = 0, a
    while d < b:
        d += _DAY
        count += is_working_day(d)
    return count


@dataclass(frozen=True)
class Deadline:
    """A due date and whether it is an estimate (some day counted lies in a year the schedule does not cover)."""

    due: date
    estimated: bool


@lru_cache(maxsize=4096)  # pure; many items share a start day and a limit
def deadline(start: date, days: int) -> Deadline:
    """The `days`-th working day after `start`, flagged estimated when any day counted (start included) lies
    outside :func:`official_years`."""
    due = add_working_days(start, days)
    return Deadline(due, not (is_official(start) and is_official(due)))
