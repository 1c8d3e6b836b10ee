"""The retirement-wave forecast over a synthetic register matches a brute-force count, streamed in chunks; the
department load follows the item choices of the cases staged in the ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from connectors.hrss.frontend import FrontendDB
from lianban.app.config import Paths
from lianban.domain.catalog import Catalog
from lianban.domain.retirement import Category, month_index, retirement_month
from lianban.ledger.db import session_factory
from lianban.ledger.models import Case
from lianban.pipeline.forecast import forecast
from lianban.pipeline.stage import stage
from simulators.register import generate_register

TODAY = date(2026, 11, 20)
CATEGORY = {"60": Category.MALE, "55": Category.FEMALE55, "50": Category.FEMALE50}
FIRST = month_index(2026, 12)


class Chunked:
    """A register read through the real one, remembering the size of every chunk it handed out."""

    def __init__(self, register: Any) -> None:
        self.register, self.sizes = register, list[int]()

    def insured(self, size: int) -> Iterator[list[dict[str, Any]]]:
        for rows in self.register.insured(size):
            self.sizes.append(len(rows))
            yield rows


def brute_force(people: list[dict[str, Any]], months: int) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for p in people:
        if p["insured_status"] == "3":
            continue
        year, month = (int(x) for x in p["birth_month"].split("-"))
        ry, rm = retirement_month(CATEGORY[p["original_age"]], year, month)
        if 0 <= month_index(ry, rm) - FIRST < months:
            counts.setdefault(f"{ry:04d}-{rm:02d}", Counter())[CATEGORY[p["original_age"]].value] += 1
    return counts


def test_the_forecast_matches_a_brute_force_count_of_the_register(paths: Paths) -> None:
    people = list(generate_register(1500, TODAY, seed=5))
    source = FrontendDB(paths.frontend_url)
    source.register.insert_people(people)
    chunked = Chunked(source.register)
    result: dict[str, Any] = forecast(chunked, paths.ledger_url, FIRST, 24, chunk=200)
    assert max(chunked.sizes) == 200 and len(chunked.sizes) > 5  # streamed, never all at once
    expected = brute_force(people, 24)
    months = result["months"]
    assert [m["month"] for m in months][:2] == ["2026-12", "2027-01"] and len(months) == 24
    for m in months:
        want = expected.get(m["month"], Counter())
        assert m["reaching_age"] == sum(want.values())
        assert m["by_category"] == {c.value: want[c.value] for c in Category}
    assert sum(m["reaching_age"] for m in months) > 100 and any(m["reaching_age"] == 0 for m in months)
    assert result["history"]["cases"] == 0 and "尚无办件" in result["history"]["note"]
    assert all(v == 0 for m in months for v in m["by_department"].values())


def test_the_department_load_follows_the_items_staged_cases_chose(
        paths: Paths, seeded: tuple[FrontendDB, list[dict[str, Any]]], catalog: Catalog) -> None:
    source, apps = seeded
    stage(source, paths.ledger_url, paths.keys_dir)
    with session_factory(paths.ledger_url)() as session:
        staged = set(session.scalars(select(Case.case_no)))
    chosen = [a["items"].split(",") for a in apps if a["case_no"] in staged]
    source.register.insert_people(generate_register(300, TODAY, seed=9))
    result: dict[str, Any] = forecast(source.register, paths.ledger_url, FIRST, 6)
    assert result["history"]["cases"] == len(chosen) > 0
    for department in ("medical", "housing_fund", "hrss"):
        items = [c for c, i in catalog.items.items() if i.department == department]
        per_person = sum(code in items for case in chosen for code in case) / len(chosen)
        for m in result["months"]:
            assert m["by_department"][department] == pytest.approx(m["reaching_age"] * per_person, abs=0.051)
