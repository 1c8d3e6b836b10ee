"""Reform consistency: category × sex digit, the pension start of each retirement type at its window's
edges, and the minimum contribution of the start year (lianban.domain.rules.reform)."""

from __future__ import annotations

from datetime import date

import pytest
from rule_kit import codes, id_number, prefixed

MAN_1965_05 = id_number(date(1965, 5, 10))  # statutory 60y2m → 2025-07; flexible 2025-05 … 2028-07
WOMAN_1971_04 = id_number(date(1971, 4, 3), male=False)  # female55: 55y4m → 2026-08
WOMAN_1984_10 = id_number(date(1984, 10, 3), male=False)  # female50: 54y11m → 2039-09


def reform(**changes: object) -> list[str]:
    return prefixed("REFORM_", **changes)


@pytest.mark.parametrize(
    ("kind", "start", "expected"),
    [
        ("01", "2025-07", []), ("01", "2025-06", ["REFORM_START_NORMAL"]), ("01", "2025-08", ["REFORM_START_NORMAL"]),
        ("02", "2025-05", []), ("02", "2025-06", []), ("02", "2025-04", ["REFORM_FLEX_WINDOW"]),
        ("02", "2025-07", ["REFORM_FLEX_WINDOW"]),  # at the statutory month it is not early
        ("03", "2025-08", []), ("03", "2028-07", []), ("03", "2025-07", ["REFORM_FLEX_WINDOW"]),
        ("03", "2028-08", ["REFORM_FLEX_WINDOW"]),
        ("04", "2020-05", []), ("04", "2025-06", []), ("04", "2020-04", ["REFORM_SPECIAL_WINDOW"]),  # men 55
        ("04", "2025-07", ["REFORM_SPECIAL_WINDOW"]),
        ("05", "2015-05", []), ("05", "2015-04", ["REFORM_SPECIAL_WINDOW"]),  # men 50 (病退)
    ],
)
def test_each_retirement_type_at_its_window_edges_for_a_man_born_1965_05(kind: str, start: str,
                                                                          expected: list[str]) -> None:
    assert reform(retirement_type=kind, pension_start=start) == expected


@pytest.mark.parametrize(
    ("number", "age", "kind", "start", "expected"),
    [
        (WOMAN_1971_04, "55", "01", "2026-08", []),
        (WOMAN_1971_04, "55", "02", "2026-04", []),  # 55y4m − 36 < 55: never below the original age
        (WOMAN_1971_04, "55", "02", "2026-03", ["REFORM_FLEX_WINDOW"]),
        (WOMAN_1971_04, "55", "03", "2029-08", []),
        (WOMAN_1971_04, "55", "04", "2016-04", []), (WOMAN_1971_04, "55", "04", "2016-03", ["REFORM_SPECIAL_WINDOW"]),
        (WOMAN_1971_04, "55", "05", "2016-04", []),  # women 45 for both special types
        (WOMAN_1984_10, "50", "01", "2039-09", []),
        (WOMAN_1984_10, "50", "02", "2036-09", []), (WOMAN_1984_10, "50", "02", "2036-08", ["REFORM_FLEX_WINDOW"]),
        (WOMAN_1984_10, "50", "03", "2042-09", []), (WOMAN_1984_10, "50", "03", "2042-10", ["REFORM_FLEX_WINDOW"]),
    ],
)
def test_women_of_both_categories(number: str, age: str, kind: str, start: str, expected: list[str]) -> None:
    months = {"2039": 240, "2042": 240, "2036": 222}.get(start[:4], 300)
    assert reform(id_number=number, original_age=age, retirement_type=kind, pension_start=start,
                  contribution_months=months) == expected


@pytest.mark.parametrize(
    ("birth", "age", "start", "ok"),
    [
        (date(1964, 12, 1), "60", "2024-12", True),  # before the first affected birth month: 60 exactly
        (date(1965, 1, 1), "60", "2025-02", True),  # first affected: 60y1m
        (date(1965, 1, 1), "60", "2025-01", False),
        (date(1976, 9, 1), "60", "2039-09", True),  # capped at 63
        (date(1980, 3, 1), "60", "2043-03", True),
        (date(1984, 11, 1), "50", "2039-11", True),  # female50 capped at 55
    ],
)
def test_first_affected_and_capped_birth_months(birth: date, age: str, start: str, ok: bool) -> None:
    number = id_number(birth, male=age == "60")
    assert ("REFORM_START_NORMAL" not in codes(id_number=number, original_age=age, pension_start=start,
                                               contribution_months=300)) is ok


def test_nobody_retires_normally_in_june_2025_as_a_man() -> None:
    for birth in (date(1965, 3, 1), date(1965, 4, 1), date(1965, 5, 1)):
        assert "REFORM_START_NORMAL" in codes(id_number=id_number(birth), pension_start="2025-06")


@pytest.mark.parametrize(
    ("start", "minimum"),
    [("2029-12", 180), ("2030-01", 186), ("2030-12", 186), ("2035-06", 216), ("2038-12", 234), ("2039-01", 240),
     ("2042-01", 240)],
)
def test_minimum_contribution_of_the_start_year(start: str, minimum: int) -> None:
    def contribution(months: int) -> list[str]:
        return [c for c in codes(retirement_type="03", pension_start=start, contribution_months=months)
                if c == "REFORM_CONTRIBUTION"]

    assert contribution(minimum) == []
    assert contribution(minimum - 1) == ["REFORM_CONTRIBUTION"]


def test_the_contribution_reason_names_the_year_and_its_minimum() -> None:
    from rule_kit import row

    from lianban.domain.catalog import load_catalog
    from lianban.domain.rules import evaluate
    from lianban.domain.rules.frame import from_rows

    (reasons,) = evaluate(from_rows([row(contribution_months=179)]), load_catalog())
    assert [r.message for r in reasons] == ["养老保险缴费月数低于退休当年的最低缴费年限（2025年为180个月）"]


@pytest.mark.parametrize(
    ("male", "age", "expected"),
    [(True, "60", []), (True, "55", ["REFORM_SEX"]), (False, "60", ["REFORM_SEX"]), (False, "50", [])],
)
def test_the_sex_digit_agrees_with_the_category(male: bool, age: str, expected: list[str]) -> None:
    found = codes(id_number=id_number(date(1965, 5, 10), male=male), original_age=age)
    assert [c for c in found if c == "REFORM_SEX"] == expected


@pytest.mark.parametrize(("column", "value", "code"), [("original_age", "45", "REFORM_CATEGORY"),
                                                       ("original_age", "6０", "REFORM_CATEGORY"),
                                                       ("retirement_type", "06", "REFORM_TYPE"),
                                                       ("retirement_type", "1", "REFORM_TYPE")])
def test_unknown_category_or_type_codes(column: str, value: str, code: str) -> None:
    assert codes(**{column: value}) == [code]


@pytest.mark.parametrize(
    ("kind", "start", "named"),
    [("01", "2025-06", "（应为2025-07）"), ("02", "2025-04", "（可选2025-05至2025-06）"),
     ("03", "2028-08", "（可选2025-08至2028-07）")],
)
def test_the_reason_names_the_month_or_window_that_would_pass(kind: str, start: str, named: str) -> None:
    from rule_kit import row

    from lianban.domain.catalog import load_catalog
    from lianban.domain.rules import evaluate
    from lianban.domain.rules.frame import from_rows

    (reasons,) = evaluate(from_rows([row(retirement_type=kind, pension_start=start)]), load_catalog())
    assert len(reasons) == 1 and reasons[0].message.endswith(named)
