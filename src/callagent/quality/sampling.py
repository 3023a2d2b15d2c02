"""The weekly sample (seed 003 B/01: "selecting recordings of contacts for monitoring"):
N answered calls per operator per week, drawn at random among those the filters keep,
each given to an evaluator.

The draw is reproducible: the same seed, week and calls give the same picks (each
operator's draw has its own generator, seeded by seed, week and operator, so adding an
operator does not change anyone else's). A second run for the same week tops each
operator up to N with calls not yet drawn, so cron may run it twice. An evaluator is
never given their own call, and only a call they may see (a supervisor with a group:
their group's).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callagent.complaints.models import Complaint
from callagent.db.models import Call, User
from callagent.db.queries import TOPIC_VARIABLE, operators_by_endpoint
from callagent.errors import ServiceError
from callagent.quality.models import Assignment
from callagent.reports.periods import local_midnight

REPEAT_DAYS = 7  # a repeat caller: another call from the number within these days before


@dataclass(frozen=True)
class SampleFilter:
    """Which answered calls may be drawn; every filter given must hold."""

    topic: str | None = None  # the routing topic (CALLAGENT_TOPIC)
    min_talk_seconds: float | None = None  # long calls
    with_complaint: bool = False  # a complaint was registered from the call
    repeat_callers: bool = False  # the number called within REPEAT_DAYS before

    def reason(self) -> str:
        """The filters as the assignment's reason ("random" when none)."""
        parts = []
        if self.topic:
            parts.append(f"topic={self.topic}")
        if self.min_talk_seconds:
            parts.append(f"talk>={self.min_talk_seconds:g}s")
        if self.with_complaint:
            parts.append("complaint")
        if self.repeat_callers:
            parts.append("repeat")
        return ",".join(parts)[:64] or "random"


@dataclass
class SampleResult:
    """What a sampling run did: (call, operator, evaluator) assigned, and the operators
    who had fewer calls than wanted."""

    week: date
    assigned: list[tuple[int, int, int]] = field(default_factory=list)
    short: dict[int, int] = field(default_factory=dict)  # operator -> calls missing


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def draw(
    candidates: Mapping[int, Sequence[int]],
    *,
    per_operator: int,
    seed: int,
    week: date,
    already: Mapping[int, int],
) -> dict[int, list[int]]:
    """Pure: up to ``per_operator`` - ``already[operator]`` of each operator's candidate
    call ids, at random, reproducibly (sorted input: the database's order does not
    matter)."""
    picks: dict[int, list[int]] = {}
    for operator, calls in sorted(candidates.items()):
        wanted = per_operator - already.get(operator, 0)
        if wanted <= 0:
            continue
        rng = random.Random(f"{seed}:{week.isoformat()}:{operator}")
        pool = sorted(calls)
        picks[operator] = sorted(rng.sample(pool, min(wanted, len(pool))))
    return picks


def deal(
    picks: Mapping[int, Sequence[int]],
    evaluators: Sequence[int],
    *,
    may_take: Callable[[int, int], bool],
) -> list[tuple[int, int, int]]:
    """Pure: (call, operator, evaluator) for each picked call, round robin over the
    evaluators, skipping those who may not take it (``may_take(evaluator, operator)``:
    not their own call, a call they may see). A call nobody may take is left out."""
    dealt: list[tuple[int, int, int]] = []
    turn = 0
    for operator, calls in sorted(picks.items()):
        for call in calls:
            for step in range(len(evaluators)):
                evaluator = evaluators[(turn + step) % len(evaluators)]
                if may_take(evaluator, operator):
                    dealt.append((call, operator, evaluator))
                    turn = (turn + step + 1) % len(evaluators)
                    break
    return dealt


