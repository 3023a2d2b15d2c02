"""One day's operators' state timeline as SVG: a strip per operator, a colour per state
(a Gantt-like chart), hours of the centre's clock along the top and bottom.

Pure: the spans of :func:`callagent.reports.service.timeline` in, SVG text out. Each
span is a ``rect.seg`` with its state (``data-state``) and the operator's row
(``data-row``); the legend names the states in the words given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from callagent.reports.chart import FONT, WIDTH, legend, svg_open
from callagent.reports.operator_time import StateSpan

# a colour per state, told apart also in grey print (light to dark)
STATE_COLOURS = {
    "ready": "#57b36a",
    "ringing": "#f2c14e",
    "on_call": "#1f5fbf",
    "wrap_up": "#8e5cc2",
    "paused": "#e07b39",
    "unavailable": "#b00020",
    "offline": "#e4e6ea",
}


def timeline_chart(
    rows: Mapping[str, Sequence[StateSpan]],
    *,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    title: str,
    x_label: str,
    words: Mapping[str, str],
    chart_id: str = "",
) -> str:
    """A strip per operator (``rows``: login -> spans) over ``[start, end)``; ``words``:
    the page's, for the states (``state_<state>``) and pause reasons (``reason_<r>``)."""
    left, top, row = 160, 64, 28
    plot_w = WIDTH - left - 20
    height = top + row * max(1, len(rows)) + 96
    total = (end - start).total_seconds() or 1.0

    def x_of(at: datetime) -> float:
        return left + plot_w * max(0.0, min(total, (at - start).total_seconds())) / total

    parts = svg_open(title, height, chart_id)
    bottom = top + row * len(rows)
    hour = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    ticks: list[datetime] = []
    at = hour.astimezone(start.tzinfo)
    while at <= end:  # every hour in absolute time: a DST day shows its 23 or 25
        if at >= start:
            ticks.append(at)
        at += timedelta(hours=1)
    every = 2 if len(ticks) > 26 else 1  # a day's 23-25 hours all named
    for i, tick in enumerate(ticks):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#dde" />'
        )
        if i % every == 0:
            name = tick.astimezone(zone).strftime("%H")
            for y in (top - 10, bottom + 16):
                parts.append(
                    f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="12">{name}</text>'
                )
    for r, (login, spans) in enumerate(rows.items()):
        y = top + r * row
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.0f}" text-anchor="end" '
            f'font-size="13">{escape(login)}</text>'
        )
        for span in spans:
            x0, x1 = x_of(span.start), x_of(span.end)
            name = words.get(f"state_{span.state}", span.state)
            if span.reason:
                name = f"{name} ({words.get(f'reason_{span.reason}', span.reason)})"
            local = f"{span.start.astimezone(zone):%H:%M}–{span.end.astimezone(zone):%H:%M}"
            parts.append(
                f'<rect class="seg" data-row="{r}" data-state="{escape(span.state)}" '
                f'x="{x0:.1f}" y="{y + 4}" width="{max(0.5, x1 - x0):.1f}" height="{row - 8}" '
                f'fill="{STATE_COLOURS.get(span.state, "#999")}"><title>{escape(login)}: '
                f"{escape(name)} {local}</title></rect>"
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 38}" text-anchor="middle" '
        f'font-size="13" class="axis-label" {FONT}>{escape(x_label)}</text>'
    )
    parts += legend(
        [(words.get(f"state_{state}", state), colour) for state, colour in STATE_COLOURS.items()],
        height - 28,
    )
    parts.append("</svg>")
    return "".join(parts)
