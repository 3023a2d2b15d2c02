"""One code path for planning: the API, the CLI (and later the pages) call this.

Reads the stored inbound calls through the reports' loader (the same facts and AHT
definition as the KPI reports: talk + hold + after-call work), bins them per interval
on the centre's clock, forecasts, backtests, and staffs each interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.planning.erlang import (
    Staffing,
    Target,
    agents_erlang_a,
    agents_erlang_c,
    patience_estimate,
    scheduled_staff,
)
from callagent.planning.forecast import (
    Accuracy,
    Adjustment,
    CallPoint,
    Forecast,
    History,
    NotEnoughHistory,
    backtest,
    bin_calls,
    forecast,
)
from callagent.planning.options import parse_holidays, parse_shrinkage
from callagent.reports.periods import local_midnight
from callagent.reports.service import load_inputs

MAX_DAYS = 28  # a forecast of four weeks at most: beyond, the weekly shape is a guess
MAX_YEARS_AWAY = 10  # a start further from today is a typing error


@dataclass(frozen=True)
class Loaded:
    """The history read for a forecast, and the callers' measured patience."""

    history: History
    calls: int
    patience: float  # seconds; math.inf: nobody abandoned


def load_history(
    session: Session,
    settings: Settings,
    *,
    last: date,
    weeks: int | None = None,
    interval_minutes: int | None = None,
    endpoints: Sequence[str] | None = None,
) -> Loaded:
    """The calls offered over the ``weeks`` weeks up to ``last`` (inclusive, on the
    centre's clock), binned; ``endpoints``: a supervisor's team (as in the reports)."""
    zone = ZoneInfo(settings.timezone)
    weeks = weeks or settings.planning_history_weeks
    first = last - timedelta(days=7 * weeks - 1)
    inputs = load_inputs(
        session,
        since=local_midnight(first, zone),
        until=local_midnight(last + timedelta(days=1), zone),
        endpoints=endpoints,
        calls_only=True,
    )
    points = [
        CallPoint(
            fact.offered_at,
            fact.disposition == "answered",
            fact.talk_seconds + fact.hold_seconds + fact.acw_seconds,
        )
        for fact in inputs.calls
    ]
    if not points:
        raise NotEnoughHistory(
            f"no inbound calls stored from {first} to {last}: nothing to forecast from"
        )
    answered_waits = [f.wait_seconds for f in inputs.calls if f.disposition == "answered"]
    abandoned_waits = [f.wait_seconds for f in inputs.calls if f.disposition == "abandoned"]
    # the history starts with the first call: weeks before the centre opened (or before
    # callagent was installed) are not weeks without calls, and would bend the trend
    history = bin_calls(
        points,
        zone=zone,
        interval_minutes=interval_minutes or settings.planning_interval_minutes,
        first=min(p.offered_at for p in points).astimezone(zone).date(),
        last=last,
    )
    return Loaded(history, len(points), patience_estimate(answered_waits, abandoned_waits))


@dataclass
class ForecastReport:
    """A forecast with the accuracy of its method on the held-out weeks."""

    zone: str
    start: date
    days: int
    loaded: Loaded
    forecast: Forecast
    accuracy: Accuracy | None  # None: no backtest asked for

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's JSON."""
        history = self.loaded.history
        return {
            "zone": self.zone,
            "start": self.start.isoformat(),
            "days": self.days,
            "interval_minutes": self.forecast.interval_minutes,
            "history": {
                "first": history.first.isoformat(),
                "last": history.last.isoformat(),
                "calls": self.loaded.calls,
            },
            "accuracy": _accuracy_json(self.accuracy),
            "totals": [
                {"day": day.isoformat(), "offered": round(value, 2)}
                for day, value in self.forecast.day_totals().items()
            ],
            "intervals": [
                {
                    "start": one.start.isoformat(timespec="minutes"),
                    "offered": round(one.offered, 3),
                    "aht_seconds": round(one.aht, 1),
                }
                for one in self.forecast.intervals
            ],
        }


def _finite(value: float) -> float | None:
    """JSON has no infinity: None stands for it."""
    return None if math.isinf(value) else round(value, 4)


def _accuracy_json(accuracy: Accuracy | None) -> dict[str, Any] | None:
    if accuracy is None:
        return None
    return {
        "weeks": accuracy.weeks,
        "wmape_day": _finite(accuracy.wmape_day),
        "wmape_interval": _finite(accuracy.wmape_interval),
        "days": [
            {
                "day": one.day.isoformat(),
                "forecast": round(one.forecast, 2),
                "actual": one.actual,
                "wmape_interval": _finite(one.wmape_interval),
            }
            for one in accuracy.days
        ],
    }


