"""双告知 rules, pure: reading a register row or an approved pension, and which 到龄提醒 a person is due.

A register row (HRSS 在职参保人员登记, domain keys) becomes an :class:`Insured` when its 出生年月 is ``YYYY-MM`` and
its 原法定退休年龄 is one ``schemas/validation/reform.yaml`` knows (60/55/50 → male/female55/female50) and the
sex digit of its ID number (when ID-shaped) agrees with it, as reform.yaml requires; otherwise
:func:`read_insured` answers None and the caller counts it unreadable (never logs it). A phone is read as the
11-digit mobile number it writes with a country code, spaces or hyphens ("+86 138…", "138-…",
:func:`lianban.domain.sms.mobile_number`); otherwise it and the contribution months are kept as they are,
however wrong: a missing or malformed phone is the SMS gateway's to report (``invalid``), an unreadable
contribution only means the reminder cannot say it is short.

到龄提醒 (:func:`reminder`): the reminder window runs from the current month through ``months`` ahead, both
included; a person whose statutory retirement month (:mod:`lianban.domain.retirement`) lies in it is due one
reminder for that month — period ``YYYY-MM`` — with template ``retirement_reminder``, or
``retirement_reminder_short`` when the contribution so far is below the minimum of the retirement year.

待遇告知 (:func:`read_award`): an approved pension with its monthly amount, start month and pay day, period its
start month; told again (``pension_notice_revised``) when HRSS assesses it again (重新核定) after it was told.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lianban.domain.identity import id_is_male
from lianban.domain.retirement import (
    Category,
    age_text,
    load_reform,
    minimum_contribution_months,
    month_index,
    month_text,
    statutory_age_months,
)
from lianban.domain.sms import mobile_number

__all__ = ["PENSION_KIND", "PENSION_KINDS", "PENSION_REVISED", "REMINDER", "REMINDER_KINDS", "REMINDER_SHORT",
           "Award", "Insured", "Notice", "Window", "read_award", "read_insured", "reminder", "window"]

REMINDER, REMINDER_SHORT = "retirement_reminder", "retirement_reminder_short"
REMINDER_KINDS = (REMINDER, REMINDER_SHORT)  # one reminder per person and retirement month, whichever kind
PENSION_KIND = "pension_notice"
PENSION_REVISED = "pension_notice_revised"  # 重新核定: the award's amount told again, once per assessment
PENSION_KINDS = (PENSION_KIND, PENSION_REVISED)
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_ID_SHAPED = re.compile(r"[0-9]{17}[0-9X]")


@dataclass(frozen=True, slots=True)
class Insured:
    """One insured worker as the hub reads the register (no name)."""

    id_number: str = field(repr=False)
    birth: int  # month index (lianban.domain.retirement.month_index)
    category: Category
    phone: str | None = field(repr=False)
    contribution_months: int | None

    def retirement(self) -> int:
        """The month index of the statutory retirement month."""
        year, month = divmod(self.birth, 12)
        return self.birth + statutory_age_months(self.category, year, month + 1)


@dataclass(frozen=True)
class Notice:
    """One SMS notice to plan: template, period, and the template's values (no personal data)."""

    kind: str
    period: str
    values: dict[str, str | int]


@dataclass(frozen=True)
class Window:
    """Months (indexes) from `first` to `last`, both included."""

    first: int
    last: int

    def __contains__(self, month: object) -> bool:
        return isinstance(month, int) and self.first <= month <= self.last


def window(today: date, months: int) -> Window:
    """The reminder window: the month of `today` through `months` months ahead."""
    now = month_index(today.year, today.month)
    return Window(now, now + max(months, 0))


def _month(raw: Any) -> int | None:
    match = _MONTH.fullmatch(str(raw or "").strip())
    return month_index(int(match[1]), int(match[2])) if match else None


def _whole(raw: Any) -> int | None:
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdecimal() else None  # isdigit() takes "²", which int() refuses


def read_insured(values: Mapping[str, Any]) -> Insured | None:
    """The person in a register row, or None when the birth month or the category cannot be read."""
    birth, categories = _month(values.get("birth_month")), load_reform().categories
    original = str(values.get("original_age") or "").strip()
    number = str(values.get("id_number") or "").strip().upper()
    if birth is None or original not in categories or not number or not _sex_agrees(number, categories[original][1]):
        return None
    return Insured(number, birth, categories[original][0], _phone(values), _whole(values.get("contribution_months")))


def _phone(values: Mapping[str, Any]) -> str | None:
    """The row's phone (module docstring); None when it has none."""
    raw = str(values["phone"]).strip() if values.get("phone") is not None else ""
    return mobile_number(raw) if raw else None


def _sex_agrees(number: str, sex: str) -> bool:
    """Whether an ID-shaped `number`'s sex digit is the category's sex (as the cases' REFORM_SEX judges it): a
    man recorded 55 or 50 would be told a woman's retirement month. A number of another shape is not judged."""
    return _ID_SHAPED.fullmatch(number) is None or id_is_male(number) == (sex == "male")


def _chinese_month(index: int) -> str:
    return f"{index // 12}年{index % 12 + 1}月"


def reminder(person: Insured, due: Window) -> Notice | None:
    """The 到龄提醒 `person` is due in `due` (module docstring), or None."""
    month = person.retirement()
    if month not in due:
        return None
    minimum = minimum_contribution_months(month // 12)
    values: dict[str, str | int] = {"retirement_month": _chinese_month(month),
                                    "statutory_age": age_text(month - person.birth)}
    have = person.contribution_months
    if have is not None and have < minimum:
        return Notice(REMINDER_SHORT, month_text(month), {**values, "contribution_months": have,
                                                          "minimum_months": minimum})
    return Notice(REMINDER, month_text(month), values)


@dataclass(frozen=True, slots=True)
class Award:
    """One approved pension (养老待遇核定), read."""

    id_number: str = field(repr=False)
    phone: str | None = field(repr=False)
    notice: Notice


def read_award(values: Mapping[str, Any]) -> Award | None:
    """The 待遇告知 of an award row, or None when its amount, start month or pay day cannot be read."""
    start, day = _month(values.get("start_month")), _whole(values.get("pay_day"))
    number = str(values.get("id_number") or "").strip().upper()
    try:
        amount = Decimal(str(values.get("monthly_amount") or "").strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 < amount < 1_000_000:
        return None
    amount = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)  # 元 to the 分, 四舍五入; checked again as told
    if not 0 < amount < 1_000_000:
        return None
    if start is None or day is None or not 1 <= day <= 31 or not number:
        return None
    notice = Notice(PENSION_KIND, month_text(start), {"monthly_amount": f"{amount}",
                                                      "start_month": _chinese_month(start), "pay_day": day})
    return Award(number, _phone(values), notice)
