"""The calls' forecast per interval, and its accuracy measured on held-out weeks.

Pure, standard library only. History is binned per day and interval on the centre's
wall clock (a daylight-saving day keeps the same slots: 02:00-02:30 holds what the
clock showed then). The method, a classical seasonal decomposition:

1. **Weeks.** The history before the forecast's first day is cut into 7-day blocks
   ending the day before it (block ``b`` = 0 is the oldest of the last
   ``level_weeks``); special days (holidays) in the history are replaced by the mean of
   the same weekday and interval in the other blocks, so they bend nothing.
2. **Trend.** A least-squares line through the blocks' totals, ``T(t) = a + s·t``
   (``t`` in weeks, block ``b`` centred at ``b + ½``), with three blocks or more (the
   mean otherwise), kept within ½ and 2 times the mean (a line never runs away).
3. **Weekly shape.** Each weekday's share of the weekly total over the same blocks.
4. **Intraday shape.** Each weekday's share of its day per interval over the last
   ``profile_weeks`` blocks (more weeks than the level: shapes change slowly and each
   interval's count is small).
5. **Forecast** of interval ``i`` of a day ``d`` that lies ``t`` weeks after the first
   block: ``T(t) × share(weekday(d)) × profile(weekday(d), i)``; a special day in the
   forecast takes the weekday shape of ``holiday_weekday`` (Sunday). Manual
   adjustments then multiply an interval by a factor and add calls to it (a
   notification campaign's expected call-backs, a known event).
6. **AHT** per weekday and interval: the handle time (talk + hold + after-call work)
   of the answered calls there over the profile weeks / their number, with at least
   ``min_answered`` calls; otherwise the weekday's, then the whole history's.

**Accuracy** (:func:`backtest`): each of the last ``weeks`` weeks of the history is
forecast from the history before it and compared with what came:
``wMAPE = Σ |forecast - actual| / Σ actual``, per day (over the days' totals) and per
interval (over every interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SUNDAY = 6


@dataclass(frozen=True)
class CallPoint:
    """One offered call as the forecast counts it."""

    offered_at: datetime  # aware
    answered: bool
    handle_seconds: float = 0.0  # talk + hold + after-call work, when answered


@dataclass
class History:
    """Counts per day (on the centre's clock) and interval over ``[first, last]``, every
    day in it present (days without calls hold zeros)."""

    interval_minutes: int
    first: date
    last: date
    offered: dict[date, list[float]] = field(default_factory=dict)
    answered: dict[date, list[float]] = field(default_factory=dict)
    handle: dict[date, list[float]] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        """Intervals in a day."""
        return 24 * 60 // self.interval_minutes

    def days(self) -> Iterable[date]:
        """Every day of the history, in order."""
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    def before(self, day: date) -> History:
        """The history up to the day before ``day``."""
        last = min(self.last, day - timedelta(days=1))
        keep = {d for d in self.days() if d <= last}
        return History(
            self.interval_minutes,
            self.first,
            last,
            {d: v for d, v in self.offered.items() if d in keep},
            {d: v for d, v in self.answered.items() if d in keep},
            {d: v for d, v in self.handle.items() if d in keep},
        )


def bin_calls(
    calls: Iterable[CallPoint],
    *,
    zone: ZoneInfo,
    interval_minutes: int,
    first: date,
    last: date,
) -> History:
    """The history of ``calls`` per day and interval of the centre's clock over
    ``[first, last]`` (calls outside are left out)."""
    if interval_minutes not in (15, 30, 60):
        raise ValueError("interval must be 15, 30 or 60 minutes")
    if last < first:
        raise ValueError("the history's last day is before its first")
    history = History(interval_minutes, first, last)
    for day in history.days():
        history.offered[day] = [0.0] * history.slots
        history.answered[day] = [0.0] * history.slots
        history.handle[day] = [0.0] * history.slots
    for call in calls:
        local = call.offered_at.astimezone(zone)
        day = local.date()
        if day not in history.offered:
            continue
        slot = (local.hour * 60 + local.minute) // interval_minutes
        history.offered[day][slot] += 1
        if call.answered:
            history.answered[day][slot] += 1
            history.handle[day][slot] += call.handle_seconds
    return history


@dataclass(frozen=True)
class Method:
    """The forecast's choices (see the module's description)."""

    level_weeks: int = 8
    profile_weeks: int = 12
    min_answered: int = 10
    holiday_weekday: int = SUNDAY
    default_aht: float = 180.0  # seconds, when the history has no answered call


@dataclass(frozen=True)
class Adjustment:
    """A planner's change to the intervals starting in ``[start, end)``: offered calls
    times ``factor``, plus ``add`` calls in each."""

    start: datetime  # aware
    end: datetime  # aware
    factor: float = 1.0
    add: float = 0.0

    def __post_init__(self) -> None:
        if self.end <= self.start or self.factor < 0:
            raise ValueError("an adjustment needs end after start and a factor ≥ 0")


@dataclass(frozen=True)
class IntervalForecast:
    """One interval's forecast."""

    start: datetime  # aware, on the centre's clock
    day: date
    slot: int
    offered: float
    aht: float  # seconds


