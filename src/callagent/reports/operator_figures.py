"""An operator's own figures for today and this week (seed 000's efficiency criteria):
calls handled, AHT and after-call work from the KPI engine, wrap-ups submitted and
missed, and the wrap-ups by category (consultations, pre-registrations, ...)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.db.models import User
from callagent.db.wrapup_models import Wrapup
from callagent.reports.facts import load_facts
from callagent.reports.kpi import by_operator, compute
from callagent.reports.service import options_of

PERIODS = ("today", "week")


@dataclass
class OperatorFigures:
    """One operator's figures over one period."""

    period: str
    since: datetime
    until: datetime
    handled: int = 0
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    acw_seconds: float = 0.0
    aht_seconds: float = 0.0
    wrapups_submitted: int = 0
    wrapups_missed: int = 0  # missed their deadline (also those completed late)
    categories: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As the API answers it."""
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        return data


def period_bounds(period: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``today``: the centre's calendar day of ``now``; ``week``: its Monday to Monday."""
    day = now.astimezone(zone).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
        days = 7
    elif period == "today":
        days = 1
    else:
        raise ValueError(f"period {period!r}: choose one of {', '.join(PERIODS)}")
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end_day = day + timedelta(days=days)
    return start, datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)


def operator_figures(
    session: Session, settings: Settings, *, user: User, period: str, now: datetime
) -> OperatorFigures:
    """``user``'s figures for ``period`` (``today`` or ``week`` on the centre's clock)."""
    since, until = period_bounds(period, now, ZoneInfo(settings.timezone))
    phones = list(user.endpoints or [])
    names = {user.login, *phones}  # a part is keyed by the login (or a phone's endpoint)
    facts = [
        part
        for fact in load_facts(session, since=since, until=until, endpoints=phones)
        if fact.disposition == "answered"
        for part in by_operator(fact)
        if part.operator in names
    ]
    kpi = compute(facts, options_of(settings))
    figures = OperatorFigures(
        period=period,
        since=since,
        until=until,
        handled=kpi.answered,
        talk_seconds=kpi.talk_seconds,
        hold_seconds=kpi.hold_seconds,
        acw_seconds=kpi.acw_seconds,
        aht_seconds=kpi.aht_seconds,
    )
    mine = (
        Wrapup.operator_id == user.id,
        Wrapup.started_at >= since,
        Wrapup.started_at < until,
    )
    for category, count in session.execute(
        select(Wrapup.category, func.count(Wrapup.id))
        .where(*mine, Wrapup.status == "submitted")
        .group_by(Wrapup.category)
    ):
        figures.categories[str(category)] = int(count)
        figures.wrapups_submitted += int(count)
    figures.wrapups_missed = int(
        session.scalar(select(func.count(Wrapup.id)).where(*mine, Wrapup.missed_at.is_not(None)))
        or 0
    )
    return figures
