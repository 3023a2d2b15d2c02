"""The state machine's pauses checked against the published break plan while the day
runs (the wallboard and ``GET /api/v1/planning/pauses``).

An operator paused now (any reason: the state machine's ``paused``) whose published
shift lies within 12 hours of now is checked against that shift's planned breaks and
lunch, with the ``grace`` adherence uses (60 s):

- ``over``: the pause overlaps a planned break and has lasted longer than that break
  plus the grace, or goes on more than the grace after the break's end; ``over_seconds``
  says by how much;
- ``unplanned``: no planned break overlaps the pause (nor begins within the grace):
  a pause off the plan, inside the shift or outside it;
- otherwise the pause is the plan's: no flag.

Operators without a published shift near now are not checked (no plan to hold them to).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callagent.db.models import User
from callagent.planning import models as db

GRACE = 60.0  # seconds, as adherence's ``longer``
NEAR = timedelta(hours=12)  # a shift this close to now is the one a pause is held to


@dataclass(frozen=True)
class PlannedBreak:
    kind: str  # break, lunch
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PauseFlag:
    """A pause off the plan now."""

    kind: str  # unplanned, over
    seconds: float  # the pause so far
    over_seconds: float = 0.0
    planned: PlannedBreak | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seconds": round(self.seconds),
            "over_seconds": round(self.over_seconds),
            "planned": None
            if self.planned is None
            else {
                "kind": self.planned.kind,
                "start": self.planned.start.isoformat(),
                "end": self.planned.end.isoformat(),
            },
        }


def check_pause(
    since: datetime, now: datetime, breaks: Sequence[PlannedBreak], *, grace: float = GRACE
) -> PauseFlag | None:
    """A pause from ``since`` still on at ``now`` against the shift's planned ``breaks``
    (see the module): a flag, or None when it is the plan's. Pure."""
    length = max(0.0, (now - since).total_seconds())
    slack = timedelta(seconds=grace)
    overlapping = [
        one for one in breaks if one.start - slack <= now and one.end > since and one.start < now
    ] or [one for one in breaks if one.start - slack <= now < one.end]
    if not overlapping:
        return PauseFlag("unplanned", length)
    planned = max(overlapping, key=lambda one: one.start)
    allowed = (planned.end - planned.start).total_seconds()
    over = max(length - allowed, (now - planned.end).total_seconds())
    if over > grace:
        return PauseFlag("over", length, over, planned)
    return None


def pause_flags(session: Session, users: Sequence[User], now: datetime) -> dict[int, PauseFlag]:
    """The paused ``users`` whose pause is off their published shift's plan now."""
    paused = {u.id: u for u in users if u.state == "paused" and u.state_since is not None}
    if not paused:
        return {}
    shifts = session.scalars(
        select(db.ScheduleShift)
        .join(db.Schedule)
        .where(
            db.Schedule.status == "published",
            db.ScheduleShift.user_id.in_(list(paused)),
            db.ScheduleShift.end_at > now - NEAR,
            db.ScheduleShift.start_at < now + NEAR,
        )
        .options(selectinload(db.ScheduleShift.breaks))
    ).all()
    nearest: dict[int, db.ScheduleShift] = {}
    for shift in shifts:
        best = nearest.get(shift.user_id)
        if best is None or _distance(shift, now) < _distance(best, now):
            nearest[shift.user_id] = shift
    flags = {}
    for user_id, shift in nearest.items():
        since = paused[user_id].state_since
        assert since is not None
        breaks = [PlannedBreak(b.kind, b.start_at, b.end_at) for b in shift.breaks]
        flag = check_pause(since, now, breaks)
        if flag is not None:
            flags[user_id] = flag
    return flags


def _distance(shift: db.ScheduleShift, now: datetime) -> timedelta:
    if shift.start_at <= now < shift.end_at:
        return timedelta(0)
    return min(abs(shift.start_at - now), abs(now - shift.end_at))
