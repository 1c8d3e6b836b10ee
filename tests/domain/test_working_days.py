"""Working days in mainland China (lianban.domain.working_days), on real 2025/2026 State Council schedules.

国庆 2025: Oct 1–8 off, Sunday Sep 28 and Saturday Oct 11 worked in lieu (调休). 春节 2026: Feb 15–23 off,
Saturday Feb 14 and Saturday Feb 28 worked. 元旦 2026: Jan 1–3 off, Sunday Jan 4 worked. A year the package
does not carry is counted Monday–Friday and flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from lianban.domain import working_days
from lianban.domain.working_days import (
    add_working_days,
    deadline,
    is_official,
    is_working_day,
    official_years,
    working_days_between,
)
from lianban.errors import ConfigError

#: a year no chinese-calendar release will carry soon: the fallback applies (Monday–Friday but 元旦, 劳动节, 国庆)
UNPUBLISHED = 2099


@pytest.mark.parametrize("day, working", [
    (date(2025, 9, 26), True),  # Friday
    (date(2025, 9, 27), False),  # Saturday
    (date(2025, 9, 28), True),  # Sunday, 调休: worked for 国庆
    (date(2025, 10, 1), False),  # 国庆
    (date(2025, 10, 6), False),  # a Monday inside the 国庆 holiday (中秋 joined to it)
    (date(2025, 10, 8), False),  # the holiday's last day, a Wednesday
    (date(2025, 10, 9), True),  # back to work on Thursday
    (date(2025, 10, 11), True),  # Saturday, 调休
    (date(2025, 10, 12), False),  # an ordinary Sunday
    (date(2026, 1, 1), False),  # 元旦 2026
    (date(2026, 1, 4), True),  # Sunday, 调休 for 元旦
    (date(2026, 2, 14), True),  # Saturday, 调休 before 春节
    (date(2026, 2, 16), False),  # 除夕, a Monday off
    (date(2026, 2, 17), False),  # 正月初一
    (date(2026, 2, 23), False),  # the holiday's last day, a Monday
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),  # Saturday, 调休 after 春节
    (date(UNPUBLISHED, 10, 1), False),  # unknown year: 国庆 1–3 October is fixed by date (a Thursday)
    (date(UNPUBLISHED, 10, 2), False),
    (date(UNPUBLISHED, 10, 5), True),  # a Monday: the days joined to 国庆 are not known (the estimate is flagged)
    (date(UNPUBLISHED, 1, 1), False),  # 元旦, a Thursday
    (date(UNPUBLISHED, 5, 1), False),  # 劳动节 1–2 May, a Friday
    (date(UNPUBLISHED, 1, 2), True),
])
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize("start, days, due", [
    (date(2025, 3, 7), 1, date(2025, 3, 10)),  # Friday + 1 working day = Monday
    (date(2026, 3, 6), 1, date(2026, 3, 9)),  # the same in 2026
    (date(2025, 3, 7), 0, date(2025, 3, 7)),  # no limit: the start itself
    (date(2025, 9, 26), 1, date(2025, 9, 28)),  # Friday + 1 = the 调休 Sunday, not Monday
    (date(2025, 9, 30), 1, date(2025, 10, 9)),  # 受理 the day before 国庆: the whole holiday skipped
    (date(2025, 9, 30), 3, date(2025, 10, 11)),  # the 调休 Saturday counts
    (date(2025, 9, 30), 5, date(2025, 10, 14)),
    (date(2025, 10, 3), 1, date(2025, 10, 9)),  # a start inside the holiday
    (date(2025, 12, 31), 1, date(2026, 1, 4)),  # across the year, onto 元旦's 调休 Sunday
    (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday before 春节 + 1 = the 调休 Saturday
    (date(2026, 2, 13), 2, date(2026, 2, 24)),  # then nothing until the holiday ends
    (date(2026, 2, 13), 10, date(2026, 3, 5)),  # 14, 24–28 (Sat 28 worked), Mar 2–5
    (date(UNPUBLISHED, 9, 30), 1, date(UNPUBLISHED, 10, 5)),  # fallback: Wednesday + 1 = Monday, past 国庆 1–3
    (date(UNPUBLISHED, 10, 2), 1, date(UNPUBLISHED, 10, 5)),  # fallback: Friday + 1 = Monday
    (date(2026, 12, 31), 1, date(2027, 1, 4)),  # into 2027, published or not: 元旦 (a Friday) is no working day
])
def test_add_working_days(start: date, days: int, due: date) -> None:
    assert add_working_days(start, days) == due


@pytest.mark.parametrize("a, b, n", [
    (date(2025, 3, 7), date(2025, 3, 7), 0),  # the same day
    (date(2025, 3, 7), date(2025, 3, 8), 0),  # Friday → Saturday
    (date(2025, 3, 7), date(2025, 3, 10), 1),  # Friday → Monday
    (date(2025, 3, 10), date(2025, 3, 7), -1),  # backwards: negative
    (date(2025, 9, 30), date(2025, 10, 8), 0),  # the whole 国庆 holiday
    (date(2025, 9, 30), date(2025, 10, 9), 1),
    (date(2025, 9, 27), date(2025, 9, 28), 1),  # Saturday → the 调休 Sunday
    (date(2025, 10, 1), date(2025, 10, 11), 3),  # 9, 10, 11 (调休 Saturday)
    (date(2026, 2, 13), date(2026, 2, 28), 6),  # 14, 24, 25, 26, 27, 28
    (date(2025, 12, 31), date(2026, 1, 5), 2),  # Jan 4 (调休) and 5
])
def test_working_days_between(a: date, b: date, n: int) -> None:
    assert working_days_between(a, b) == n


@pytest.mark.parametrize("start", [date(2025, 9, 30), date(2026, 2, 13), date(2025, 12, 31), date(2026, 12, 30)])
def test_counting_forward_and_between_agree(start: date) -> None:
    for n in range(25):
        assert working_days_between(start, add_working_days(start, n)) == n


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2025, 3, 7), -1)


def test_the_package_carries_2025_and_2026_and_not_the_fallback_year() -> None:
    assert {2025, 2026} <= set(official_years()) and UNPUBLISHED not in official_years()
    assert is_official(date(2026, 12, 31)) and not is_official(date(UNPUBLISHED, 1, 1))


def test_a_deadline_in_a_published_year_is_exact() -> None:
    assert deadline(date(2025, 9, 30), 1).due == date(2025, 10, 9)
    assert deadline(date(2025, 9, 30), 1).estimated is False


def test_a_deadline_in_or_into_an_unpublished_year_is_flagged_estimated() -> None:
    inside = deadline(date(UNPUBLISHED, 9, 30), 1)
    assert inside.due == date(UNPUBLISHED, 10, 5) and inside.estimated is True
    last = official_years()[-1]  # whatever release is installed: running past its last year is an estimate
    across = deadline(date(last, 12, 31), 10)
    assert across.due.year == last + 1 and across.estimated is True


# -- a year written in schemas/catalog/holidays.yaml -----------------------------------------------------------
def _written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    (tmp_path / "holidays.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(working_days, "SCHEDULE_FILE", tmp_path / "holidays.yaml")
    for cached in (working_days.written_years, working_days.is_working_day, working_days.add_working_days,
                   working_days.deadline):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    yield
    for cached in (working_days.written_years, working_days.is_working_day, working_days.add_working_days,
                   working_days.deadline):
        cached.cache_clear()


#: 春节 of the year as a notice would give it: eight days off, a Saturday before and a Sunday after worked
WRITTEN = f"""version: 1
years:
  {UNPUBLISHED}:
    holidays: [{UNPUBLISHED}-01-01, {UNPUBLISHED}-01-21, {UNPUBLISHED}-01-22, {UNPUBLISHED}-01-23,
               {UNPUBLISHED}-01-24, {UNPUBLISHED}-01-25, {UNPUBLISHED}-01-26, {UNPUBLISHED}-01-27, {UNPUBLISHED}-01-28]
    workdays: [{UNPUBLISHED}-01-17, {UNPUBLISHED}-02-01]
