"""One code path for every KPI report: the API, the CLI and the pages call this."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.reports.facts import load_facts
from callagent.reports.kpi import CallFact, Kpi, KpiOptions, by_operator, compute, grouped

GROUPINGS = ("interval", "day", "operator", "topic", "did")


def options_of(settings: Settings) -> KpiOptions:
    """The centre's KPI choices from its settings."""
    return KpiOptions(
        sl_threshold_seconds=settings.sl_threshold_seconds,
        short_abandon_seconds=settings.short_abandon_seconds,
        exclude_short_abandons=settings.exclude_short_abandons,
    )


def key_function(by: str, zone: ZoneInfo, interval_minutes: int) -> Callable[[CallFact], str]:
    """How calls are grouped: by interval (its start in the centre's zone), day, operator
    (login, or the endpoint of a phone with no operator), topic or dialled number."""
    if by == "interval":
        step = interval_minutes * 60

        def interval(fact: CallFact) -> str:
            local = fact.offered_at.astimezone(zone)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            # counted from the local midnight (wall clock), so a DST day keeps its slots
            seconds = (local.replace(tzinfo=None) - midnight.replace(tzinfo=None)).seconds
            start = midnight.replace(tzinfo=None) + timedelta(seconds=seconds - seconds % step)
            return start.replace(tzinfo=zone).isoformat(timespec="minutes")

        return interval
    if by == "day":
        return lambda fact: fact.offered_at.astimezone(zone).date().isoformat()
    if by == "operator":
        return lambda fact: fact.operator
    if by == "topic":
        return lambda fact: fact.topic
    if by == "did":
        return lambda fact: fact.did
    raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")


def kpi_report(
    session: Session,
    settings: Settings,
    *,
    since: datetime,
    until: datetime,
    by: str | None = None,
    interval_minutes: int = 30,
    endpoints: Sequence[str] | None = None,
) -> Kpi:
    """The figures of the inbound calls offered in ``[since, until)``, optionally per group."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a time zone (e.g. 2026-12-01T00:00+03:00)")
    if until <= since:
        raise ValueError("until must be after since")
    if interval_minutes not in (15, 30, 60):
        raise ValueError("interval must be 15, 30 or 60 minutes")
    facts = load_facts(session, since=since, until=until, endpoints=endpoints)
    options = options_of(settings)
    if by is None:
        return compute(facts, options)
    key_of = key_function(by, ZoneInfo(settings.timezone), interval_minutes)
    # by operator: a transferred call counts for each operator who talked on it
    return grouped(facts, options, key_of, expand=by_operator if by == "operator" else None)
