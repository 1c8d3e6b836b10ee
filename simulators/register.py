"""A synthetic HRSS register of insured workers and its approved pensions (双告知; `lianban seed --register N`).
Synthetic people only: ID numbers from :func:`simulators.people.make_id_number` (valid check digits, the sex digit
matching the category, unique within one register).

Each person: a category (male / female55 / female50, as 原法定退休年龄 60/55/50), a birth month whose statutory
retirement month falls from a year before `reference` to three years after (most of them), or long after (a
share of younger workers), a mobile phone, contributions so far and an insured status (mostly 正常参保). Edge
cases on purpose: people born just before and just after each category's first affected birth month
(1964-12/1965-01, 1969-12/1970-01, 1974-12/1975-01) and its capped one (1976-09, 1981-09, 1984-11), no phone, an
invalid phone, contributions below the minimum, and people who left the scheme (终止参保, never reminded).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

from lianban.domain.identity import BOZHOU_AREAS
from lianban.domain.retirement import RULES, Category, month_index, month_text
from simulators.people import GIVEN, ORIGINAL_AGE, SURNAMES, make_id_number

__all__ = ["EDGE_BIRTHS", "generate_awards", "generate_register"]

#: birth months at each category's reform edges: last unaffected, first affected, capped
EDGE_BIRTHS = {Category.MALE: ((1964, 12), (1965, 1), (1976, 9)),
               Category.FEMALE55: ((1969, 12), (1970, 1), (1981, 9)),
               Category.FEMALE50: ((1974, 12), (1975, 1), (1984, 11))}
EDGE_SHARE, YOUNG_SHARE = 0.08, 0.15
PHONE_ODDS = (("valid", 90), ("missing", 5), ("invalid", 5))
STATUS_ODDS = (("1", 88), ("2", 8), ("3", 4))  # 正常参保, 暂停缴费, 终止参保
SHORT_SHARE = 0.1  # contributions below the minimum


def _phone(rng: random.Random) -> str | None:
    kind = rng.choices([k for k, _ in PHONE_ODDS], weights=[w for _, w in PHONE_ODDS])[0]
    number = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
    return {"valid": number, "missing": None, "invalid": number[:8]}[kind]


def _birth(rng: random.Random, category: Category, reference: int) -> int:
    """A birth month index: at a reform edge, young, or reaching statutory age around `reference`."""
    rule, draw = RULES[category], rng.random()
    if draw < EDGE_SHARE:
        return month_index(*rng.choice(EDGE_BIRTHS[category]))
    youngest = reference - rule.base_years * 12 + 36  # retiring ≥ 3 years after reference
    if draw < EDGE_SHARE + YOUNG_SHARE:
        return rng.randint(youngest, youngest + 240)
    oldest = reference - (rule.base_years * 12 + rule.cap_months) - 12  # retired a year before reference
    return rng.randint(oldest, youngest)


def _person(rng: random.Random, seq: int, reference: int) -> dict[str, Any]:
    category = rng.choices(list(Category), weights=(55, 20, 25))[0]
    birth = _birth(rng, category, reference)
    born = date(birth // 12, birth % 12 + 1, rng.randint(1, 28))
    months = rng.randint(12, 179) if rng.random() < SHORT_SHARE else rng.randint(180, 480)
    return {"id_number": make_id_number(rng.choice(list(BOZHOU_AREAS)), born, seq, category is Category.MALE),
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
            "birth_month": month_text(birth), "original_age": ORIGINAL_AGE[category], "phone": _phone(rng),
            "contribution_months": months,
            "insured_status": rng.choices([s for s, _ in STATUS_ODDS], weights=[w for _, w in STATUS_ODDS])[0],
            "updated_at": f"{date.fromordinal(date(2026, 1, 1).toordinal() + rng.randint(0, 300))}T09:00:00+08:00"}


def generate_register(count: int, reference: date, seed: int = 20250101) -> Iterator[dict[str, Any]]:
    """`count` register rows (domain keys) around the month of `reference`; no ID number twice."""
    rng, seen, seq = random.Random(seed), set[str](), 0
    now = month_index(reference.year, reference.month)
    while len(seen) < count:
        seq += 1
        person = _person(rng, seq, now)
        if person["id_number"] not in seen:
            seen.add(person["id_number"])
            yield person


def generate_awards(count: int, reference: date, seed: int = 20250101) -> Iterator[dict[str, Any]]:
    """`count` approved pensions (domain keys) of synthetic pensioners, starting the month after `reference`."""
    rng = random.Random(f"{seed}:待遇核定")
    start = month_index(reference.year, reference.month) + 1
    for n, person in enumerate(generate_register(count, reference, seed + 1), start=1):
        yield {"award_no": f"HD{reference:%Y%m}{n:06d}", "case_no": None, "id_number": person["id_number"],
               "phone": person["phone"], "monthly_amount": f"{rng.randint(1500_00, 9000_00) / 100:.2f}",
               "start_month": month_text(start + rng.randint(0, 2)), "pay_day": str(rng.choice((10, 15, 20))),
               "approved_at": f"{reference.isoformat()}T10:00:00+08:00"}
