"""The facts a report counts, read from the database for a period (and its bounds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from callagent.reports.activity import with_repeats
from callagent.reports.build import ReportInputs
from callagent.reports.facts import load_facts
from callagent.reports.history import earlier_callers, load_attempts, load_spans, load_wrapups

MAX_PERIOD_DAYS = 3660  # ten years: any real report; not the year 38 to 3806
MAX_INTERVAL_DAYS = 366  # by interval: a year of 15-minute groups at most


def check_period(since: datetime, until: datetime, by: str | None = None) -> None:
    """Raise ValueError (saying what to change) unless ``[since, until)`` is a period a
    report may cover (grouped ``by``)."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a time zone (e.g. 2026-12-01T00:00+03:00)")
    if until <= since:
        raise ValueError("until must be after since")
    longest = MAX_INTERVAL_DAYS if by == "interval" else MAX_PERIOD_DAYS
    if until - since > timedelta(days=longest):
        grouped = " grouped by interval" if by == "interval" else ""
        raise ValueError(
            f"a report{grouped} covers at most {longest} days: choose a shorter period"
        )


def load_inputs(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    endpoints: Sequence[str] | None = None,
    group: str | None = None,
    calls_only: bool = False,
    now: datetime | None = None,
    with_activity: bool = True,
) -> ReportInputs:
    """The facts of ``[since, until)``: calls (with their repeat flags), and unless
    ``calls_only`` the operators' states (up to now), wrap-ups and notification attempts.
    ``endpoints`` / ``group``: a supervisor's team (their phones' calls, their operators);
    ``with_activity`` False: no wrap-ups and attempts (the interval aggregates)."""
    check_period(since, until)
    calls = load_facts(session, since=since, until=until, endpoints=endpoints)
    if calls_only:
        return ReportInputs(since, until, calls)
    earlier = earlier_callers(session, since=since, numbers=[c.caller for c in calls])
    states_until = min(until, now or datetime.now(UTC))
    return ReportInputs(
        since,
        until,
        with_repeats(calls, earlier),
        spans=load_spans(session, since=since, until=states_until, group=group)
        if states_until > since
        else [],
        wrapups=load_wrapups(session, since=since, until=until, group=group)
        if with_activity
        else [],
        attempts=load_attempts(session, since=since, until=until) if with_activity else [],
    )
