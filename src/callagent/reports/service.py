"""One code path for every report: the API, the CLI and the pages call this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.reports.activity import intraday_profile
from callagent.reports.aggregate_read import aggregated_tallies
from callagent.reports.aggregate_store import coverage
from callagent.reports.build import GROUPINGS, ReportInputs, build, finish_report
from callagent.reports.history import load_spans
from callagent.reports.inputs import (
    MAX_INTERVAL_DAYS,
    MAX_PERIOD_DAYS,
    check_period,
    load_inputs,
)
from callagent.reports.kpi import Kpi, KpiOptions
from callagent.reports.operator_time import StateSpan
from callagent.reports.periods import days_in

__all__ = [
    "GROUPINGS",
    "MAX_INTERVAL_DAYS",
    "MAX_PERIOD_DAYS",
    "aggregates_ready",
    "hourly_profile",
    "kpi_report",
    "load_inputs",
    "options_of",
    "profile",
    "timeline",
]


def options_of(settings: Settings) -> KpiOptions:
    """The centre's KPI choices from its settings."""
    return KpiOptions(
        sl_threshold_seconds=settings.sl_threshold_seconds,
        short_abandon_seconds=settings.short_abandon_seconds,
        exclude_short_abandons=settings.exclude_short_abandons,
    )


def kpi_report(
    session: Session,
    settings: Settings,
    *,
    since: datetime,
    until: datetime,
    by: str | None = None,
    interval_minutes: int = 30,
    endpoints: Sequence[str] | None = None,
    group: str | None = None,
    calls_only: bool = False,
    inputs: ReportInputs | None = None,
) -> Kpi:
    """The figures of ``[since, until)``, optionally per group (see :mod:`.build`);
    ``inputs``: facts already loaded for this period (one load for several groupings)."""
    check_period(since, until, by)
    if interval_minutes not in (15, 30, 60):
        raise ValueError("interval must be 15, 30 or 60 minutes")
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    options = options_of(settings)
    zone = ZoneInfo(settings.timezone)
    if inputs is None and endpoints is None and group is None and not calls_only:
        # the whole centre: stored interval aggregates where clean, raw facts elsewhere
        found = aggregated_tallies(
            session,
            options,
            since=since,
            until=until,
            by=by,
            zone=zone,
            interval_minutes=interval_minutes,
        )
        if found is not None:
            return finish_report(*found, options, grouped=by is not None)
    if inputs is None:
        inputs = load_inputs(
            session,
            since=since,
            until=until,
            endpoints=endpoints,
            group=group,
            calls_only=calls_only,
        )
    return build(inputs, options, by=by, zone=zone, interval_minutes=interval_minutes)


def profile(inputs: ReportInputs, settings: Settings) -> list[float]:
    """The intraday profile of the period (see :mod:`.activity`)."""
    zone = ZoneInfo(settings.timezone)
    return intraday_profile(inputs.calls, zone, days_in(inputs.since, inputs.until, zone))


def aggregates_ready(session: Session, settings: Settings) -> bool:
    """Whether the whole centre's reports can read interval aggregates now (cells of the
    centre's KPI options, the dirty queue short enough)."""
    return coverage(session, options_of(settings)) is not None


def hourly_profile(
    session: Session,
    settings: Settings,
    *,
    since: datetime,
    until: datetime,
    endpoints: Sequence[str] | None = None,
) -> list[float]:
    """The intraday profile of ``[since, until)`` (see :mod:`.activity`): for the whole
    centre from the interval aggregates' hours where they are clean (a call's hour of the
    day is that of the 60-minute interval it was offered in), else from the calls
    (``endpoints``: a team's)."""
    check_period(since, until)
    zone = ZoneInfo(settings.timezone)
    if endpoints is None:
        found = aggregated_tallies(
            session,
            options_of(settings),
            since=since,
            until=until,
            by="interval",
            zone=zone,
            interval_minutes=60,
        )
        if found is not None:
            days = days_in(since, until, zone)
            hours = [0] * 24
            for key, tallies in found[1].items():  # key: the local start, ISO
                hours[datetime.fromisoformat(key).hour] += tallies.calls.offered
            return [count / days if days else 0.0 for count in hours]
    inputs = load_inputs(session, since=since, until=until, endpoints=endpoints, calls_only=True)
    return profile(inputs, settings)


def timeline(
    session: Session, *, since: datetime, until: datetime, group: str | None = None
) -> dict[str, list[StateSpan]]:
    """Each operator's state spans over ``[since, until)`` (a day), by login, in order;
    operators who were offline all along are left out."""
    check_period(since, until)
    now = datetime.now(UTC)
    per: dict[str, list[StateSpan]] = {}
    if min(until, now) > since:
        for span in load_spans(session, since=since, until=min(until, now), group=group):
            per.setdefault(span.operator, []).append(span)
    return {
        login: sorted(mine, key=lambda s: s.start)
        for login, mine in sorted(per.items())
        if any(s.state != "offline" for s in mine)
    }
