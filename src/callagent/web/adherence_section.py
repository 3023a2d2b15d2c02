"""Schedule adherence on the reports page (``/supervisor/reports``): the timeline day's
scheduled shifts against the operators' states (late log-in, early log-out, pauses off
the plan, the share of time in the planned state), the numbers of
``GET /api/v1/planning/adherence`` (one service) shown as the planning page shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.planning.schedule_service import adherence_report
from callagent.web.schedule_section import adherence_rows


def adherence_section(
    db: Session, settings: Settings, words: dict[str, str], *, day: date, team: str | None
) -> dict[str, Any]:
    """The day's adherence rows (a team's supervisor: their team's), for the template."""
    report = adherence_report(db, settings, day=day, now=datetime.now(UTC), group=team)
    return {
        "day": day.isoformat(),
        "rows": adherence_rows(words, report["rows"], ZoneInfo(settings.timezone)),
    }
