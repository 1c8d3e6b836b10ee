"""Statutory retirement age under the gradual reform in force since 2025-01-01 (渐进式延迟法定退休年龄).

Integer months: ``n = (birth_year + B - 2025)*12 + birth_month``; ``delay = 0 if n <= 0 else
min(ceil(n/S), C)``; statutory age = ``B*12 + delay`` months; retirement month = birth month + age.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from math import ceil


class Category(StrEnum):
    MALE = "male"  # 男职工, originally 60
    FEMALE55 = "female55"  # 原法定退休年龄55周岁的女职工 (干部/管理技术岗位)
    FEMALE50 = "female50"  # 原法定退休年龄50周岁的女职工 (工人岗位)


@dataclass(frozen=True)
class _Rule:
    base_years: int  # B
    step_months: int  # S: one month of delay per S months of birth
    cap_months: int  # C


RULES = {
    Category.MALE: _Rule(60, 4, 36),
    Category.FEMALE55: _Rule(55, 4, 36),
    Category.FEMALE50: _Rule(50, 2, 60),
}


def statutory_age_months(category: Category, birth_year: int, birth_month: int) -> int:
    rule = RULES[category]
    n = (birth_year + rule.base_years - 2025) * 12 + birth_month
    delay = 0 if n <= 0 else min(ceil(n / rule.step_months), rule.cap_months)
    return rule.base_years * 12 + delay


def retirement_month(category: Category, birth_year: int, birth_month: int) -> tuple[int, int]:
    """(year, month) in which the statutory retirement age is reached."""
    total = birth_year * 12 + (birth_month - 1) + statutory_age_months(category, birth_year, birth_month)
    return total // 12, total % 12 + 1


def minimum_contribution_months(retirement_year: int) -> int:
    """180 up to 2029, +6 a year 2030–2038, 240 from 2039."""
    return 180 + 6 * min(max(retirement_year - 2029, 0), 10)
