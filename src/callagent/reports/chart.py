"""A bar chart as SVG, drawn on the server: no script and nothing from a CDN.

Pure: groups and their series in, SVG text out (every label escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    """One bar of each group: its name (the legend), colour and values."""

    name: str
    colour: str
    values: Sequence[float]


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 900,
    height: int = 260,
) -> str:
    """Grouped bars, one group per label, with a y axis from 0 to the largest value."""
    left, bottom, top = 40, 48, 28
    plot_w, plot_h = width - left - 10, height - bottom - top
    largest = max((v for s in series for v in s.values), default=0.0) or 1.0
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, (slot * 0.8) / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#99a" />',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11">'
        f"{_number(largest)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    every = max(1, len(labels) // 12)  # at most ~12 labels under the axis
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for j, one in enumerate(series):
            value = one.values[i]
            h = plot_h * value / largest
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{one.colour}"><title>{escape(label)}: '
                f"{escape(one.name)} {_number(value)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 14}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    for j, one in enumerate(series):  # the legend
        x = left + j * 150
        parts.append(
            f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{one.colour}" />'
            f'<text x="{x + 14}" y="{height - 7}" font-size="11">{escape(one.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
