"""A status row's changed_at is read as ISO 8601 in the plausible years, or the row cannot be read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lianban.wire.contract import read_changed_at


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00+08:00", "2026-12-01T02:00:00Z",
                                  "2100-12-31T23:59:59.999999+08:00"])
def test_iso_8601_in_the_plausible_years_is_kept_as_given(text: str) -> None:
    assert read_changed_at(text) == text


@pytest.mark.parametrize(("text", "kept"), [("2026-12-01 10:00", "2026-12-01T10:00:00+08:00"),
                                            ("2026-12-01", "2026-12-01T00:00:00+08:00"),
                                            ("2000-01-01T00:00:00", "2000-01-01T00:00:00+08:00")])
def test_a_time_without_an_offset_is_kept_as_the_beijing_time_it_is(text: str, kept: str) -> None:
    """A department keeps local time with no zone: read as UTC, it was 8 hours off."""
    assert read_changed_at(text) == kept


@pytest.mark.parametrize("value", ["2026/12/01 10:00", "01-12-2026 10:00", "2026-12-01T25:00", "昨天", " ",
                                   "1999-12-31T23:59:59+08:00", "2101-01-01T00:00:00", "9999-12-31T23:59:59",
                                   None, 1764554400, datetime(2026, 12, 1)])
def test_anything_else_is_refused_without_quoting_it(value: Any) -> None:
    with pytest.raises(ValueError, match="changed_at") as refused:
        read_changed_at(value)
    assert len(str(value).strip()) < 5 or str(value) not in str(refused.value)  # the value is not quoted
