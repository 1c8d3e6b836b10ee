"""Required columns, the departments' length limits, formats, chosen items and the same person's open case."""

from __future__ import annotations

import pytest
from rule_kit import codes

from lianban.domain.catalog import load_catalog
from lianban.domain.rules.base import load_rule_data

REQUIRED = load_rule_data().required


@pytest.mark.parametrize("key", REQUIRED)
def test_each_required_column_blank_has_its_own_code(key: str) -> None:
    assert f"REQUIRED_{key.upper()}" in codes(**{key: "  "})
    assert f"REQUIRED_{key.upper()}" in codes(**{key: None})


@pytest.mark.parametrize(("key", "limit"), [(k, f.max_length) for k, f in load_catalog().fields.items()
                                            if f.max_length])
def test_longer_than_the_department_accepts(key: str, limit: int) -> None:
    assert f"TOO_LONG_{key.upper()}" in codes(**{key: "张" * (limit + 1)})
    assert f"TOO_LONG_{key.upper()}" not in codes(**{key: "张" * limit})


@pytest.mark.parametrize(
    ("change", "expected"),
    [({"pension_start": "2025/07"}, "PENSION_START_FORMAT"), ({"pension_start": "2025-13"}, "PENSION_START_FORMAT"),
     ({"approved_at": "2025/06/20 10:00"}, "APPROVED_AT_FORMAT"),
     ({"contribution_months": "三百"}, "CONTRIBUTION_FORMAT"), ({"contribution_months": "1201"}, "CONTRIBUTION_RANGE")],
)
def test_formats(change: dict[str, str], expected: str) -> None:
    assert expected in codes(**change)


@pytest.mark.parametrize(
    ("items", "expected"),
    [("01,11,12", []), ("01，11、12", []), (" 01 , 14 ", []), ("01,15", ["ITEMS_UNKNOWN"]),
     ("01,11,01", ["ITEMS_REPEATED"]), ("01,1,11", ["ITEMS_UNKNOWN"]), ("01,06,07", ["ITEMS_CONFLICT"]),
     ("01,07", []), ("01,11,11,99", ["ITEMS_UNKNOWN", "ITEMS_REPEATED"]), ("", ["REQUIRED_ITEMS"])],
)
def test_chosen_items(items: str, expected: list[str]) -> None:
    assert codes(items=items) == expected


def test_the_same_person_with_an_open_case_is_refused() -> None:
    assert codes(open_person=True) == ["DUPLICATE_PERSON"]
    assert codes(open_person=False) == []