def candidates(
    db: Session, *, since: datetime, until: datetime, where: SampleFilter
) -> dict[int, list[int]]:
    """Operator id -> ids of the answered calls of ``[since, until)`` the filter keeps and
    nobody was given yet."""
    query = select(Call.id, Call.operator_endpoint, Call.applicant_number, Call.started_at).where(
        Call.started_at >= since,
        Call.started_at < until,
        Call.answered_at.is_not(None),
        Call.operator_endpoint.is_not(None),
        ~select(Assignment.id).where(Assignment.call_id == Call.id).exists(),
    )
    if where.topic:
        query = query.where(Call.variables[TOPIC_VARIABLE].as_string() == where.topic)
    if where.min_talk_seconds:
        query = query.where(Call.talk_seconds >= where.min_talk_seconds)
    if where.with_complaint:
        query = query.where(select(Complaint.id).where(Complaint.call_id == Call.id).exists())
    rows = db.execute(query).all()
    if where.repeat_callers:
        rows = [row for row in rows if row.applicant_number]
        numbers = sorted({row.applicant_number for row in rows})
        earlier: dict[str, list[datetime]] = {}
        for start in range(0, len(numbers), 500):  # bounded IN lists
            for number, at in db.execute(
                select(Call.applicant_number, Call.started_at).where(
                    Call.applicant_number.in_(numbers[start : start + 500]),
                    Call.started_at >= since - timedelta(days=REPEAT_DAYS),
                    Call.started_at < until,
                )
            ):
                earlier.setdefault(number, []).append(at)
        rows = [
            row
            for row in rows
            if any(
                row.started_at - timedelta(days=REPEAT_DAYS) <= at < row.started_at
                for at in earlier.get(row.applicant_number, [])
            )
        ]
    owners = operators_by_endpoint(db)
    found: dict[int, list[int]] = {}
    for row in rows:
        owner = owners.get(row.operator_endpoint or "")
        if owner is not None:
            found.setdefault(owner[0], []).append(row.id)
    return found


def sample_week(
    db: Session,
    *,
    week: date,
    zone: ZoneInfo,
    per_operator: int,
    evaluators: Sequence[int],
    seed: int,
    where: SampleFilter,
    now: datetime,
    created_by: int | None,
) -> SampleResult:
    """Draw and assign the week's sample (``week``: any day of it); the caller commits."""
    if per_operator < 1:
        raise ServiceError(422, "per_operator must be at least 1", code="quality_sample_size")
    if not evaluators:
        raise ServiceError(422, "name at least one evaluator", code="quality_no_evaluators")
    people = {user.id: user for user in db.scalars(select(User).where(User.id.in_(evaluators)))}
    missing = sorted(set(evaluators) - set(people))
    if missing:
        raise ServiceError(
            422,
            f"no user with id {', '.join(map(str, missing))} to evaluate",
            code="quality_no_evaluators",
        )
    monday = week_of(week)
    since = local_midnight(monday, zone)
    until = local_midnight(monday + timedelta(days=7), zone)
    pool = candidates(db, since=since, until=until, where=where)
    counted = db.execute(
        select(Assignment.operator_id, func.count(Assignment.id))
        .where(Assignment.week == monday, Assignment.kind == "sample")
        .group_by(Assignment.operator_id)
    ).all()
    already = {operator: count for operator, count in counted if operator is not None}
    picks = draw(pool, per_operator=per_operator, seed=seed, week=monday, already=already)
    groups = dict(db.execute(select(User.id, User.group).where(User.id.in_(list(picks)))).all())

    def may_take(evaluator: int, operator: int) -> bool:
        person = people[evaluator]
        if evaluator == operator or not person.active:
            return False
        # a supervisor with a group sees (and so evaluates) their group's calls only
        if person.role == "supervisor" and person.group:
            return groups.get(operator) == person.group
        return person.role in ("supervisor", "admin", "evaluator")

    ordered = sorted(set(evaluators))
    result = SampleResult(week=monday)
    for call, operator, evaluator in deal(picks, ordered, may_take=may_take):
        db.add(
            Assignment(
                call_id=call,
                operator_id=operator,
                evaluator_id=evaluator,
                week=monday,
                kind="sample",
                reason=where.reason(),
                status="open",
                created_at=now,
                created_by_id=created_by,
            )
        )
        result.assigned.append((call, operator, evaluator))
    for operator in set(pool) | set(already):
        got = already.get(operator, 0) + sum(1 for a in result.assigned if a[1] == operator)
        if got < per_operator:
            result.short[operator] = per_operator - got
    db.flush()
    return result
