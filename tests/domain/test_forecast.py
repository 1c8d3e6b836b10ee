"""The forecast's counting: months in the span only, by category, and each department's load from item shares."""

from __future__ import annotations

from itertools import count

from lianban.domain.forecast import Forecast, History
from lianban.domain.register import Insured
from lianban.domain.retirement import Category, month_index

DEPARTMENTS = {"01": "hrss", "10": "hrss", "11": "medical", "14": "housing_fund"}


_NUMBERS = count(1)


def _man(year: int, month: int, number: str | None = None) -> Insured:
    """A man born `year`-`month`: another person each call, unless `number` says who."""
    return Insured(number or f"man-{next(_NUMBERS)}", month_index(year, month), Category.MALE, None, None)


def test_people_are_counted_in_their_retirement_month_within_the_span() -> None:
    counted = Forecast(month_index(2025, 5), 3)  # 2025-05 .. 2025-07
    for born in ((1965, 4), (1965, 4), (1965, 5), (1965, 6), (1970, 1)):  # → 2025-05, 05, 07, 08, later
        counted.add(_man(*born))
    counted.add(Insured("y", month_index(1971, 4), Category.FEMALE55, None, None))  # 2026-08: outside
    rows = counted.as_json(History(0, {}), DEPARTMENTS)["months"]
    assert [(r["month"], r["reaching_age"]) for r in rows] == [  # type: ignore[index]
        ("2025-05", 2), ("2025-06", 0), ("2025-07", 1)]
    assert rows[0]["by_category"] == {"male": 2, "female55": 0, "female50": 0}  # type: ignore[index]


def test_a_person_the_register_holds_twice_is_counted_once() -> None:
    # two rows of one person (two 参保 relationships, say): one person reaching age, as 到龄提醒 reminds them once
    counted = Forecast(month_index(2025, 5), 1)
    for _ in range(2):
        counted.add(_man(1965, 4, number="341602196504010011"))
    counted.add(_man(1965, 4))
    assert counted.as_json(History(0, {}), DEPARTMENTS)["months"][0]["reaching_age"] == 2  # type: ignore[index]


def test_the_load_of_a_department_sums_its_items_shares() -> None:
    counted = Forecast(month_index(2025, 5), 1)
    for _ in range(10):
        counted.add(_man(1965, 4))
    history = History(4, {"01": 4, "10": 1, "11": 3})
    result = counted.as_json(history, DEPARTMENTS)
    assert result["months"][0]["by_department"] == {  # type: ignore[index]
        "housing_fund": 0.0, "hrss": 12.5, "medical": 7.5}
    assert result["history"] == {"cases": 4, "item_share": {"01": 1.0, "10": 0.25, "11": 0.75},
                                 "note": "按台账中 4 件办件的事项选择比例估算 (shares of 4 staged cases)"}
