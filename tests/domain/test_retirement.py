"""Statutory retirement age under the 2025 gradual reform: MISSION.md's worked examples (lianban.domain.retirement)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from lianban.domain.retirement import (
    Category,
    minimum_contribution_months,
    retirement_age,
    retirement_month,
    statutory_age_months,
)

MALE, F55, F50 = Category.MALE, Category.FEMALE55, Category.FEMALE50


@pytest.mark.parametrize(
    ("category", "birth", "retires", "age"),
    [
        (MALE, (1964, 12), (2024, 12), (60, 0)),  # born before the reform's first cohort
        (MALE, (1965, 1), (2025, 2), (60, 1)),
        (MALE, (1965, 5), (2025, 7), (60, 2)),
        (F55, (1971, 4), (2026, 8), (55, 4)),
        (F50, (1984, 10), (2039, 9), (54, 11)),
    ],
)
def test_worked_examples(category: Category, birth: tuple[int, int], retires: tuple[int, int],
                         age: tuple[int, int]) -> None:
    assert retirement_month(category, *birth) == retires
    assert divmod(statutory_age_months(category, *birth), 12) == age


@pytest.mark.parametrize("category", [MALE, F55])
def test_nobody_with_a_four_month_step_retires_in_june_2025(category: Category) -> None:
    months = {retirement_month(category, y, m) for y in range(1960, 1990) for m in range(1, 13)}
    assert (2025, 5) in months and (2025, 7) in months
    assert (2025, 6) not in months


def test_women50_step_every_second_month_so_june_2025_does_occur() -> None:
    assert retirement_month(F50, 1975, 4) == (2025, 6)


@pytest.mark.parametrize(
    ("category", "first_capped", "age_years"),
    [(MALE, (1976, 9), 63), (F55, (1981, 9), 58), (F50, (1984, 11), 55)],
)
def test_the_delay_stops_at_its_cap(category: Category, first_capped: tuple[int, int], age_years: int) -> None:
    year, month = first_capped
    before = (year, month - 1) if month > 1 else (year - 1, 12)
    assert statutory_age_months(category, *before) < age_years * 12
    for later in (first_capped, (year + 1, month), (year + 10, 1)):
        assert statutory_age_months(category, *later) == age_years * 12


@pytest.mark.parametrize(
    ("year", "months"), [(2025, 180), (2029, 180), (2030, 186), (2031, 192), (2038, 234), (2039, 240), (2050, 240)]
)
def test_minimum_contribution_by_retirement_year(year: int, months: int) -> None:
    assert minimum_contribution_months(year) == months


@pytest.mark.parametrize(
    ("category", "birth", "expected"),
    [
        (MALE, (1965, 1), {"statutory_age_months": 721, "statutory_age": "60岁1个月", "retirement_month": "2025-02",
                           "min_contribution_months": 180, "earliest_flexible_month": "2025-01",
                           "latest_flexible_month": "2028-02"}),
        (MALE, (1976, 9), {"statutory_age_months": 756, "statutory_age": "63岁", "retirement_month": "2039-09",
                           "min_contribution_months": 240, "earliest_flexible_month": "2036-09",
                           "latest_flexible_month": "2042-09"}),
        (F55, (1971, 4), {"statutory_age_months": 664, "statutory_age": "55岁4个月", "retirement_month": "2026-08",
                          "min_contribution_months": 180, "earliest_flexible_month": "2026-04",
                          "latest_flexible_month": "2029-08"}),
        (F50, (1984, 10), {"statutory_age_months": 659, "statutory_age": "54岁11个月", "retirement_month": "2039-09",
                           "min_contribution_months": 240, "earliest_flexible_month": "2036-09",
                           "latest_flexible_month": "2042-09"}),
        (F50, (1984, 11), {"statutory_age_months": 660, "statutory_age": "55岁", "retirement_month": "2039-11",
                           "min_contribution_months": 240, "earliest_flexible_month": "2036-11",
                           "latest_flexible_month": "2042-11"}),
        (MALE, (1964, 12), {"statutory_age_months": 720, "statutory_age": "60岁", "retirement_month": "2024-12",
                            "min_contribution_months": 180, "earliest_flexible_month": "2024-12",
                            "latest_flexible_month": "2027-12"}),
    ],
)
def test_what_the_reform_says_for_one_birth_month(category: Category, birth: tuple[int, int],
                                                  expected: dict[str, object]) -> None:
    assert asdict(retirement_age(category, *birth)) == expected


@pytest.mark.parametrize(
    ("category", "first_affected"), [(MALE, (1965, 1)), (F55, (1970, 1)), (F50, (1975, 1))],
)
def test_each_category_first_affected_birth_month(category: Category, first_affected: tuple[int, int]) -> None:
    year, month = first_affected
    base = {MALE: 60, F55: 55, F50: 50}[category] * 12
    assert statutory_age_months(category, year - 1, 12) == base
    assert statutory_age_months(category, year, month) == base + 1


def test_the_earliest_flexible_month_is_never_below_the_original_age() -> None:
    early = retirement_age(MALE, 1966, 1)  # 60y5m: 36 months earlier would be below 60
    assert early.earliest_flexible_month == "2026-01"
    late_cohort = retirement_age(MALE, 1980, 1)  # 63: 36 months earlier is exactly 60
    assert late_cohort.earliest_flexible_month == "2040-01"
