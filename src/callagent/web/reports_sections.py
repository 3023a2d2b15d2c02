"""The reports page's parts from other domains (issue #13): the quality of the period
(score per operator, team, criterion and period with its trend drawn as SVG, the most
frequent errors) read by ``quality/reports.py`` as ``GET /api/v1/quality/report`` reads it,
and the website call-backs' time from request to call-back (``callbacks.service.kpi``,
the figures of ``GET /api/v1/callbacks/kpi``).

Each part is there only for a principal with its scope (``quality:read``,
``callbacks:read``), and each sees what the principal sees elsewhere: the quality part
the principal's circle (a group's supervisor: their group's evaluations; a QA evaluator:
those of the calls given to them), the call-backs part a group's supervisor's group's
call-backs. Kept out of ``reports_page.py`` so that
page only asks for the parts and draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.callbacks import team_of
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal
from callagent.callbacks.service import kpi as callback_kpi
from callagent.db.models import User
from callagent.quality.reports import build, load_rows
from callagent.quality.reports import trend_step as quality_trend_step
from callagent.quality.scorecard import Scorecard
from callagent.quality.service import circle_of
from callagent.reports.chart import Axes, Series, hbar_chart, line_chart

MOST_ERRORS = 10  # the errors chart's rows: the most frequent ones


@dataclass(frozen=True)
class Period:
    """The report's days and their bounds (UTC), as the reports page picked them."""

    first: date
    last: date
    since: datetime
    until: datetime
    zone: ZoneInfo


def trend_step(period: Period) -> str:
    """The quality trend's period (``quality.reports.trend_step``)."""
    return quality_trend_step(period.first, period.last)


def percent(value: float, language: str) -> str:
    """A score as the page shows it: ``81.25`` -> ``81,25 %`` (ru, uk) / ``81.25 %``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',') if language in ('ru', 'uk') else text} %"


def _period_label(key: str) -> str:
    """``2026-12-07`` -> ``07.12.2026``; a month ``2026-12`` -> ``12.2026``."""
    parts = key.split("-")
    return ".".join(reversed(parts))


def quality_section(
    db: Session,
    principal: Principal,
    *,
    card: Scorecard,
    words: dict[str, str],
    language: str,
    period: Period,
) -> dict[str, Any] | None:
    """The quality part of the reports page (None without ``quality:read``)."""
    if Scope.QUALITY_READ not in principal.scopes:
        return None
    by = trend_step(period)
    rows = load_rows(db, circle=circle_of(db, principal), since=period.since, until=period.until)
    out = build(rows, zone=period.zone, by=by)
    names = {
        uid: name or login
        for uid, login, name in db.execute(select(User.id, User.login, User.full_name))
    }
    order = {c.id: i for i, c in enumerate(card.criteria)}
    criteria = sorted(
        out["criteria"], key=lambda row: (order.get(row["item_id"], len(order)), row["item_id"])
    )
    trend = out["trend"]
    labels = [_period_label(row["period"]) for row in trend]
    chart = (
        line_chart(
            labels,
            [Series(words["rq_average"], "#1f5fbf", [row["average"] / 100 for row in trend])]
            + (  # the pass mark as a line, when the scorecard has one
                [
                    Series(
                        words["rq_pass_mark"].format(mark=percent(card.pass_mark, language)),
                        "#b00020",
                        [card.pass_mark / 100] * len(trend),
                    )
                ]
                if card.pass_mark is not None
                else []
            ),
            title=words["rq_trend_chart"],
            axes=Axes(x=words[f"rq_by_{by}"], y=words["rq_score_axis"]),
            percent=True,
            chart_id="chart-quality",
        )
        if trend
        else ""
    )
    errors = out["errors"][:MOST_ERRORS]
    errors_chart = (
        hbar_chart(
            [card.title_of(row["item_id"], language) for row in errors],
            Series(words["rq_errors_times"], "#e07b39", [row["count"] for row in errors]),
            title=words["rq_errors_chart"],
            axes=Axes(x=words["rq_errors_times"], y=words["qa_col_criterion"]),
            chart_id="chart-quality-errors",
        )
        if errors
        else ""
    )
    return {
        "by": by,
        # the same tables as XLSX or CSV (GET /api/v1/quality/report/export)
        "export_query": urlencode(
            {
                "from": period.first.isoformat(),
                "to": period.last.isoformat(),
                "by": by,
                "lang": language,
            }
        ),
        "evaluations": out["evaluations"],
        "average": percent(out["average"], language),
        "chart": chart,
        "errors_chart": errors_chart,
        "operators": [
            {
                "name": names.get(row["operator_id"] or 0, "—"),
                "evaluations": row["evaluations"],
                "average": percent(row["average"], language),
                "critical": row["critical"],
            }
            for row in out["operators"]
        ],
        "teams": [
            {
                "team": row["team"] or words["qa_no_team"],
                "evaluations": row["evaluations"],
                "average": percent(row["average"], language),
                "critical": row["critical"],
            }
            for row in out["teams"]
        ],
        "trend": [
            {
                "period": label,
                "evaluations": row["evaluations"],
                "average": percent(row["average"], language),
            }
            for label, row in zip(labels, trend, strict=True)
        ],
        "criteria": [
            {
                "title": card.title_of(row["item_id"], language),
                "answered": row["answered"],
                "share": percent(row["share"], language),
            }
            for row in criteria
        ],
        "errors": [
            {
                "title": card.title_of(row["item_id"], language),
                "critical": row["critical"],
                "count": row["count"],
            }
            for row in out["errors"]
        ],
    }


def duration(seconds: float | None) -> str:
    """``754.0`` -> ``12:34`` (hours when there are any); ``—`` for none."""
    if seconds is None:
        return "—"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def callbacks_section(
    db: Session, principal: Principal, *, period: Period
) -> dict[str, Any] | None:
    """The call-backs' KPI of the period's requests (None without ``callbacks:read``):
    counts and times only, no applicant's data; a group's supervisor's: their group's
    call-backs (``api.callbacks.team_of``, as the call-backs page and API count them)."""
    if Scope.CALLBACKS_READ not in principal.scopes:
        return None
    figures = callback_kpi(db, start=period.since, end=period.until, team=team_of(db, principal))
    return {
        "requested": figures.requested,
        "reached": figures.reached,
        "failed": figures.failed,
        "overdue": figures.overdue,
        "open": figures.open,
        "mean": duration(figures.mean_seconds),
        "median": duration(figures.median_seconds),
        "p90": duration(figures.p90_seconds),
    }
