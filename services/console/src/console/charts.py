"""The report dashboard's charts, drawn on the server as inline SVG (no script, no chart library to serve, nothing
from a CDN: the console works offline). This module only does the geometry; `templates/charts.html` draws it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # the value as the bar's label says it
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int


def bar_chart(
    rows: Sequence[tuple[str, float, str]],
    *,
    maximum: float | None = None,
    width: int = 640,
    label_width: int = 180,
    row: int = 26,
) -> BarChart:
    """Horizontal bars, one per (label, value, text); `maximum` fixes the scale (1.0 for rates), else the largest."""
    top = maximum if maximum is not None else max((value for _, value, _ in rows), default=0.0)
    room = width - label_width - 110  # the value's text is written after the bar
    bars = [
        Bar(label, text, row * n + 4, room * max(0.0, value) / top if top > 0 else 0.0)
        for n, (label, value, text) in enumerate(rows)
    ]
    return BarChart(bars, width, row * len(rows) + 8, label_width, row - 8)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    text: str


@dataclass(frozen=True)
class Interval:
    x: float
    low: float
    high: float
    text: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    bottom: float
    points: list[Point]
    line: str  # SVG polyline points: the periods that had calls
    forecast: Point | None
    interval: Interval | None
    ticks: list[tuple[float, str]]  # y, "50%"
    labels: list[Point]  # the periods' names under the axis


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def trend_chart(
    trend: Sequence[dict[str, Any]], forecast: dict[str, Any] | None, *, width: int = 720, height: int = 240
) -> TrendChart:
    """Pass rate per period (oldest first), then the forecast for the next period with its prediction interval."""
    left, top, bottom = 48, 12, height - 40
    slots = len(trend) + 1  # the last slot is the forecast's
    step = (width - left - 20) / max(1, slots - 1) if slots > 1 else 0.0

    def y(rate: float) -> float:
        return bottom - (bottom - top) * min(1.0, max(0.0, rate))

    points: list[Point] = []
    labels: list[Point] = []
    for n, period in enumerate(trend):
        x = left + step * n
        labels.append(Point(x, height - 22, str(period.get("period", "")), ""))
        rate = period.get("pass_rate")
        if rate is not None:
            points.append(Point(x, y(rate), str(period.get("period", "")), f"{_pct(rate)} ({period.get('calls', 0)})"))
    ahead: Point | None = None
    interval: Interval | None = None
    if forecast and forecast.get("available") and forecast.get("pass_rate") is not None:
        x = left + step * len(trend)
        name = str(forecast.get("period", ""))
        ahead = Point(x, y(forecast["pass_rate"]), name, _pct(forecast["pass_rate"]))
        labels.append(Point(x, height - 22, name, ""))
        if forecast.get("lower") is not None and forecast.get("upper") is not None:
            interval = Interval(
                x,
                y(forecast["lower"]),
                y(forecast["upper"]),
                f"{_pct(forecast['lower'])} – {_pct(forecast['upper'])}",
            )
    ticks = [(y(v), f"{v * 100:.0f}%") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    line = " ".join(f"{p.x:.1f},{p.y:.1f}" for p in points)
    return TrendChart(width, height, left, bottom, points, line, ahead, interval, ticks, labels)
