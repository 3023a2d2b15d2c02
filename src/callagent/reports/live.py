"""The wallboard's picture of the centre now, read from the database (so several
callagent processes on one PostgreSQL show the same centre): operators by state with
the time in it and their current call, the calls waiting, today's and this interval's
KPIs (the KPI engine's formulas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.masking import mask_phone
from callagent.auth.scopes import Role
from callagent.config import Settings
from callagent.db.models import Call, User
from callagent.planning.pause_check import pause_flags
from callagent.reports.kpi import Kpi
from callagent.reports.service import kpi_report

LIVE_INTERVAL_MINUTES = 30
_KPI_KEYS = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "asa_seconds",
    "abandon_rate",
    "longest_wait_seconds",
    "aht_seconds",
)


def _figures(kpi: Kpi) -> dict[str, Any]:
    return {key: getattr(kpi, key) for key in _KPI_KEYS}


def live_view(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    group: str | None = None,
    endpoints: Sequence[str] | None = None,
    pii: bool = False,
) -> dict[str, Any]:
    """The centre now. ``group``/``endpoints``: a supervisor's team only; ``pii``: the
    applicants' numbers unmasked."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = local.replace(
        minute=local.minute - local.minute % LIVE_INTERVAL_MINUTES, second=0, microsecond=0
    )

    def report(since: datetime, minutes: float, by: str | None = None) -> Kpi:
        return kpi_report(
            session,
            settings,
            since=since,
            until=since + timedelta(minutes=minutes),  # wall clock: a DST day too
            by=by,
            endpoints=endpoints,
            calls_only=True,  # the board needs the calls' figures only
        )

    today = report(midnight, 24 * 60, "operator")
    interval = report(start, LIVE_INTERVAL_MINUTES)
    topics = report(midnight, 24 * 60, "topic")
    handled = {g.key: g.answered for g in today.groups}
    query = select(User).where(User.role == Role.OPERATOR.value, User.active.is_(True))
    if group:
        query = query.where(User.group == group)
    users = session.scalars(query.order_by(User.login)).all()
    calls = {
        f"{c.node}:{c.linkedid}": c
        for c in session.scalars(select(Call).where(Call.final.is_(False)))
    }
    flags = pause_flags(session, users, now)  # pauses off the published break plan
    operators = []
    for user in users:
        call = calls.get(user.claimed_call or "")
        flag = flags.get(user.id)
        operators.append(
            {
                "id": user.id,
                "login": user.login,
                "full_name": user.full_name,
                "state": user.state,
                "reason": user.state_reason,
                "since": user.state_since.isoformat() if user.state_since else None,
                "seconds_in_state": (now - user.state_since).total_seconds()
                if user.state_since
                else None,
                "handled_today": handled.get(user.login, 0),
                "plan": None if flag is None else flag.to_json(),
                "call": None
                if call is None
                else {
                    "started_at": call.started_at.isoformat(),
                    "seconds": (now - (call.answered_at or call.started_at)).total_seconds(),
                    "number": call.applicant_number if pii else mask_phone(call.applicant_number),
                },
            }
        )
    waiting = sorted(
        (
            c
            for c in calls.values()
            if c.direction == "inbound" and c.answered_at is None and c.disposition != "abandoned"
        ),
        key=lambda c: c.started_at,
    )
    counts: dict[str, int] = {}
    for user in users:
        counts[user.state] = counts.get(user.state, 0) + 1
    by_login = {g.key: g for g in today.groups}
    return {
        "at": now.isoformat(),
        "timezone": settings.timezone,
        "operators": operators,
        "counts": counts,
        "plan_flags": len(flags),
        "waiting": [
            {
                "position": n + 1,
                "waited_seconds": (now - c.started_at).total_seconds(),
                "topic": str((c.variables or {}).get("CALLAGENT_TOPIC", "")),
            }
            for n, c in enumerate(waiting)
        ],
        "today": _figures(today),
        "topics": [{"topic": g.key or "", **_figures(g)} for g in topics.groups],
        "teams": _teams(users, by_login),
        "interval": {"start": start.isoformat(), **_figures(interval)},
    }


def _teams(users: Sequence[User], by_login: dict[str | None, Kpi]) -> list[dict[str, Any]]:
    """Each team (the operators' group; "" for none) now and today: its operators by
    state, the calls they answered and their AHT (weighted by the calls)."""
    teams: dict[str, dict[str, Any]] = {}
    for user in users:
        team = teams.setdefault(
            user.group or "",
            {"team": user.group or "", "operators": 0, "counts": {}, "answered": 0},
        )
        team["operators"] += 1
        team["counts"][user.state] = team["counts"].get(user.state, 0) + 1
        kpi = by_login.get(user.login)
        if kpi is not None and kpi.answered:
            team["answered"] += kpi.answered
            team["_handling"] = team.get("_handling", 0.0) + kpi.aht_seconds * kpi.answered
    out = []
    for team in sorted(teams.values(), key=lambda t: t["team"]):
        handling = team.pop("_handling", 0.0)
        team["aht_seconds"] = handling / team["answered"] if team["answered"] else 0.0
        out.append(team)
    return out