def forecast_report(
    session: Session,
    settings: Settings,
    *,
    start: date,
    days: int = 7,
    interval_minutes: int | None = None,
    adjustments: Sequence[Adjustment] = (),
    endpoints: Sequence[str] | None = None,
    today: date | None = None,
) -> ForecastReport:
    """The forecast of ``days`` days from ``start`` from the history up to the day
    before (or up to yesterday, for a forecast that starts later: today's calls are not
    all in yet), with the backtest of CALLAGENT_PLANNING_BACKTEST_WEEKS weeks.
    Raises ValueError (saying what to change) for impossible requests."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1 to {MAX_DAYS}")
    if interval_minutes is not None and interval_minutes not in (15, 30, 60):
        raise ValueError("interval must be 15, 30 or 60 minutes")
    zone = ZoneInfo(settings.timezone)
    today = today or datetime.now(zone).date()
    if abs((start - today).days) > 366 * MAX_YEARS_AWAY:
        raise ValueError(f"start must be within {MAX_YEARS_AWAY} years of today")
    last = min(start, today) - timedelta(days=1)
    holidays = parse_holidays(settings.planning_holidays)
    loaded = load_history(
        session, settings, last=last, interval_minutes=interval_minutes, endpoints=endpoints
    )
    predicted = forecast(
        loaded.history,
        start=start,
        days=days,
        zone=zone,
        holidays=holidays,
        adjustments=adjustments,
    )
    weeks = settings.planning_backtest_weeks
    accuracy = (
        backtest(loaded.history, weeks=weeks, zone=zone, holidays=holidays) if weeks else None
    )
    return ForecastReport(settings.timezone, start, days, loaded, predicted, accuracy)


def target_of(
    settings: Settings,
    *,
    service_level: float | None = None,
    threshold: float | None = None,
    asa: float | None = None,
    max_occupancy: float | None = None,
) -> Target:
    """The staffing target: the settings', with any of its parts overridden."""
    sl = settings.planning_sl_target if service_level is None else service_level
    mean_wait = settings.planning_asa_target_seconds if asa is None else asa
    return Target(
        service_level=sl or None,
        threshold=settings.sl_threshold_seconds if threshold is None else threshold,
        asa=mean_wait or None,
        max_occupancy=settings.planning_max_occupancy if max_occupancy is None else max_occupancy,
    )


@dataclass
class StaffingReport:
    """Agents and scheduled staff per forecast interval, by Erlang C and Erlang A."""

    report: ForecastReport
    target: Target
    patience: float  # seconds used for Erlang A; math.inf: nobody hangs up (= Erlang C)
    patience_measured: bool
    shrinkage: dict[str, float]
    rows: list[tuple[Staffing, Staffing]] = field(default_factory=list)  # (C, A)

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's JSON."""
        lost = math.fsum(self.shrinkage.values())
        forecast_json = self.report.to_json()
        return {
            "zone": self.report.zone,
            "start": self.report.start.isoformat(),
            "days": self.report.days,
            "interval_minutes": self.report.forecast.interval_minutes,
            "target": {
                "service_level": self.target.service_level,
                "threshold_seconds": self.target.threshold,
                "asa_seconds": self.target.asa,
                "max_occupancy": self.target.max_occupancy,
            },
            "history": forecast_json["history"],
            "patience_seconds": _finite(self.patience),
            "patience_measured": self.patience_measured,
            "shrinkage": {**self.shrinkage, "total": round(lost, 4)},
            "accuracy": forecast_json["accuracy"],
            "totals": forecast_json["totals"],
            "intervals": [
                {
                    **interval,
                    "erlang_c": _staffing_json(c, self.shrinkage),
                    "erlang_a": _staffing_json(a, self.shrinkage),
                }
                for interval, (c, a) in zip(forecast_json["intervals"], self.rows, strict=True)
            ],
        }


def _staffing_json(one: Staffing, shrinkage: dict[str, float]) -> dict[str, Any]:
    return {
        "agents": one.agents,
        "staff": scheduled_staff(one.agents, list(shrinkage.values())),
        "erlangs": round(one.load, 3),
        "service_level": round(one.service_level, 4),
        "asa_seconds": _finite(one.asa),
        "occupancy": round(one.occupancy, 4),
        "wait_probability": round(one.wait_probability, 4),
        "abandon_probability": round(one.abandon_probability, 4),
    }


def staffing_report(
    session: Session,
    settings: Settings,
    *,
    start: date,
    days: int = 7,
    interval_minutes: int | None = None,
    target: Target | None = None,
    patience: float | None = None,
    adjustments: Sequence[Adjustment] = (),
    endpoints: Sequence[str] | None = None,
    today: date | None = None,
) -> StaffingReport:
    """The agents each forecast interval needs for ``target`` (the settings' by
    default) by Erlang C and by Erlang A with the callers' patience (``patience`` s;
    else CALLAGENT_PLANNING_PATIENCE_SECONDS; else measured from the history's abandoned
    calls), and the staff to schedule after shrinkage."""
    report = forecast_report(
        session,
        settings,
        start=start,
        days=days,
        interval_minutes=interval_minutes,
        adjustments=adjustments,
        endpoints=endpoints,
        today=today,
    )
    target = target or target_of(settings)
    given = patience or settings.planning_patience_seconds or None
    # under a second is noise (and would make Erlang A's chain stiff): 1 s at least
    used = max(1.0, given if given is not None else report.loaded.patience)
    seconds = report.forecast.interval_minutes * 60
    rows = [
        (
            agents_erlang_c(one.offered, one.aht, seconds, target),
            agents_erlang_a(one.offered, one.aht, seconds, target, used),
        )
        for one in report.forecast.intervals
    ]
    return StaffingReport(
        report,
        target,
        used,
        given is None,
        parse_shrinkage(settings.planning_shrinkage),
        rows,
    )
