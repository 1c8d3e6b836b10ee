"""A status row's changed_at is read as ISO 8601 in the plausible years, or the row cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lianban.wire.contract import CHANGED_AT_AHEAD, read_changed_at


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00+08:00", "2026-12-01T02:00:00Z",
                                  "2000-01-01T00:00:00.000001+08:00"])
def test_iso_8601_in_the_plausible_years_is_kept_as_given(text: str) -> None:
    assert read_changed_at(text) == text


def test_a_time_a_little_ahead_of_the_hubs_clock_is_kept() -> None:
    """A department's clock a few minutes fast (within the skew a signed request may have) is no mistake."""
    text = (datetime.now(UTC) + CHANGED_AT_AHEAD - timedelta(seconds=30)).isoformat()
    assert read_changed_at(text) == text


@pytest.mark.parametrize("ahead", [CHANGED_AT_AHEAD + timedelta(seconds=30), timedelta(hours=8), timedelta(days=365)])
def test_a_time_further_ahead_is_refused_saying_so(ahead: timedelta) -> None:
    """A time in the future (a wrong zone, a wrong year) would outrank every real later report of the item: the
    row is refused with the reason, never kept."""
    text = (datetime.now(UTC) + ahead).isoformat()
    with pytest.raises(ValueError, match="晚于") as refused:
        read_changed_at(text)
    assert text not in str(refused.value)


@pytest.mark.parametrize(("text", "kept"), [("2026-12-01 10:00", "2026-12-01T10:00:00+08:00"),
                                            ("2026-12-01", "2026-12-01T00:00:00+08:00"),
                                            ("2000-01-01T00:00:00", "2000-01-01T00:00:00+08:00")])
def test_a_time_without_an_offset_is_kept_as_the_beijing_time_it_is(text: str, kept: str) -> None:
    """A department keeps local time with no zone: read as UTC, it was 8 hours off."""
    assert read_changed_at(text) == kept


@pytest.mark.parametrize("value", ["2026/12/01 10:00", "01-12-2026 10:00", "2026-12-01T25:00", "昨天", " ",
                                   "1999-12-31T23:59:59+08:00", "2100-12-31T23:59:59.999999+08:00",
                                   "2101-01-01T00:00:00", "9999-12-31T23:59:59",
                                   None, 1764554400, datetime(2026, 12, 1)])
def test_anything_else_is_refused_without_quoting_it(value: Any) -> None:
    with pytest.raises(ValueError, match="changed_at") as refused:
        read_changed_at(value)
    assert len(str(value).strip()) < 5 or str(value) not in str(refused.value)  # the value is not quoted
