"""Charts as SVG, drawn on the server: no script and nothing from a CDN.

Pure: labels and series in, SVG text out (every label escaped). Each chart carries its
title, its axes' labels and a legend, in the words it is given (the page's language),
and scales with the page (a viewBox 1200 units wide reads at 1280 px and prints on A4).
The elements that stand for data carry a class (``bar``, ``point``) and the index of
their group (``data-group``), so a test can count them against the report's groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 1200
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One bar (or line) of each group: its name (the legend), colour and values."""

    name: str
    colour: str
    values: Sequence[float]


@dataclass(frozen=True)
class Axes:
    """What the axes say: the groups' axis and the values' axis (with their unit)."""

    x: str = ""
    y: str = ""


def nice_top(value: float) -> float:
    """The axis' top: ``value`` rounded up to 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= value)


def number(value: float, percent: bool = False) -> str:
    """A value as the charts print it: whole numbers plain, others with one decimal (two
    under 1: an axis of 0.25 steps)."""
    if percent:
        return f"{value * 100:.0f} %"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0") if abs(value) < 1 else f"{value:.1f}"


def svg_open(title: str, height: int, chart_id: str) -> list[str]:
    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg"{ident} viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart" {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="20" font-size="16" font-weight="600" class="chart-title">'
        f"{escape(title)}</text>",
    ]


def legend(series: Sequence[tuple[str, str]], y: float, x0: float = 70) -> list[str]:
    """Colour boxes and names in a row (wrapping), from ``x0``."""
    parts, x = [], x0
    for name, colour in series:
        width = 30 + 7.5 * len(name)
        if x + width > WIDTH - 10 and x > x0:
            x, y = x0, y + 18
        parts.append(
            f'<g class="legend-item"><rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" '
            f'fill="{colour}" stroke="#334" stroke-width="0.5" />'
            f'<text x="{x + 17:.0f}" y="{y:.0f}" font-size="13">{escape(name)}</text></g>'
        )
        x += width
    return parts


def _y_axis(
    top: float, left: float, plot_w: float, plot_h: float, high: float, label: str, pct: bool
) -> list[str]:
    """Grid lines and values at 0, ¼ ... the top, and the axis' label, turned."""
    parts = []
    for i in range(5):
        value = high * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{"#99a" if i == 0 else "#dde"}" />'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12">'
            f"{number(value, pct)}</text>"
        )
    middle = top + plot_h / 2
    parts.append(
        f'<text x="16" y="{middle:.0f}" transform="rotate(-90 16 {middle:.0f})" '
        f'text-anchor="middle" font-size="13" class="axis-label">{escape(label)}</text>'
    )
    return parts


def _x_labels(labels: Sequence[str], left: float, slot: float, y: float, label: str) -> list[str]:
    every = max(1, math.ceil(len(labels) / 24))  # at most 24 names under the axis
    parts = [
        f'<text x="{left + i * slot + slot / 2:.1f}" y="{y}" text-anchor="middle" '
        f'font-size="12">{escape(name)}</text>'
        for i, name in enumerate(labels)
        if i % every == 0
    ]
    parts.append(
        f'<text x="{left + slot * len(labels) / 2:.0f}" y="{y + 20}" text-anchor="middle" '
        f'font-size="13" class="axis-label">{escape(label)}</text>'
    )
    return parts


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    axes: Axes = Axes(),
    height: int = 340,
    chart_id: str = "",
) -> str:
    """Grouped bars, one group per label, with a y axis from 0."""
    left, top, bottom = 70, 40, 78
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    high = nice_top(max((v for s in series for v in s.values), default=0.0))
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, (slot * 0.8) / max(1, len(series)))
    parts = svg_open(title, height, chart_id)
    parts += _y_axis(top, left, plot_w, plot_h, high, axes.y, False)
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for j, one in enumerate(series):
            value = one.values[i]
            h = plot_h * value / high
            parts.append(
                f'<rect class="bar" data-group="{i}" x="{x0 + j * bar:.1f}" '
                f'y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{one.colour}"><title>{escape(label)}: {escape(one.name)} '
                f"{number(value)}</title></rect>"
            )
    parts += _x_labels(labels, left, slot, top + plot_h + 16, axes.x)
    parts += legend([(s.name, s.colour) for s in series], height - 10)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    axes: Axes = Axes(),
    percent: bool = False,
    height: int = 320,
    chart_id: str = "",
) -> str:
    """A line per series over the labels, a point on each value; ``percent``: values are
    fractions 0-1, the axis runs to 100 %."""
    left, top, bottom = 70, 40, 78
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    largest = max((v for s in series for v in s.values), default=0.0)
    high = 1.0 if percent else nice_top(largest)
    slot = plot_w / max(1, len(labels))
    parts = svg_open(title, height, chart_id)
    parts += _y_axis(top, left, plot_w, plot_h, high, axes.y, percent)
    # the first series on top (drawn last); the others dashed, so a line hidden under
    # another still shows where they part
    for rank, one in reversed(list(enumerate(series))):
        dash = ' stroke-dasharray="7 4"' if rank else ""
        points = [
            (left + i * slot + slot / 2, top + plot_h - plot_h * value / high)
            for i, value in enumerate(one.values)
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{one.colour}" '
                f'stroke-width="{3 if rank == 0 else 2}"{dash} />'
            )
        for i, ((x, y), value) in enumerate(zip(points, one.values, strict=True)):
            parts.append(
                f'<circle class="point" data-group="{i}" cx="{x:.1f}" cy="{y:.1f}" '
                f'r="{5 if rank == 0 else 4}" '
                f'fill="{one.colour}"><title>{escape(labels[i])}: {escape(one.name)} '
                f"{number(value, percent)}</title></circle>"
            )
    parts += _x_labels(labels, left, slot, top + plot_h + 16, axes.x)
    parts += legend([(s.name, s.colour) for s in series], height - 10)
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    labels: Sequence[str],
    series: Series,
    *,
    title: str,
    axes: Axes = Axes(),
    chart_id: str = "",
) -> str:
    """Horizontal bars, one row per label (operators, pause reasons...), the value at the
    bar's end; ``axes.y`` names the rows, ``axes.x`` the values."""
    left, top, row = 220, 44, 26
    plot_w = WIDTH - left - 90
    height = top + row * max(1, len(labels)) + 70
    high = nice_top(max(series.values, default=0.0))
    parts = svg_open(title, height, chart_id)
    bottom = top + row * len(labels)
    for i in range(5):  # the values' grid
        x = left + plot_w * i / 4
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#dde" />'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="12">'
            f"{number(high * i / 4)}</text>"
        )
    for i, (label, value) in enumerate(zip(labels, series.values, strict=True)):
        y = top + i * row
        w = plot_w * value / high
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.0f}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect class="bar" data-group="{i}" x="{left}" y="{y + 4}" width="{w:.1f}" '
            f'height="{row - 8}" fill="{series.colour}"><title>{escape(label)}: '
            f"{escape(series.name)} {number(value)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + row / 2 + 4:.0f}" font-size="12">'
            f"{number(value)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 36}" text-anchor="middle" '
        f'font-size="13" class="axis-label">{escape(axes.x)}</text>'
        f'<text x="{left - 8}" y="{top - 10}" text-anchor="end" font-size="13" '
        f'class="axis-label">{escape(axes.y)}</text>'
    )
    parts += legend([(series.name, series.colour)], height - 10)
    parts.append("</svg>")
    return "".join(parts)
