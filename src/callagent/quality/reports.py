"""The quality reports (seed 003 B/03: "the score of each specialist over the period",
"a report on the monitoring results for each specialist and group"): the average score
per operator, team and period (the trend), each criterion's earned share, the most
frequent errors, and the calibration's spread per criterion.

Read from the current revisions only (``superseded_by_id`` NULL). Calibration
evaluations (the same call scored by several evaluators to compare them) are left out
of the operators' figures, which would otherwise count a call several times; the
calibration section takes every call with two or more evaluators.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.quality.models import Evaluation, EvaluationAnswer
from callagent.quality.service import Circle


@dataclass(frozen=True)
class Row:
    """One current evaluation with what the report needs of it."""

    evaluation_id: int
    call_id: int | None
    operator_id: int | None
    team: str
    evaluator_id: int | None
    kind: str
    score: float
    critical: bool
    started_at: datetime
    answers: tuple[tuple[str, str, float, float, bool], ...]  # item, answer, points, of, crit


def load_rows(db: Session, *, circle: Circle, since: datetime, until: datetime) -> list[Row]:
    """The current evaluations of calls in ``[since, until)`` the circle sees, with answers.

    Read as plain tuples, not ORM objects (a year of a centre is some 100,000 answers:
    building an object for each took most of the report's time), the answers joined to
    the same filter in one query."""
    where = (
        Evaluation.call_started_at >= since,
        Evaluation.call_started_at < until,
        Evaluation.superseded_by_id.is_(None),
        circle.where(),
    )
    answers: dict[int, list[tuple[str, str, float, float, bool]]] = defaultdict(list)
    for evaluation_id, item, answer, points, possible, critical in db.execute(
        select(
            EvaluationAnswer.evaluation_id,
            EvaluationAnswer.item_id,
            EvaluationAnswer.answer,
            EvaluationAnswer.points,
            EvaluationAnswer.possible,
            EvaluationAnswer.critical,
        )
        .join(Evaluation, Evaluation.id == EvaluationAnswer.evaluation_id)
        .where(*where)
        .order_by(EvaluationAnswer.id)
    ):
        answers[evaluation_id].append((item, answer, points, possible, critical))
    rows = db.execute(
        select(
            Evaluation.id,
            Evaluation.call_id,
            Evaluation.operator_id,
            Evaluation.team,
            Evaluation.evaluator_id,
            Evaluation.kind,
            Evaluation.score,
            Evaluation.critical,
            Evaluation.call_started_at,
        )
        .where(*where)
        .order_by(Evaluation.id)
    ).all()
    return [Row(*row, answers=tuple(answers[row[0]])) for row in rows]


def _avg(values: Sequence[float]) -> float:
    return round(mean(values), 2) if values else 0.0


def build(rows: Sequence[Row], *, zone: ZoneInfo, by: str = "week") -> dict[str, Any]:
    """Pure: every section of the report from the rows (``by``: day, week or month)."""
    scored = [r for r in rows if r.kind != "calibration"]
    operators: dict[int | None, list[Row]] = defaultdict(list)
    teams: dict[str, list[Row]] = defaultdict(list)
    periods: dict[str, list[Row]] = defaultdict(list)
    for row in scored:
        operators[row.operator_id].append(row)
        teams[row.team].append(row)
        periods[_period(row.started_at, zone, by)].append(row)

    def figures(group: Sequence[Row]) -> dict[str, Any]:
        return {
            "evaluations": len(group),
            "average": _avg([r.score for r in group]),
            "critical": sum(1 for r in group if r.critical),
        }

    earned: dict[str, float] = defaultdict(float)
    possible: dict[str, float] = defaultdict(float)
    counted: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    critical_items: set[str] = set()
    for row in scored:
        for item, answer, points, of, critical in row.answers:
            if critical:
                critical_items.add(item)
                if answer == "yes":
                    errors[item] += 1
                continue
            if answer == "na":
                continue
            counted[item] += 1
            earned[item] += points
            possible[item] += of
            if answer in ("no", "partial"):
                errors[item] += 1
    return {
        "evaluations": len(scored),
        "average": _avg([r.score for r in scored]),
        "operators": [
            {"operator_id": operator, **figures(group)}
            for operator, group in sorted(operators.items(), key=lambda kv: kv[0] or 0)
        ],
        "teams": [{"team": team, **figures(group)} for team, group in sorted(teams.items())],
        "trend": [{"period": key, **figures(group)} for key, group in sorted(periods.items())],
        "criteria": [
            {
                "item_id": item,
                "answered": counted[item],
                "share": round(100.0 * earned[item] / possible[item], 2) if possible[item] else 0.0,
            }
            for item in sorted(counted)
        ],
        "errors": [
            {"item_id": item, "critical": item in critical_items, "count": count}
            for item, count in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "calibration": calibration(rows),
    }


def calibration(rows: Sequence[Row]) -> dict[str, Any]:
    """Calls scored by two or more evaluators: per call the scores' spread, per criterion
    the spread of the evaluators' shares (0 = they agree; 100 = one gave all, another
    nothing), averaged over the calls and at worst."""
    by_call: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        if row.call_id is not None:
            by_call[row.call_id].append(row)
    calls = []
    spreads: dict[str, list[float]] = defaultdict(list)
    for call_id, group in sorted(by_call.items()):
        if len({r.evaluator_id for r in group}) < 2:
            continue
        scores = [r.score for r in group]
        calls.append(
            {
                "call_id": call_id,
                "evaluators": len(group),
                "scores": scores,
                "spread": round(max(scores) - min(scores), 2),
            }
        )
        shares: dict[str, list[float]] = defaultdict(list)
        for row in group:
            for item, answer, points, of, critical in row.answers:
                if critical:
                    shares[item].append(100.0 if answer == "yes" else 0.0)
                elif answer != "na" and of:
                    shares[item].append(100.0 * points / of)
        for item, values in shares.items():
            if len(values) >= 2:
                spreads[item].append(max(values) - min(values))
    return {
        "calls": calls,
        "criteria": [
            {
                "item_id": item,
                "calls": len(values),
                "mean_spread": _avg(values),
                "max_spread": round(max(values), 2),
            }
            for item, values in sorted(spreads.items(), key=lambda kv: (-mean(kv[1]), kv[0]))
        ],
    }


def trend_step(first: date, last: date) -> str:
    """The trend's period for the days ``first``..``last`` as the reports page draws it:
    days up to a month, weeks up to half a year, months beyond (a point per day over a
    year would be unreadable)."""
    days = (last - first).days + 1
    return "day" if days <= 31 else "week" if days <= 184 else "month"


def _period(at: datetime, zone: ZoneInfo, by: str) -> str:
    day: date = at.astimezone(zone).date()
    if by == "day":
        return day.isoformat()
    if by == "month":
        return day.strftime("%Y-%m")
    return (day - timedelta(days=day.weekday())).isoformat()
