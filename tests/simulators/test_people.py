"""Synthetic HRSS approvals (simulators.people): plausible, valid, about 3 % broken, deterministic."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import simulators.people as seed_module
from lianban.domain.catalog import Catalog
from lianban.domain.identity import BOZHOU_AREAS, id_birth_date, id_is_male
from lianban.domain.record import RetirementRecord
from lianban.domain.retirement import Category, retirement_month
from lianban.domain.rules import Reason
from lianban.domain.validation import judge
from simulators.people import generate, repair


@pytest.fixture(scope="module")
def apps() -> list[dict[str, Any]]:
    return list(generate(1000))


def as_record(app: dict[str, Any]) -> RetirementRecord:
    return RetirementRecord(**{**app, "items": tuple(app["items"].split(",")), "password": None})


def judged(apps: list[dict[str, Any]], catalog: Catalog) -> list[list[Reason]]:
    return judge([as_record(a) for a in apps], catalog)


def statutory_start(app: dict[str, Any], category: Category) -> str:
    birth = id_birth_date(app["id_number"])
    return "{}-{:02d}".format(*retirement_month(category, birth.year, birth.month))


def test_case_numbers_are_unique(apps: list[dict[str, Any]]) -> None:
    assert len({a["case_no"] for a in apps}) == 1000
    assert not {a["case_no"] for a in generate(10, start_seq=1001)} & {a["case_no"] for a in apps}


def test_records_are_valid_unless_broken_on_purpose(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> None:
    monkeypatch.setattr(seed_module, "BROKEN_SHARE", 0.0)
    apps = list(generate(1000))
    assert [a["case_no"] for a, r in zip(apps, judged(apps, catalog), strict=True) if r] == []


def test_about_three_percent_are_broken_with_one_intended_reason_each(apps: list[dict[str, Any]],
                                                                      catalog: Catalog) -> None:
    broken = [r for r in judged(apps, catalog) if r]
    assert 10 <= len(broken) <= 60
    assert all(len(r) == 1 for r in broken)
    assert {r[0].code for r in broken} == {"ID_CHECK", "REQUIRED_EMPLOYER_NAME", "PHONE", "REFORM_CONTRIBUTION"}


def test_every_broken_record_is_valid_once_repaired(apps: list[dict[str, Any]], catalog: Catalog) -> None:
    broken = [repair(a) for a, r in zip(apps, judged(apps, catalog), strict=True) if r]
    assert broken and [a["case_no"] for a, r in zip(broken, judged(broken, catalog), strict=True) if r] == []


def test_people_are_from_bozhou_and_sex_matches_the_retirement_category(apps: list[dict[str, Any]]) -> None:
    ages = {Category.MALE: "60", Category.FEMALE55: "55", Category.FEMALE50: "50"}
    for app in apps:
        assert app["id_number"][:6] in BOZHOU_AREAS
        category = next(c for c, age in ages.items() if age == app["original_age"])
        assert id_is_male(app["id_number"]) is (category is Category.MALE), app["case_no"]
        if app["retirement_type"] == "01":
            assert statutory_start(app, category) == app["pension_start"], app["case_no"]
        assert "2025-01" <= statutory_start(app, category) <= "2026-12"


def test_every_retirement_type_occurs_and_most_retire_normally(apps: list[dict[str, Any]]) -> None:
    kinds = Counter(a["retirement_type"] for a in apps)
    assert set(kinds) == {"01", "02", "03", "04", "05"}
    assert kinds["01"] > 0.7 * len(apps)


def test_items_06_and_07_are_never_chosen_together(apps: list[dict[str, Any]]) -> None:
    assert not [a for a in apps if {"06", "07"} <= set(a["items"].split(","))]


def test_item_01_is_always_chosen(apps: list[dict[str, Any]]) -> None:
    assert all(a["items"].split(",")[0] == "01" for a in apps)
    assert any("11" in a["items"].split(",") for a in apps)


def test_same_seed_same_records() -> None:
    assert list(generate(50, seed=7)) == list(generate(50, seed=7))
    assert list(generate(50, seed=7)) != list(generate(50, seed=8))
