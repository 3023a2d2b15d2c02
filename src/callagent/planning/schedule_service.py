"""One code path for schedules: the API, the CLI and the pages call this.

Reads the operators (their availability and time-off requests), the shift templates and
the staff each 15-minute slot needs (the staffing of :mod:`callagent.planning.service`:
Erlang C agents, raised by the shrinkage other than breaks, since the schedule places
the breaks itself), builds the week (:mod:`callagent.planning.schedule`), stores it, and
applies the supervisor's hand edits and break re-plans, each checked against the labour
rules. One schedule per week; with several teams (the operators' groups) it is built
per team, each team's need covered by its own operators (:mod:`callagent.planning.teams`);
a team's supervisor sees their team.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callagent.auth.scopes import Role
from callagent.config import Settings
from callagent.db.models import User
from callagent.planning import models as db
from callagent.planning.adherence import Planned, adherence
from callagent.planning.breaks import place_all
from callagent.planning.erlang import agents_erlang_c, scheduled_staff
from callagent.planning.forecast import Adjustment, NotEnoughHistory
from callagent.planning.options import parse_shrinkage
from callagent.planning.rules import (
    DAY,
    SLOT,
    SLOTS_WEEK,
    Break,
    LabourRules,
    Operator,
    Shift,
    ShiftTemplate,
    coverage,
    on_phone,
    parse_rules,
    violations,
)
from callagent.planning.schedule import build_week
from callagent.planning.service import staffing_report, target_of
from callagent.planning.teams import (
    CallOfTeam,
    build_teams,
    measured_shares,
    normalised,
    parse_team_shares,
    split_required,
)
from callagent.reports.history import load_spans
from callagent.reports.inputs import load_inputs
from callagent.reports.periods import local_midnight

# the templates a centre starts with (minutes): 8 h from 07:00-14:00 with a 30-minute
# lunch, 12 h from 07:00-10:00 with an hour's lunch
DEFAULT_TEMPLATES = (("8h", 480, 420, 840, 30), ("12h", 720, 420, 600, 60))


class RuleBroken(ValueError):
    """A hand edit that would break a labour rule: ``found`` says which."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(one["detail"] for one in found))
        self.found = found


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def labour_rules(settings: Settings) -> LabourRules:
    return parse_rules(settings.planning_labour_rules)


def templates(session: Session) -> list[ShiftTemplate]:
    """The active shift templates (the defaults stored the first time)."""
    rows = session.scalars(select(db.ShiftTemplate).order_by(db.ShiftTemplate.name)).all()
    if not rows:
        for name, minutes, first, last, lunch in DEFAULT_TEMPLATES:
            session.add(
                db.ShiftTemplate(
                    name=name,
                    minutes=minutes,
                    earliest_start=first,
                    latest_start=last,
                    lunch_minutes=lunch,
                    created_at=datetime.now(UTC),
                )
            )
        session.flush()
        rows = session.scalars(select(db.ShiftTemplate).order_by(db.ShiftTemplate.name)).all()
    return [
        ShiftTemplate(r.name, r.minutes, r.earliest_start, r.latest_start, r.lunch_minutes)
        for r in rows
        if r.active
    ]


class Clock:
    """A week's minutes on the centre's wall clock and the aware times they are."""

    def __init__(self, week_start: date, zone: ZoneInfo) -> None:
        self.start = datetime.combine(week_start, time())
        self.zone = zone

    def moment(self, minute: int) -> datetime:
        local = self.start + timedelta(minutes=minute)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def minute(self, moment: datetime) -> int:
        if moment.tzinfo is None:  # a time without a zone is on the centre's clock
            moment = moment.replace(tzinfo=self.zone)
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        return round((local - self.start).total_seconds() / 60)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


def _users(session: Session, group: str | None = None) -> list[User]:
    query = select(User).where(User.role == Role.OPERATOR.value, User.active.is_(True))
    if group is not None:
        query = query.where(User.group == group)
    return list(session.scalars(query.order_by(User.login)))