@dataclass
class Forecast:
    """Forecast intervals in time order, with the days' totals."""

    interval_minutes: int
    intervals: list[IntervalForecast]
    method: Method

    def day_totals(self) -> dict[date, float]:
        """Offered calls per day."""
        totals: dict[date, float] = {}
        for one in self.intervals:
            totals[one.day] = totals.get(one.day, 0.0) + one.offered
        return totals


class NotEnoughHistory(ValueError):
    """The history is shorter than one full week before the forecast."""


def _blocks(history: History, start: date, weeks: int) -> list[list[date]]:
    """Up to ``weeks`` full 7-day blocks ending the day before ``start``, oldest first."""
    found: list[list[date]] = []
    # a gap between the history and the forecast: the blocks end with the history
    end = min(start, history.last + timedelta(days=1))
    for back in range(weeks):
        first = end - timedelta(days=7 * (back + 1))
        if first < history.first:
            break
        found.append([first + timedelta(days=k) for k in range(7)])
    found.reverse()
    return found


def _without_holidays(
    history: History, blocks: list[list[date]], holidays: frozenset[date]
) -> dict[date, list[float]]:
    """The offered counts of the blocks' days, a holiday's replaced by the mean of the
    same weekday in the blocks' other days (left as it is when every one is a holiday)."""
    offered = {day: history.offered[day] for block in blocks for day in block}
    for day in [d for d in offered if d in holidays]:
        peers = [d for d in offered if d.weekday() == day.weekday() and d not in holidays]
        if peers:
            offered[day] = [
                math.fsum(history.offered[p][i] for p in peers) / len(peers)
                for i in range(history.slots)
            ]
    return offered


