"""The charts: bars as long as their values, lines through the days with a gap where a day has no value,
labels escaped, and a sentence instead of an empty frame."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from lianban.app.dashboard.svg import EMPTY, bar_chart, bar_length, line_chart, polylines, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def _widths(markup: str) -> list[float]:
    return [float(r.get("width", "0")) for r in ET.fromstring(markup).iter(f"{SVG}rect")]


def test_bars_are_proportional_to_their_values_and_the_largest_fills_the_room() -> None:
    widths = _widths(bar_chart("投递", [("已接收", 100), ("死信", 25), ("重试中", 0)], width=480))
    assert widths[0] == 480 - 140 - 56 and widths[1] == widths[0] / 4 and widths[2] == 0


def test_a_bar_length_is_zero_when_nothing_can_be_shown() -> None:
    assert (bar_length(5, 0, 100), bar_length(0, 5, 100), bar_length(-1, 5, 100), bar_length(5, 10, 100)) == \
        (0.0, 0.0, 0.0, 50.0)


def test_each_bar_says_its_label_and_value_and_the_chart_its_title() -> None:
    root = ET.fromstring(bar_chart("各部门未办结事项", [("医疗保障局", 7)]))
    assert root.find(f"{SVG}title").text == "各部门未办结事项"  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["医疗保障局", "7"]
    assert root.get("role") == "img"


def test_labels_are_escaped() -> None:
    markup = bar_chart("<script>", [("<b>&", 1)])
    assert "<script>" not in markup and "<b>" not in markup and "&lt;b&gt;&amp;" in markup
    ET.fromstring(markup)  # still well-formed


def test_nothing_to_draw_says_so() -> None:
    assert EMPTY in bar_chart("投递", []) and EMPTY in line_chart("成功率", ["12-01", "12-02"], [None, None])


def test_a_line_runs_from_left_to_right_scaled_to_the_top_value() -> None:
    [run] = polylines([0, 50, 100], width=200, height=100)
    assert run == [(0.0, 100.0), (100.0, 50.0), (200.0, 0.0)]


def test_a_day_without_a_value_breaks_the_line() -> None:
    runs = polylines([10, None, 20, 40], width=300, height=100, ceiling=40)
    assert runs == [[(0.0, 75.0)], [(200.0, 50.0), (300.0, 0.0)]]


def test_a_line_chart_has_one_dot_per_day_with_a_value_and_names_the_first_and_last_day() -> None:
    markup = line_chart("投递成功率（%）", ["11-30", "12-01", "12-02"], [90.0, None, 100.0], "%", ceiling=100)
    root = ET.fromstring(markup)
    dots = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]  # type: ignore[union-attr]
    assert dots == ["11-30：90%", "12-02：100%"]
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    assert {"11-30", "12-02", "100%"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_a_sparkline_is_a_small_line_without_labels() -> None:
    markup = sparkline("近 7 天事件", [1, 3, 2])
    assert not re.search(r"<text", markup) and markup.count("<polyline") == 1
    ET.fromstring(markup)