def load_operators(
    session: Session, week_start: date, rules: LabourRules, clock: Clock
) -> list[Operator]:
    """The active operators with their availability, days off (requests not refused)
    and the rest owed after their last shift of the week before."""
    users = _users(session)
    ids = [u.id for u in users]
    windows: dict[int, dict[int, tuple[int, int]]] = {}
    for row in session.scalars(
        select(db.OperatorAvailability).where(db.OperatorAvailability.user_id.in_(ids))
    ):
        windows.setdefault(row.user_id, {})[row.weekday] = (row.start_minute, row.end_minute)
    last = week_start + timedelta(days=6)
    off: dict[int, set[int]] = {}
    for request in session.scalars(
        select(db.TimeOffRequest).where(
            db.TimeOffRequest.user_id.in_(ids),
            db.TimeOffRequest.status != "refused",
            db.TimeOffRequest.first_day <= last,
            db.TimeOffRequest.last_day >= week_start,
        )
    ):
        day = max(request.first_day, week_start)
        while day <= min(request.last_day, last):
            off.setdefault(request.user_id, set()).add((day - week_start).days)
            day += timedelta(days=1)
    rest_until: dict[int, int] = {}
    before = clock.moment(0)
    for user_id, end_at in session.execute(
        select(db.ScheduleShift.user_id, db.ScheduleShift.end_at).where(
            db.ScheduleShift.user_id.in_(ids),
            db.ScheduleShift.end_at > before - timedelta(days=1),
            db.ScheduleShift.end_at <= before,
        )
    ):
        until = clock.minute(end_at) + rules.min_rest_minutes
        rest_until[user_id] = max(rest_until.get(user_id, -DAY), until)
    return [
        Operator(
            u.id,
            u.login,
            windows=windows.get(u.id),
            days_off=frozenset(off.get(u.id, set())),
            rest_until=rest_until.get(u.id, -DAY),
        )
        for u in users
    ]


def required_from_staffing(
    session: Session,
    settings: Settings,
    *,
    start: date,
    days: int = 7,
    adjustments: Sequence[Adjustment] = (),
) -> list[int]:
    """Staff needed per 15-minute slot from ``start`` (a week's or a day's slots): each
    interval's Erlang C agents raised by the shrinkage other than ``breaks``. Raises
    NotEnoughHistory when no calls are stored to forecast from."""
    return team_needs(
        session, settings, start=start, days=days, shares={"": 1.0}, adjustments=adjustments
    )[""]