def _trend(totals: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through the blocks' totals, blocks
    at t = b + ½; flat through the mean with fewer than three."""
    count = len(totals)
    mean = math.fsum(totals) / count
    if count < 3:
        return mean, 0.0
    xs = [b + 0.5 for b in range(count)]
    x_mean = math.fsum(xs) / count
    sxx = math.fsum((x - x_mean) ** 2 for x in xs)
    slope = math.fsum((x - x_mean) * (y - mean) for x, y in zip(xs, totals, strict=True)) / sxx
    return mean - slope * x_mean, slope


def forecast(
    history: History,
    *,
    start: date,
    days: int,
    zone: ZoneInfo,
    method: Method | None = None,
    holidays: Iterable[date] = (),
    adjustments: Sequence[Adjustment] = (),
) -> Forecast:
    """Offered calls and AHT per interval for ``days`` days from ``start`` (see the
    module's description); raises :class:`NotEnoughHistory` without a full week."""
    method = method or Method()
    if days < 1:
        raise ValueError("forecast at least one day")
    special = frozenset(holidays)
    slots = history.slots
    level_blocks = _blocks(history, start, method.level_weeks)
    profile_blocks = _blocks(history, start, max(method.profile_weeks, method.level_weeks))
    if not level_blocks:
        raise NotEnoughHistory(
            "a forecast needs at least one full week of history before its first day"
        )
    offered = _without_holidays(history, profile_blocks, special)
    day_total = {day: math.fsum(values) for day, values in offered.items()}

    totals = [math.fsum(day_total[d] for d in block) for block in level_blocks]
    intercept, slope = _trend(totals)
    mean_total = math.fsum(totals) / len(totals)
    weekday_sum = [0.0] * 7
    for block in level_blocks:
        for day in block:
            weekday_sum[day.weekday()] += day_total[day]
    all_sum = math.fsum(weekday_sum)
    share = [s / all_sum if all_sum else 0.0 for s in weekday_sum]

    profile = [[0.0] * slots for _ in range(7)]
    profile_sum = [0.0] * 7
    for block in profile_blocks:
        for day in block:
            row = profile[day.weekday()]
            for i, value in enumerate(offered[day]):
                row[i] += value
            profile_sum[day.weekday()] += day_total[day]
    for weekday in range(7):
        whole = profile_sum[weekday]
        profile[weekday] = [v / whole if whole else 0.0 for v in profile[weekday]]

    aht = _aht_table(history, profile_blocks, special, method)
    first_block_start = level_blocks[0][0]
    out: list[IntervalForecast] = []
    step = timedelta(minutes=history.interval_minutes)
    for offset in range(days):
        day = start + timedelta(days=offset)
        weeks_in = ((day - first_block_start).days + 0.5) / 7
        level = intercept + slope * weeks_in
        level = min(max(level, 0.5 * mean_total), 2.0 * mean_total)
        weekday = method.holiday_weekday if day in special else day.weekday()
        for slot in range(slots):
            # wall clock: the slot's local time, whatever the day's UTC offset
            moment = datetime.combine(day, (datetime.min + step * slot).time(), tzinfo=zone)
            value = level * share[weekday] * profile[weekday][slot]
            for change in adjustments:
                if change.start <= moment < change.end:
                    value = value * change.factor + change.add
            out.append(IntervalForecast(moment, day, slot, value, aht[weekday][slot]))
    return Forecast(history.interval_minutes, out, method)


def _aht_table(
    history: History, blocks: list[list[date]], holidays: frozenset[date], method: Method
) -> list[list[float]]:
    """AHT per weekday and interval, falling back to the weekday's and the history's."""
    slots = history.slots
    answered = [[0.0] * slots for _ in range(7)]
    handle = [[0.0] * slots for _ in range(7)]
    for block in blocks:
        for day in block:
            if day in holidays:
                continue
            weekday = day.weekday()
            for i in range(slots):
                answered[weekday][i] += history.answered[day][i]
                handle[weekday][i] += history.handle[day][i]
    every_answered = math.fsum(math.fsum(row) for row in answered)
    overall = (
        math.fsum(math.fsum(row) for row in handle) / every_answered
        if every_answered
        else method.default_aht
    )
    table: list[list[float]] = []
    for weekday in range(7):
        count = math.fsum(answered[weekday])
        day_aht = math.fsum(handle[weekday]) / count if count >= method.min_answered else overall
        table.append(
            [
                handle[weekday][i] / answered[weekday][i]
                if answered[weekday][i] >= method.min_answered
                else day_aht
                for i in range(slots)
            ]
        )
    return table


def wmape(forecast_values: Sequence[float], actual_values: Sequence[float]) -> float:
    """``Σ |forecast - actual| / Σ actual`` (0 when nothing came and nothing was
    forecast; infinite when something was forecast for nothing)."""
    error = math.fsum(abs(f - a) for f, a in zip(forecast_values, actual_values, strict=True))
    whole = math.fsum(actual_values)
    if whole == 0:
        return 0.0 if error == 0 else math.inf
    return error / whole


@dataclass(frozen=True)
class DayAccuracy:
    """One held-out day: forecast and actual calls, and the day's interval wMAPE."""

    day: date
    forecast: float
    actual: float
    wmape_interval: float


@dataclass(frozen=True)
class Accuracy:
    """A backtest's result over the held-out weeks."""

    weeks: int  # weeks actually held out (fewer when the history is short)
    wmape_day: float
    wmape_interval: float
    days: list[DayAccuracy]


def backtest(
    history: History,
    *,
    weeks: int,
    zone: ZoneInfo,
    method: Method | None = None,
    holidays: Iterable[date] = (),
) -> Accuracy:
    """Forecast each of the last ``weeks`` weeks of ``history`` from the history before
    it and measure the errors (holidays are left out of the scores: their forecast is
    a guess the planner adjusts). Weeks without a full week of history before them are
    skipped; none left gives an Accuracy of 0 weeks with infinite errors."""
    special = frozenset(holidays)
    day_f: list[float] = []
    day_a: list[float] = []
    slot_f: list[float] = []
    slot_a: list[float] = []
    per_day: list[DayAccuracy] = []
    held = 0
    for back in range(weeks, 0, -1):
        first = history.last - timedelta(days=7 * back - 1)
        if first < history.first:
            continue
        try:
            predicted = forecast(
                history.before(first),
                start=first,
                days=7,
                zone=zone,
                method=method,
                holidays=special,
            )
        except NotEnoughHistory:
            continue
        held += 1
        by_day: dict[date, list[float]] = {}
        for one in predicted.intervals:
            by_day.setdefault(one.day, []).append(one.offered)
        for day, values in by_day.items():
            if day in special:
                continue
            actual = history.offered[day]
            day_f.append(math.fsum(values))
            day_a.append(math.fsum(actual))
            slot_f.extend(values)
            slot_a.extend(actual)
            per_day.append(DayAccuracy(day, day_f[-1], day_a[-1], wmape(values, actual)))
    if not held:
        return Accuracy(0, math.inf, math.inf, [])
    return Accuracy(held, wmape(day_f, day_a), wmape(slot_f, slot_a), per_day)
