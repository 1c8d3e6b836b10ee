"""The synthetic register (simulators.register): valid and unique ID numbers matching birth month and sex, the
reform's edge births, and the edge cases a reminder run must handle."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from lianban.domain.identity import id_birth_date, id_is_male, id_problem, phone_problem
from lianban.domain.retirement import Category, month_index, retirement_month
from simulators.register import EDGE_BIRTHS, generate_awards, generate_register

REFERENCE = date(2026, 11, 20)
CATEGORY = {"60": Category.MALE, "55": Category.FEMALE55, "50": Category.FEMALE50}


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    return list(generate_register(2000, REFERENCE))


def test_every_id_number_is_valid_unique_and_matches_birth_month_and_sex(people: list[dict[str, Any]]) -> None:
    numbers = [p["id_number"] for p in people]
    assert len(set(numbers)) == len(numbers) == 2000
    for p in people:
        assert id_problem(p["id_number"]) is None
        assert f"{id_birth_date(p['id_number']):%Y-%m}" == p["birth_month"]
        assert id_is_male(p["id_number"]) is (p["original_age"] == "60")


def test_the_register_holds_every_edge_a_reminder_run_must_handle(people: list[dict[str, Any]]) -> None:
    births = {(CATEGORY[p["original_age"]], p["birth_month"]) for p in people}
    assert all((c, f"{y:04d}-{m:02d}") in births for c, edges in EDGE_BIRTHS.items() for y, m in edges)
    phones = Counter("missing" if not p["phone"] else "invalid" if phone_problem(p["phone"]) else "valid"
                     for p in people)
    assert phones["missing"] > 20 and phones["invalid"] > 20 and phones["valid"] > 1500
    assert sum(p["contribution_months"] < 180 for p in people) > 50
    assert Counter(p["insured_status"] for p in people).keys() == {"1", "2", "3"}
    now = month_index(REFERENCE.year, REFERENCE.month)
    ahead = [month_index(*retirement_month(CATEGORY[p["original_age"]], *map(int, p["birth_month"].split("-"))))
             - now for p in people]
    assert sum(0 <= a <= 3 for a in ahead) > 30 and sum(a > 36 for a in ahead) > 200  # due soon, and young


def test_the_register_and_awards_are_the_same_for_the_same_seed() -> None:
    assert list(generate_register(50, REFERENCE, 3)) == list(generate_register(50, REFERENCE, 3))
    awards = list(generate_awards(20, REFERENCE, 3))
    assert len({a["award_no"] for a in awards}) == 20 and all(a["start_month"] >= "2026-12" for a in awards)
