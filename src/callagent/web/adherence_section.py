"""Schedule adherence on the reports page (``/supervisor/reports``): the timeline day's
scheduled shifts against the operators' states (late log-in, early log-out, pauses off
the plan, the share of time in the planned state), the numbers of
``GET /api/v1/planning/adherence`` (one service) shown as the planning page shows them;
and the page's period per operator (``GET /api/v1/planning/adherence/period``: late
log-ins, early log-outs, minutes off the plan, the share in the planned state)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.planning.adherence_period import MAX_DAYS, adherence_period
from callagent.planning.schedule_service import adherence_report
from callagent.web.schedule_section import adherence_rows


def adherence_section(
    db: Session,
    settings: Settings,
    words: dict[str, str],
    *,
    day: date,
    team: str | None,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    """The day's adherence rows (a team's supervisor: their team's), and the totals of
    the period ``first``-``last`` (its last :data:`MAX_DAYS` days), for the template."""
    now = datetime.now(UTC)
    report = adherence_report(db, settings, day=day, now=now, group=team)
    section: dict[str, Any] = {
        "day": day.isoformat(),
        "rows": adherence_rows(words, report["rows"], ZoneInfo(settings.timezone)),
    }
    if first is not None and last is not None:
        first = max(first, last - timedelta(days=MAX_DAYS - 1))
        period = adherence_period(db, settings, first=first, last=last, now=now, group=team)
        section["period"] = {
            "title": words["adh_period_title"].format(first=period["from"], last=period["to"]),
            "rows": [_period_row(row) for row in period["rows"]],
            "total": _period_row(period["total"]),
        }
    return section


def _period_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "late_minutes": row["late_seconds"] // 60,
        "early_minutes": row["early_seconds"] // 60,
        "off_plan_minutes": row["off_plan_seconds"] // 60,
        "share": f"{100 * row['adherence']:.1f}",
    }
