"""Charts as server-rendered SVG: no script, no font or file from anywhere (the service hall's network is closed).

Each function returns one ``<svg>`` element (``role="img"`` with a ``<title>``, so a screen reader says what it
shows) or, with nothing to draw, a short Chinese sentence saying so. Every label is XML-escaped. Pure: data in,
markup out.

    bar_chart   horizontal bars, one per label, the value at the bar's end
    line_chart  a value per day as a line with its dots; a day without a value breaks the line
    sparkline   a small line without axes, for a number's recent trend
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["EMPTY", "bar_chart", "bar_length", "line_chart", "polylines", "sparkline"]

EMPTY = "暂无数据"
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, VALUE_WIDTH = 18, 6, 140, 56
PLOT_HEIGHT, PAD = 120, 24


def _empty() -> str:
    return f'<p class="empty">{EMPTY}</p>'


def bar_length(value: float, largest: float, room: float) -> float:
    """How long `value`'s bar is when the `largest` value fills `room` (0 for nothing to show)."""
    return 0.0 if largest <= 0 or value <= 0 else room * value / largest


def _bar(index: int, label: str, value: int, largest: int, room: int, tone: str) -> str:
    y = index * (BAR_HEIGHT + BAR_GAP)
    length = bar_length(value, largest, room)
    text_y = y + BAR_HEIGHT - 4
    return (f'<text x="{LABEL_WIDTH - 6}" y="{text_y}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar {tone}" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}">'
            f"<title>{escape(label)}：{value}</title></rect>"
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{text_y}">{value}</text>')


def bar_chart(title: str, bars: Sequence[tuple[str, int]], width: int = 480,
              tones: dict[str, str] | None = None) -> str:
    """One horizontal bar per (label, value); `tones`: a CSS class per label (default ``neutral``)."""
    if not bars:
        return _empty()
    room = width - LABEL_WIDTH - VALUE_WIDTH
    largest = max(value for _, value in bars)
    height = len(bars) * (BAR_HEIGHT + BAR_GAP)
    body = "".join(_bar(i, label, value, largest, room, (tones or {}).get(label, "neutral"))
                   for i, (label, value) in enumerate(bars))
    return (f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def polylines(values: Sequence[float | None], width: float, height: float,
              ceiling: float | None = None) -> list[list[tuple[float, float]]]:
    """The (x, y) points of `values` spread over `width` and scaled to `height` (0 at the bottom, the largest
    value or `ceiling` at the top), one run of points per stretch without a gap (None)."""
    top = ceiling if ceiling is not None else max((v for v in values if v is not None), default=0.0)
    step = width / (len(values) - 1) if len(values) > 1 else 0.0
    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        y = height - (height * value / top if top > 0 else 0.0)
        runs[-1].append((round(i * step, 1), round(y, 1)))
    return [run for run in runs if run]


def _points(run: list[tuple[float, float]], dx: float, dy: float) -> str:
    return " ".join(f"{x + dx:.1f},{y + dy:.1f}" for x, y in run)


def _dots(days: Sequence[str], values: Sequence[float | None], runs: list[list[tuple[float, float]]],
          unit: str) -> str:
    shown = [(d, v) for d, v in zip(days, values, strict=True) if v is not None]
    points = [p for run in runs for p in run]
    return "".join(f'<circle cx="{x + PAD:.1f}" cy="{y + PAD:.1f}" r="3"><title>{escape(d)}：{v:g}{escape(unit)}'
                   f"</title></circle>" for (d, v), (x, y) in zip(shown, points, strict=True))


def line_chart(title: str, days: Sequence[str], values: Sequence[float | None], unit: str = "",
               width: int = 480, ceiling: float | None = None) -> str:
    """A value per day (None: no value that day); the first and last day and the top value are labelled."""
    if not any(v is not None for v in values):
        return _empty()
    plot_w, top = width - 2 * PAD, ceiling if ceiling is not None else max(v for v in values if v is not None)
    runs = polylines(values, plot_w, PLOT_HEIGHT, ceiling)
    lines = "".join(f'<polyline class="line" points="{_points(run, PAD, PAD)}"/>' for run in runs)
    bottom = PLOT_HEIGHT + PAD
    axis = (f'<line class="axis" x1="{PAD}" y1="{bottom}" x2="{width - PAD}" y2="{bottom}"/>'
            f'<text x="{PAD}" y="{bottom + 16}">{escape(days[0])}</text>'
            f'<text x="{width - PAD}" y="{bottom + 16}" text-anchor="end">{escape(days[-1])}</text>'
            f'<text x="{PAD}" y="{PAD - 8}">{top:g}{escape(unit)}</text>')
    return (f'<svg class="chart" role="img" viewBox="0 0 {width} {bottom + 24}" width="{width}" '
            f'height="{bottom + 24}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
            f"{axis}{lines}{_dots(days, values, runs, unit)}</svg>")


def sparkline(title: str, values: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """A small trend line, no axes (nothing drawn when every value is missing)."""
    runs = polylines(values, width - 4, height - 4)
    lines = "".join(f'<polyline class="line" points="{_points(run, 2, 2)}"/>' for run in runs)
    return (f'<svg class="spark" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{lines}</svg>')
