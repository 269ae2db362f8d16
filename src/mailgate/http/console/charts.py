"""Bar charts drawn on the server as inline SVG geometry (no script): one horizontal bar per
category, stacked by series, with a scale rounded to a readable step."""

from __future__ import annotations

from dataclasses import dataclass

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f",
           "#be185d", "#64748b")
LABEL_WIDTH = 190
BAR_HEIGHT = 22
GAP = 10
PLOT_WIDTH = 560
TOP = 8


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    legend: list[tuple[str, str]]
    ticks: list[tuple[float, int]]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def _step(largest: int) -> int:
    """A round tick step giving about five ticks up to `largest`."""
    step = 1
    while largest / step > 5:
        for factor in (2, 5, 10):
            if largest / (step * factor) <= 5:
                return step * factor
        step *= 10
    return step


def stacked_bars(categories: list[str], series: list[str],
                 values: dict[tuple[str, str], int]) -> Chart:
    totals = {c: sum(values.get((c, s), 0) for s in series) for c in categories}
    step = _step(max(totals.values(), default=0) or 1)
    top = step * -(-max(max(totals.values(), default=0), 1) // step)
    scale = PLOT_WIDTH / top
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    bars = []
    for row, category in enumerate(categories):
        x, segments = float(LABEL_WIDTH), []
        for name in series:
            count = values.get((category, name), 0)
            if count:
                segments.append(Segment(x, count * scale, colours[name],
                                        f"{category}, {name}: {count}"))
                x += count * scale
        bars.append(Bar(category, TOP + row * (BAR_HEIGHT + GAP), totals[category], segments))
    ticks = [(LABEL_WIDTH + v * scale, v) for v in range(0, top + 1, step)]
    height = TOP + len(categories) * (BAR_HEIGHT + GAP) + 24
    return Chart(bars, list(colours.items()), ticks, LABEL_WIDTH + PLOT_WIDTH + 60, height)
