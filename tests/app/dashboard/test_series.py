"""Day-by-day figures: the window's days, the success rate and the median delay, None where there is nothing."""

from __future__ import annotations

from datetime import date

from lianban.app.dashboard.series import median, rate, window


def test_the_window_ends_today_oldest_first() -> None:
    days = window(date(2026, 3, 2), 3)
    assert days == [date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]


def test_a_success_rate_is_in_per_cent_and_none_without_decided_deliveries() -> None:
    assert (rate(3, 1), rate(1, 2), rate(0, 0), rate(0, 4)) == (75.0, 33.3, None, 0.0)


def test_the_median_delay() -> None:
    assert (median([4, 30, 6]), median([4, 6]), median([])) == (6.0, 5.0, None)