"""


def test_a_year_written_in_the_schedule_file_is_counted_exactly_not_estimated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _written(tmp_path, monkeypatch, WRITTEN)
    assert is_official(date(UNPUBLISHED, 6, 1)) and UNPUBLISHED in official_years()
    assert not is_working_day(date(UNPUBLISHED, 1, 21))  # a Wednesday of its 春节
    assert is_working_day(date(UNPUBLISHED, 1, 17)) and is_working_day(date(UNPUBLISHED, 2, 1))  # 调休 Sat, Sun
    assert is_working_day(date(UNPUBLISHED, 5, 1))  # a Friday the notice did not give off: worked (no fallback)
    due = deadline(date(UNPUBLISHED, 1, 20), 2)  # Tuesday + 2: the holiday skipped, Thursday the 29th then Friday
    assert due == working_days.Deadline(date(UNPUBLISHED, 1, 30), estimated=False)
    assert deadline(date(UNPUBLISHED, 1, 16), 1).due == date(UNPUBLISHED, 1, 17)  # Friday + 1: the 调休 Saturday


def test_a_year_the_package_carries_is_counted_by_the_package_whatever_the_file_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _written(tmp_path, monkeypatch, "version: 1\nyears:\n  2026:\n    holidays: [2026-03-02]\n    workdays: []\n")
    assert is_working_day(date(2026, 3, 2)) and 2026 not in working_days.written_years()


@pytest.mark.parametrize("entry, said", [
    ("holidays: [2098-12-31]", "不属于该年"),
    (f"holidays: [{UNPUBLISHED}-01-17]\n    workdays: [{UNPUBLISHED}-01-17]", "既是放假日又是调休上班日"),
    (f"workdays: [{UNPUBLISHED}-01-19]", "须为周六或周日"),  # a Monday
    ("holidays: [not-a-date]", "holidays.yaml"),
])
def test_a_wrong_schedule_file_is_one_clear_error_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, said: str) -> None:
    _written(tmp_path, monkeypatch, f"version: 1\nyears:\n  {UNPUBLISHED}:\n    {entry}\n")
    with pytest.raises(ConfigError, match="节假日安排文件") as refused:
        is_working_day(date(UNPUBLISHED, 3, 3))
    assert said in str(refused.value)


def test_the_schedule_file_shipped_reads() -> None:
    assert all(year not in working_days.PACKAGE_YEARS for year in working_days.written_years())