def team_needs(
    session: Session,
    settings: Settings,
    *,
    start: date,
    days: int,
    shares: dict[str, float],
    adjustments: Sequence[Adjustment] = (),
) -> dict[str, list[int]]:
    """Per team, the staff needed per 15-minute slot from ``start``: each interval's
    Erlang C agents for the team's ``shares`` of the forecast volume, raised by the
    shrinkage other than ``breaks`` (one forecast for all the teams). Raises
    NotEnoughHistory."""
    report = staffing_report(session, settings, start=start, days=days, adjustments=adjustments)
    lost = [v for k, v in parse_shrinkage(settings.planning_shrinkage).items() if k != "breaks"]
    clock = Clock(start, ZoneInfo(settings.timezone))
    width = report.report.forecast.interval_minutes // SLOT
    seconds = report.report.forecast.interval_minutes * 60
    target = target_of(settings)
    needs = {team: [0] * (days * DAY // SLOT) for team in shares}
    for interval, (erlang_c, _a) in zip(report.report.forecast.intervals, report.rows, strict=True):
        first = clock.minute(interval.start) // SLOT
        for team, share in shares.items():
            if share >= 1.0:
                agents = erlang_c.agents
            elif share <= 0 or interval.offered <= 0:
                agents = 0
            else:
                agents = agents_erlang_c(
                    interval.offered * share, interval.aht, seconds, target
                ).agents
            staff = scheduled_staff(agents, lost) if agents else 0
            need = needs[team]
            for slot in range(first, first + width):
                if 0 <= slot < len(need):
                    need[slot] = max(need[slot], staff)
    return needs


def teams_of(session: Session) -> dict[str, list[int]]:
    """The active operators' ids per team (their group; "": none)."""
    teams: dict[str, list[int]] = {}
    for user in _users(session):
        teams.setdefault(user.group or "", []).append(user.id)
    return teams


def team_shares(
    session: Session, settings: Settings, teams: dict[str, list[int]], *, before: date
) -> tuple[dict[str, float], str, int]:
    """Each team's share of the calls, how it was found (``setting``, ``calls``, or
    ``operators`` when no call tells) and the calls counted (see planning.teams)."""
    names = sorted(teams)
    given = parse_team_shares(settings.planning_team_shares)
    if given:
        return normalised(given, names), "setting", 0
    zone = ZoneInfo(settings.timezone)
    first = before - timedelta(days=7 * settings.planning_history_weeks)
    inputs = load_inputs(
        session,
        since=local_midnight(first, zone),
        until=local_midnight(before, zone),
        calls_only=True,
    )
    team_of = {u.login: u.group or "" for u in session.scalars(select(User))}
    shares, counted = measured_shares(
        (
            CallOfTeam(fact.operator, fact.topic, fact.disposition == "answered")
            for fact in inputs.calls
        ),
        team_of,
        names,
    )
    if counted:
        return shares, "calls", counted
    return normalised({t: float(len(ids)) for t, ids in teams.items()}, names), "operators", 0


def _stored(session: Session, week_start: date) -> db.Schedule | None:
    return session.scalars(
        select(db.Schedule)
        .where(db.Schedule.week_start == week_start)
        .options(selectinload(db.Schedule.shifts).selectinload(db.ScheduleShift.breaks))
    ).first()


def build(
    session: Session,
    settings: Settings,
    *,
    week_start: date,
    actor: str,
    required: Sequence[int] | None = None,
    required_by_team: Mapping[str, Sequence[int]] | None = None,
    seconds: float = 40.0,
) -> db.Schedule:
    """Builds and stores the week from ``week_start`` (a Monday), replacing the stored
    one (hand edits included). ``required``: staff per slot (default: from the
    staffing); ``required_by_team``: each team's (teams: the operators' groups). With
    several teams each is built with its own operators for its need. Raises ValueError
    or NotEnoughHistory."""
    if week_start.weekday() != 0:
        raise ValueError("a schedule's week starts on a Monday")
    zone = ZoneInfo(settings.timezone)
    clock = Clock(week_start, zone)
    rules = labour_rules(settings)
    operators = load_operators(session, week_start, rules, clock)
    teams = teams_of(session)
    team_rows: dict[str, Any] = {}
    team_of_operator: dict[int, str] = {}
    if required_by_team is not None or len(teams) > 1:
        needs, team_rows = _team_needs(
            session, settings, week_start, teams, required, required_by_team
        )
        team_of_operator = {uid: team for team, ids in teams.items() for uid in ids}
        by_team: dict[str, list[Operator]] = {team: [] for team in needs}
        for operator in operators:
            by_team.setdefault(team_of_operator.get(operator.id, ""), []).append(operator)
        built_teams = build_teams(needs, by_team, templates(session), rules, seconds=seconds)
        for team, one in built_teams.teams.items():
            team_rows.setdefault(team, {"share": 0.0, "source": "given"})
            team_rows[team] |= {
                "required": list(one.required),
                "operators": len(by_team.get(team, [])),
                "under": one.coverage.under,
                "over": one.coverage.over,
                "lower_bound": one.lower_bound,
            }
        need = built_teams.required
        shifts, gap, bound = built_teams.shifts, built_teams.coverage, built_teams.lower_bound
        took, status = built_teams.seconds, built_teams.status
    else:
        need = (
            list(required)
            if required is not None
            else required_from_staffing(session, settings, start=week_start)
        )
        if len(need) != SLOTS_WEEK or any(v < 0 for v in need):
            raise ValueError(f"required: {SLOTS_WEEK} numbers ≥ 0, one per 15 minutes of the week")
        built = build_week(need, operators, templates(session), rules, seconds=seconds)
        shifts, gap, bound = built.shifts, built.coverage, built.lower_bound
        took, status = built.seconds, built.status
    now = datetime.now(UTC)
    row = _stored(session, week_start)
    if row is None:
        row = db.Schedule(week_start=week_start, built_at=now)
        session.add(row)
    row.shifts.clear()
    row.zone = settings.timezone
    row.status = "draft"
    row.required = need
    row.teams = team_rows
    row.under, row.over = gap.under, gap.over
    row.lower_bound = bound
    row.seconds = round(took, 2)
    row.solver_status = status[:32]
    row.built_by = actor[:128]
    row.built_at = row.updated_at = now
    for shift in shifts:
        stored = db.ScheduleShift(
            user_id=shift.operator,
            start_at=clock.moment(shift.start),
            end_at=clock.moment(shift.end),
            template=shift.template,
            team=team_of_operator.get(shift.operator, ""),
        )
        stored.breaks = [
            db.ScheduleBreak(
                kind=one.kind, start_at=clock.moment(one.start), end_at=clock.moment(one.end)
            )
            for one in shift.breaks
        ]
        row.shifts.append(stored)
    session.flush()
    return row


def _team_needs(
    session: Session,
    settings: Settings,
    week_start: date,
    teams: dict[str, list[int]],
    required: Sequence[int] | None,
    required_by_team: Mapping[str, Sequence[int]] | None,
) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Each team's need per slot and how its share was found (planning.teams)."""
    if required_by_team is not None:
        for team, values in required_by_team.items():
            if len(values) != SLOTS_WEEK or any(v < 0 for v in values):
                raise ValueError(f"required_by_team[{team!r}]: {SLOTS_WEEK} numbers ≥ 0")
        unknown = sorted(set(required_by_team) - set(teams))
        if unknown:
            raise ValueError(f"required_by_team names teams without operators: {unknown}")
        total = [sum(v[s] for v in required_by_team.values()) for s in range(SLOTS_WEEK)] or [0]
        return (
            {team: list(values) for team, values in required_by_team.items()},
            {
                team: {
                    "share": round(sum(values) / sum(total), 4) if sum(total) else 0.0,
                    "source": "given",
                }
                for team, values in required_by_team.items()
            },
        )
    shares, source, _counted = team_shares(session, settings, teams, before=week_start)
    if required is not None:
        if len(required) != SLOTS_WEEK or any(v < 0 for v in required):
            raise ValueError(f"required: {SLOTS_WEEK} numbers ≥ 0, one per 15 minutes of the week")
        needs = split_required(required, shares)
    else:
        needs = team_needs(session, settings, start=week_start, days=7, shares=shares)
    return needs, {
        team: {"share": round(share, 4), "source": source} for team, share in shares.items()
    }


def _shifts(row: db.Schedule, clock: Clock) -> list[Shift]:
    return [
        Shift(
            s.user_id,
            clock.minute(s.start_at),
            clock.minute(s.end_at) - clock.minute(s.start_at),
            s.template,
            [
                Break(
                    b.kind,
                    clock.minute(b.start_at),
                    clock.minute(b.end_at) - clock.minute(b.start_at),
                )
                for b in s.breaks
            ],
        )
        for s in row.shifts
    ]


def _hhmm(minute: int) -> str:
    rest = minute % DAY
    return f"{rest // 60:02d}:{rest % 60:02d}"


def view(
    session: Session, settings: Settings, week_start: date, *, group: str | None = None
) -> dict[str, Any] | None:
    """The stored week as JSON (None: none built): figures, per operator their shifts and
    breaks, the need and the staff working per slot, the rules broken (after hand edits
    that were allowed: none)."""
    row = _stored(session, week_start)
    if row is None:
        return None
    clock = Clock(week_start, ZoneInfo(row.zone))
    shifts = _shifts(row, clock)
    working = on_phone(shifts)
    users = {u.id: u for u in _users(session, group)}
    per: dict[int, list[dict[str, Any]]] = {uid: [] for uid in users}
    for stored, shift in zip(row.shifts, shifts, strict=True):
        if shift.operator not in users:
            continue
        per[shift.operator].append(
            {
                "id": stored.id,
                "day": shift.day,
                "date": (week_start + timedelta(days=shift.day)).isoformat(),
                "start": stored.start_at.isoformat(),
                "end": stored.end_at.isoformat(),
                "from": _hhmm(shift.start),
                "to": _hhmm(shift.end) if shift.end % DAY else "24:00",
                "template": stored.template,
                "edited": stored.edited,
                "work_minutes": shift.work_minutes,
                "breaks": [
                    {
                        "id": b.id,
                        "kind": b.kind,
                        "start": b.start_at.isoformat(),
                        "end": b.end_at.isoformat(),
                        "from": _hhmm(clock.minute(b.start_at)),
                        "to": _hhmm(clock.minute(b.end_at)),
                        "edited": b.edited,
                    }
                    for b in stored.breaks
                ],
            }
        )
    rules = labour_rules(settings)
    operators = {o.id: o for o in load_operators(session, week_start, rules, clock)}
    broken = violations([s for s in shifts if s.operator in operators], operators, rules)
    teams = _team_figures(row, shifts, group)
    whole = coverage(row.required, working)
    under, over = (
        (sum(t["under_agent_slots"] for t in teams), sum(t["over_agent_slots"] for t in teams))
        if row.teams and group is None
        else (whole.under, whole.over)
    )
    return {
        "week_start": week_start.isoformat(),
        "zone": row.zone,
        "status": row.status,
        "built_at": row.built_at.isoformat(),
        "built_by": row.built_by,
        "figures": {
            "shifts": len(shifts),
            "under_agent_slots": under,
            "over_agent_slots": over,
            "lower_bound_under": row.lower_bound,
            "built_under_agent_slots": row.under,
            "seconds": row.seconds,
            "solver_status": row.solver_status,
        },
        "days": [(week_start + timedelta(days=d)).isoformat() for d in range(7)],
        "operators": [
            {
                "id": uid,
                "login": user.login,
                "name": user.full_name,
                "team": user.group,
                "days_off": sorted(operators[uid].days_off) if uid in operators else [],
                "week_minutes": sum(s["work_minutes"] for s in per[uid]),
                "shifts": per[uid],
            }
            for uid, user in users.items()
        ],
        "required": list(row.required),
        "working": working,
        "teams": teams,
        "violations": [
            {"operator": v.operator, "rule": v.rule, "detail": v.detail} for v in broken
        ],
    }


def _team_figures(
    row: db.Schedule, shifts: Sequence[Shift], group: str | None
) -> list[dict[str, Any]]:
    """Per team of a schedule built per team: its share (and where from), operators,
    need and staff on the phones per slot, gap, excess and bound (a team's supervisor:
    theirs only)."""
    found = []
    for team, stored in sorted(row.teams.items()):
        if group is not None and team != group:
            continue
        required = list(stored.get("required") or [0] * SLOTS_WEEK)
        working = on_phone(
            [s for s, one in zip(shifts, row.shifts, strict=True) if one.team == team]
        )
        gap = coverage(required, working)
        found.append(
            {
                "team": team,
                "share": stored.get("share", 0.0),
                "share_source": stored.get("source", ""),
                "operators": stored.get("operators", 0),
                "shifts": sum(1 for one in row.shifts if one.team == team),
                "required_agent_slots": sum(required),
                "under_agent_slots": gap.under,
                "over_agent_slots": gap.over,
                "lower_bound_under": stored.get("lower_bound", 0),
                "required": required,
                "working": working,
            }
        )
    return found


def _check(session: Session, settings: Settings, row: db.Schedule, user_id: int) -> None:
    """Raises RuleBroken when the operator's week now breaks a rule."""
    clock = Clock(row.week_start, ZoneInfo(row.zone))
    rules = labour_rules(settings)
    operators = {o.id: o for o in load_operators(session, row.week_start, rules, clock)}
    mine = [s for s in _shifts(row, clock) if s.operator == user_id]
    if user_id not in operators:
        raise ValueError("not an active operator")
    found = violations(mine, operators, rules)
    if found:
        raise RuleBroken([{"rule": v.rule, "detail": v.detail} for v in found])


def _row_of_shift(session: Session, shift_id: int) -> tuple[db.Schedule, db.ScheduleShift]:
    shift = session.get(db.ScheduleShift, shift_id)
    if shift is None:
        raise LookupError(f"no shift {shift_id}")
    row = _stored(session, shift.schedule.week_start)
    assert row is not None
    return row, shift


def edit_shift(
    session: Session, settings: Settings, shift_id: int, *, start: datetime, end: datetime
) -> db.ScheduleShift:
    """Moves or resizes a shift by hand; its breaks are placed again against the week's
    others. Raises LookupError, RuleBroken (nothing changed then) or ValueError."""
    row, stored = _row_of_shift(session, shift_id)
    clock = Clock(row.week_start, ZoneInfo(row.zone))
    first, last = clock.minute(start), clock.minute(end)
    if last <= first:
        raise ValueError("a shift ends after it starts")
    rules = labour_rules(settings)
    shift = Shift(stored.user_id, first, last - first, "")
    team = row.teams.get(stored.team) if row.teams else None
    others = [  # a team's shift: its breaks against the team's need and staff
        s
        for s, one in zip(_shifts(row, clock), row.shifts, strict=True)
        if one is not stored and (team is None or one.team == stored.team)
    ]
    need = list(team["required"]) if team is not None else list(row.required)
    lunch = rules.lunch_min
    place_all([shift], _minus(need, others), rules, lambda _s: lunch)
    stored.start_at, stored.end_at = clock.moment(shift.start), clock.moment(shift.end)
    stored.template, stored.edited = "", True
    stored.breaks = [
        db.ScheduleBreak(
            kind=b.kind, start_at=clock.moment(b.start), end_at=clock.moment(b.end), edited=True
        )
        for b in shift.breaks
    ]
    session.flush()
    session.expire(row)
    row = _stored(session, row.week_start) or row
    _check(session, settings, row, stored.user_id)
    row.updated_at = datetime.now(UTC)
    return stored


def _minus(required: Sequence[int], others: Sequence[Shift]) -> list[int]:
    """The need left after the other shifts' staff (for placing one shift's breaks)."""
    working = on_phone(others, len(required))
    return [need - have for need, have in zip(required, working, strict=True)]


def edit_break(
    session: Session, settings: Settings, break_id: int, *, start: datetime, end: datetime
) -> db.ScheduleBreak:
    """Moves or resizes a break or lunch by hand. Raises LookupError, RuleBroken or
    ValueError."""
    stored = session.get(db.ScheduleBreak, break_id)
    if stored is None:
        raise LookupError(f"no break {break_id}")
    shift = stored.shift
    if end <= start:
        raise ValueError("a break ends after it starts")
    stored.start_at, stored.end_at, stored.edited = start, end, True
    session.flush()
    row = _stored(session, shift.schedule.week_start)
    assert row is not None
    _check(session, settings, row, shift.user_id)
    row.updated_at = datetime.now(UTC)
    return stored


def publish(session: Session, week_start: date, *, published: bool = True) -> db.Schedule:
    """Operators see a published week's shifts on their page."""
    row = _stored(session, week_start)
    if row is None:
        raise LookupError(f"no schedule for the week of {week_start}")
    row.status = "published" if published else "draft"
    row.updated_at = datetime.now(UTC)
    return row


def replan(
    session: Session,
    settings: Settings,
    *,
    at: datetime,
    factor: float = 1.0,
    apply: bool = False,
) -> dict[str, Any]:
    """The breaks of the day of ``at`` not begun by then placed again for the volume
    ``factor`` × the forecast from ``at`` to the day's end (the staffing recomputed with
    that adjustment; without history the need scaled). ``apply``: stored (the
    supervisor confirmed), else only proposed."""
    zone = ZoneInfo(settings.timezone)
    local = at.astimezone(zone) if at.tzinfo else at.replace(tzinfo=zone)
    day = local.date()
    row = _stored(session, monday(day))
    if row is None:
        raise LookupError(f"no schedule for the week of {monday(day)}")
    clock = Clock(row.week_start, zone)
    now = clock.minute(local)
    index = (day - row.week_start).days
    first_slot, last_slot = now // SLOT, (index + 1) * DAY // SLOT
    # a schedule built per team: each team's breaks for the team's need (its share)
    teams: dict[str | None, list[int]] = (
        {team: list(one.get("required") or [0] * SLOTS_WEEK) for team, one in row.teams.items()}
        if row.teams
        else {None: list(row.required)}
    )
    stored_needs = {team: list(need) for team, need in teams.items()}
    method = "erlang"
    try:
        day_end = clock.moment((index + 1) * DAY)
        fresh = team_needs(
            session,
            settings,
            start=day,
            days=1,
            shares={
                str(team): float(row.teams[team].get("share", 0.0)) if team is not None else 1.0
                for team in teams
            },
            adjustments=[Adjustment(local.astimezone(UTC), day_end, factor, 0.0)],
        )
        for team, need in teams.items():
            for slot in range(first_slot, last_slot):
                need[slot] = fresh[str(team)][slot - index * DAY // SLOT]
    except (NotEnoughHistory, ValueError):
        method = "scaled"
        for team, need in teams.items():
            for slot in range(first_slot, last_slot):
                need[slot] = math.ceil(stored_needs[team][slot] * factor - 1e-9)
    rules = labour_rules(settings)
    shifts = _shifts(row, clock)
    team_of = {id(s): one.team for s, one in zip(shifts, row.shifts, strict=True)}
    today = [s for s in shifts if s.day == index and s.end > now]
    before = {id(s): [(b.kind, b.start, b.minutes) for b in s.breaks] for s in today}
    stuck = []
    for team, need in teams.items():
        mine = [s for s in today if team is None or team_of[id(s)] == team]
        stuck += place_all(mine, need, rules, lambda s: s.lunch_minutes or rules.lunch_min, now=now)
    changes = []
    stored_of = {(one.user_id, clock.minute(one.start_at)): one for one in row.shifts}
    for shift in today:
        after = [(b.kind, b.start, b.minutes) for b in shift.breaks]
        if after == before[id(shift)]:
            continue
        stored = stored_of[(shift.operator, shift.start)]
        changes.append(
            {
                "shift": stored.id,
                "operator": shift.operator,
                "before": [
                    {"kind": k, "from": _hhmm(s), "to": _hhmm(s + m)}
                    for k, s, m in before[id(shift)]
                ],
                "after": [{"kind": k, "from": _hhmm(s), "to": _hhmm(s + m)} for k, s, m in after],
            }
        )
        if apply:
            stored.breaks = [
                db.ScheduleBreak(
                    kind=b.kind, start_at=clock.moment(b.start), end_at=clock.moment(b.end)
                )
                for b in shift.breaks
            ]
    day_slots = slice(first_slot, last_slot)
    under_before = under_after = 0
    for team, need in teams.items():
        mine = [s for s in shifts if team is None or team_of[id(s)] == team]
        under_before += coverage(
            need[day_slots], _restore(on_phone(mine), before, mine)[day_slots]
        ).under
        under_after += coverage(need[day_slots], on_phone(mine)[day_slots]).under
    if apply:
        if row.teams:
            row.teams = {
                str(team): {**row.teams[str(team)], "required": need}
                for team, need in teams.items()
            }
        row.required = [sum(need[s] for need in teams.values()) for s in range(SLOTS_WEEK)]
        row.updated_at = datetime.now(UTC)
        session.flush()
    return {
        "day": day.isoformat(),
        "from": _hhmm(now),
        "factor": factor,
        "method": method,
        "applied": apply,
        "changes": changes,
        "stuck": len(stuck),
        "under_before": under_before,
        "under_after": under_after,
    }


def _restore(
    working: list[int], before: dict[int, list[tuple[str, int, int]]], shifts: list[Shift]
) -> list[int]:
    """The staff per slot had the breaks stayed as they were."""
    old = [
        Shift(
            s.operator,
            s.start,
            s.minutes,
            s.template,
            [Break(k, st, m) for k, st, m in before[id(s)]] if id(s) in before else s.breaks,
        )
        for s in shifts
    ]
    return on_phone(old, len(working))


def adherence_report(
    session: Session, settings: Settings, *, day: date, now: datetime, group: str | None = None
) -> dict[str, Any]:
    """Each scheduled operator's adherence on ``day`` by ``now``."""
    row = _stored(session, monday(day))
    zone = ZoneInfo(settings.timezone)
    users = {u.id: u for u in _users(session, group)}
    if row is None:
        return {"day": day.isoformat(), "rows": []}
    clock = Clock(row.week_start, zone)
    index = (day - row.week_start).days
    mine = [
        s for s in row.shifts if s.user_id in users and clock.minute(s.start_at) // DAY == index
    ]
    if not mine:
        return {"day": day.isoformat(), "rows": []}
    since = min(s.start_at for s in mine) - timedelta(hours=2)
    until = min(now, max(s.end_at for s in mine) + timedelta(hours=2))
    spans = load_spans(session, since=since, until=until, group=group) if until > since else []
    rows = []
    for stored in mine:
        planned = Planned(
            users[stored.user_id].login,
            stored.start_at,
            stored.end_at,
            tuple((b.kind, b.start_at, b.end_at) for b in stored.breaks),
        )
        one = adherence(planned, spans, now=now).to_json()
        one["from"] = _hhmm(clock.minute(stored.start_at))
        one["to"] = _hhmm(clock.minute(stored.end_at))
        rows.append(one)
    return {"day": day.isoformat(), "rows": rows}


def operator_shift(
    session: Session, settings: Settings, user_id: int, now: datetime
) -> dict[str, Any] | None:
    """An operator's current or next shift of a published week (within a day) and its
    next break, for their page."""
    shift = session.scalars(
        select(db.ScheduleShift)
        .join(db.Schedule)
        .where(
            db.ScheduleShift.user_id == user_id,
            db.Schedule.status == "published",
            db.ScheduleShift.end_at > now,
            db.ScheduleShift.start_at < now + timedelta(days=1),
        )
        .order_by(db.ScheduleShift.start_at)
    ).first()
    if shift is None:
        return None
    zone = ZoneInfo(settings.timezone)
    upcoming = [b for b in shift.breaks if b.end_at > now]
    return {
        "start": shift.start_at.astimezone(zone),
        "end": shift.end_at.astimezone(zone),
        "next_break": (
            {
                "kind": upcoming[0].kind,
                "start": upcoming[0].start_at.astimezone(zone),
                "end": upcoming[0].end_at.astimezone(zone),
            }
            if upcoming
            else None
        ),
    }
