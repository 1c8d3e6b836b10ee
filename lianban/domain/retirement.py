"""The 2025 retirement-age reform (渐进式延迟法定退休年龄), as pure rules over whole months.

Statutory age (法定退休年龄), integer months: ``n = (birth_year + B - 2025)*12 + birth_month``;
``delay = 0 if n <= 0 else min(ceil(n/S), C)``; statutory age = ``B*12 + delay`` months; the retirement
month is the birth month + that age. Minimum contribution (最低缴费年限) by retirement year: 180 months up to
2029, +6 a year 2030–2038, 240 from 2039. Flexible retirement (弹性退休): earliest ``max(statutory − 36,
B*12)`` months of age once the minimum is met, latest ``statutory + 36`` with the employer's agreement.
Special early retirement (特殊工种, 病退) keeps its own minimum ages. Sources and the bounds as data:
``schemas/validation/reform.yaml``.

A month is an integer index ``year*12 + month - 1`` (:func:`month_index`), so the rules vectorise: the
same formulas run over numpy arrays in :mod:`lianban.domain.rules.reform`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from math import ceil
from typing import Any

from lianban.domain.schemas import load_versioned, schema_path

REFORM_FILE = schema_path("validation", "reform.yaml")


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


def month_index(year: int, month: int) -> int:
    """A calendar month as one integer (``year*12 + month - 1``)."""
    return year * 12 + month - 1


def month_text(index: int) -> str:
    """``YYYY-MM`` of a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def statutory_age_months(category: Category, birth_year: int, birth_month: int) -> int:
    rule = RULES[category]
    n = (birth_year + rule.base_years - 2025) * 12 + birth_month
    delay = 0 if n <= 0 else min(ceil(n / rule.step_months), rule.cap_months)
    return rule.base_years * 12 + delay


def retirement_month(category: Category, birth_year: int, birth_month: int) -> tuple[int, int]:
    """(year, month) in which the statutory retirement age is reached."""
    total = month_index(birth_year, birth_month) + statutory_age_months(category, birth_year, birth_month)
    return total // 12, total % 12 + 1


def minimum_contribution_months(retirement_year: int) -> int:
    """180 up to 2029, +6 a year 2030–2038, 240 from 2039."""
    return 180 + 6 * min(max(retirement_year - 2029, 0), 10)


def age_text(months: int) -> str:
    """``60岁1个月`` (``60岁`` when whole years)."""
    years, rest = divmod(months, 12)
    return f"{years}岁{rest}个月" if rest else f"{years}岁"


@dataclass(frozen=True)
class RetirementType:
    """One 退休类型 (前置库 TXLX): which window its pension start must lie in, and for special early
    retirement the minimum age by sex."""

    code: str
    name: str
    window: str  # statutory | flexible_early | flexible_late | special
    min_age_years: dict[str, int]  # special types only: "male"/"female" → years


@dataclass(frozen=True)
class Reform:
    """The reform's parameters the rules read (``schemas/validation/reform.yaml``)."""

    start_offset: int  # 养老待遇执行时间 − statutory month, for 正常 retirement
    early_max: int  # months
    late_max: int  # months
    categories: dict[str, tuple[Category, str]]  # 原法定退休年龄 → (category, sex)
    types: dict[str, RetirementType]


def _reform(data: dict[str, Any]) -> Reform:
    categories = {str(k): (Category(v["category"]), str(v["sex"])) for k, v in data["categories"].items()}
    types = {str(k): RetirementType(str(k), v["name"], v["window"], dict(v.get("min_age_years") or {}))
             for k, v in data["retirement_types"].items()}
    return Reform(int(data["pension_start_offset_months"]), int(data["flexible_early_max_months"]),
                  int(data["flexible_late_max_months"]), categories, types)


@cache
def load_reform() -> Reform:
    """The reform's parameters, read once; a broken file is a ConfigError naming it."""
    return load_versioned(REFORM_FILE, _reform, "退休改革参数", "the reform parameters")


@dataclass(frozen=True)
class RetirementAge:
    """What the reform says for one person (``lianban retirement-age``)."""

    statutory_age_months: int
    statutory_age: str
    retirement_month: str
    min_contribution_months: int
    earliest_flexible_month: str
    latest_flexible_month: str


def retirement_age(category: Category, birth_year: int, birth_month: int) -> RetirementAge:
    """Statutory age and month, the minimum contribution of that year and the flexible window."""
    reform, rule = load_reform(), RULES[category]
    age = statutory_age_months(category, birth_year, birth_month)
    birth = month_index(birth_year, birth_month)
    earliest = birth + max(age - reform.early_max, rule.base_years * 12)
    return RetirementAge(age, age_text(age), month_text(birth + age),
                         minimum_contribution_months((birth + age) // 12), month_text(earliest),
                         month_text(birth + age + reform.late_max))
