"""Synthetic HRSS approvals (simulators.people): plausible, valid, about 3 % broken, deterministic."""

from __future__ import annotations

from typing import Any

import pytest

import simulators.people as seed_module
from lianban.domain.catalog import Catalog
from lianban.domain.identity import BOZHOU_AREAS, id_birth_date, id_is_male
from lianban.domain.record import RetirementRecord
from lianban.domain.retirement import Category, retirement_month
from lianban.domain.validation import problems
from simulators.people import generate


@pytest.fixture(scope="module")
def apps() -> list[dict[str, Any]]:
    return list(generate(1000))


def as_record(app: dict[str, Any]) -> RetirementRecord:
    return RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})


def statutory_start(app: dict[str, Any], category: Category) -> str:
    birth = id_birth_date(app["id_number"])
    return "{}-{:02d}".format(*retirement_month(category, birth.year, birth.month))


def test_case_numbers_are_unique(apps: list[dict[str, Any]]) -> None:
    assert len({a["case_no"] for a in apps}) == 1000
    assert not {a["case_no"] for a in generate(10, start_seq=1001)} & {a["case_no"] for a in apps}


def test_records_are_valid_unless_broken_on_purpose(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> None:
    monkeypatch.setattr(seed_module, "BROKEN_SHARE", 0.0)
    assert [a["case_no"] for a in generate(1000) if problems(as_record(a), catalog)] == []


def test_about_three_percent_are_broken_with_one_reason_each(apps: list[dict[str, Any]], catalog: Catalog) -> None:
    reasons = [problems(as_record(a), catalog) for a in apps]
    broken = [r for r in reasons if r]
    assert 10 <= len(broken) <= 60
    assert all(len(r) == 1 for r in broken)


def test_people_are_from_bozhou_and_sex_matches_the_retirement_category(apps: list[dict[str, Any]]) -> None:
    for app in apps:
        assert app["id_number"][:6] in BOZHOU_AREAS
        if id_is_male(app["id_number"]):
            assert statutory_start(app, Category.MALE) == app["pension_start"], app["case_no"]
        else:
            women = {statutory_start(app, Category.FEMALE55), statutory_start(app, Category.FEMALE50)}
            assert app["pension_start"] in women, app["case_no"]
        assert "2025-01" <= app["pension_start"] <= "2026-12"


def test_item_01_is_always_chosen(apps: list[dict[str, Any]]) -> None:
    assert all(a["items"].split(",")[0] == "01" for a in apps)
    assert any("11" in a["items"].split(",") for a in apps)


def test_same_seed_same_records() -> None:
    assert list(generate(50, seed=7)) == list(generate(50, seed=7))
    assert list(generate(50, seed=7)) != list(generate(50, seed=8))
