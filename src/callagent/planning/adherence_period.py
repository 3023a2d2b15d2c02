"""Schedule adherence over a period: per operator, the totals of their shifts' adherence
(:func:`callagent.planning.adherence.adherence`, the day report's computation) over the
days ``first``-``last`` on the centre's clock.

Per operator, for the shifts begun by now (those of any stored week, as the day report):

- ``shifts``, ``absent`` (no log-in for the shift);
- ``late`` / ``late_seconds``: the shifts begun more than a minute late (the absent
  ones not counted) and their lateness added up; ``early`` / ``early_seconds`` alike for
  log-outs before the end;
- ``off_plan_seconds``: the pauses off the plan: an unplanned pause whole, a pause
  longer than its planned break by what it overran;
- ``adherence``: the share of the shifts' time so far in the planned state (an absent
  shift counts with none of it).

A team's supervisor sees their team. At most :data:`MAX_DAYS` days at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callagent.auth.scopes import Role
from callagent.config import Settings
from callagent.db.models import User
from callagent.planning import models as db
from callagent.planning.adherence import LOOK_BEFORE, Planned, adherence
from callagent.reports.history import load_spans
from callagent.reports.operator_time import StateSpan
from callagent.reports.periods import local_midnight

MAX_DAYS = 93  # a quarter: the states of every operator over it are read at once
LATE_GRACE = 60.0  # seconds: a log-in within a minute of the start is on time


@dataclass
class Totals:
    """One operator's figures over the period (see the module)."""

    login: str
    name: str
    shifts: int = 0
    absent: int = 0
    late: int = 0
    late_seconds: float = 0.0
    early: int = 0
    early_seconds: float = 0.0
    off_plan_seconds: float = 0.0
    planned_seconds: float = 0.0  # the shifts' time looked at
    good_seconds: float = 0.0  # ... of it in the planned state

    def to_json(self) -> dict[str, Any]:
        return {
            "operator": self.login,
            "name": self.name,
            "shifts": self.shifts,
            "absent": self.absent,
            "late": self.late,
            "late_seconds": round(self.late_seconds),
            "early": self.early,
            "early_seconds": round(self.early_seconds),
            "off_plan_seconds": round(self.off_plan_seconds),
            "adherence": round(self.good_seconds / self.planned_seconds, 4)
            if self.planned_seconds
            else 0.0,
        }

    def add(self, other: Totals) -> None:
        for name in (
            "shifts",
            "absent",
            "late",
            "late_seconds",
            "early",
            "early_seconds",
            "off_plan_seconds",
            "planned_seconds",
            "good_seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def adherence_period(
    session: Session,
    settings: Settings,
    *,
    first: date,
    last: date,
    now: datetime,
    group: str | None = None,
) -> dict[str, Any]:
    """Per operator the adherence totals of ``first``-``last`` by ``now`` (``group``: a
    team only), and the whole's. Raises ValueError for a period backwards or too long."""
    if last < first:
        raise ValueError("the period ends before it starts")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"a period of at most {MAX_DAYS} days")
    zone = ZoneInfo(settings.timezone)
    try:
        since, until = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    except (OverflowError, ValueError):  # the ends of the calendar
        raise ValueError("days out of range") from None
    query = select(User).where(User.role == Role.OPERATOR.value, User.active.is_(True))
    if group is not None:
        query = query.where(User.group == group)
    users = {u.id: u for u in session.scalars(query)}
    shifts = [
        shift
        for shift in session.scalars(
            select(db.ScheduleShift)
            .where(
                db.ScheduleShift.start_at >= since,
                db.ScheduleShift.start_at < until,
                db.ScheduleShift.start_at < now,
                db.ScheduleShift.user_id.in_(list(users)),
            )
            .options(selectinload(db.ScheduleShift.breaks))
            .order_by(db.ScheduleShift.start_at)
        )
    ]
    totals = {
        uid: Totals(u.login, u.full_name)
        for uid, u in sorted(users.items(), key=lambda item: item[1].login)
        if any(s.user_id == uid for s in shifts)
    }
    whole = Totals("", "")
    if shifts:
        read_from = min(s.start_at for s in shifts) - LOOK_BEFORE
        read_to = min(now, max(s.end_at for s in shifts) + LOOK_BEFORE)
        spans: dict[str, list[StateSpan]] = {}
        for span in load_spans(session, since=read_from, until=read_to, group=group):
            spans.setdefault(span.operator, []).append(span)
        for shift in shifts:
            login = users[shift.user_id].login
            planned = Planned(
                login,
                shift.start_at,
                shift.end_at,
                tuple((b.kind, b.start_at, b.end_at) for b in shift.breaks),
            )
            one = adherence(planned, spans.get(login, []), now=now)
            mine = totals[shift.user_id]
            mine.shifts += 1
            mine.planned_seconds += one.seconds
            if one.absent:
                mine.absent += 1
                continue
            mine.good_seconds += one.adherence * one.seconds
            if one.late_seconds > LATE_GRACE:
                mine.late += 1
                mine.late_seconds += one.late_seconds
            if one.early_seconds > LATE_GRACE:
                mine.early += 1
                mine.early_seconds += one.early_seconds
            mine.off_plan_seconds += sum(
                e.seconds - e.planned_seconds if e.kind == "longer" else e.seconds
                for e in one.exceptions
            )
    for mine in totals.values():
        whole.add(mine)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rows": [mine.to_json() for mine in totals.values()],
        "total": whole.to_json() | {"operator": None, "name": None},
    }
