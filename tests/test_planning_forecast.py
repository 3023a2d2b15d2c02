"""The forecast (callagent.planning.forecast) on synthetic history from a known weekly ×
intraday profile with Poisson arrivals: the issue's accuracy goal, the backtest,
holidays, adjustments, AHT and a daylight-saving change."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callagent.planning.forecast import (
    Adjustment,
    CallPoint,
    History,
    NotEnoughHistory,
    backtest,
    bin_calls,
    forecast,
    wmape,
)

KYIV = ZoneInfo("Europe/Kyiv")  # the history crosses the end of summer time (25 Oct 2026)
FIRST = date(2026, 9, 7)  # a Monday
WEEKS = 12
WEEKDAY = [1.0, 0.95, 0.92, 0.9, 0.85, 0.45, 0.3]
DAILY = 1000.0  # Monday's calls in the first week
GROWTH = 0.01  # per week


def intraday() -> list[float]:
    """Shares of the day per 30-min interval: open 08:00-20:00, a morning and an
    afternoon peak."""
    shape = [0.0] * 48
    for slot in range(16, 40):
        hour = slot / 2
        shape[slot] = (
            1.0 + 1.2 * math.exp(-((hour - 10.5) ** 2) / 2) + math.exp(-((hour - 15) ** 2) / 3)
        )
    whole = sum(shape)
    return [v / whole for v in shape]


PROFILE = intraday()


def true_rate(day: date, slot: int) -> float:
    """The generator's expected calls in an interval."""
    weeks = (day - FIRST).days / 7
    return DAILY * (1 + GROWTH * weeks) * WEEKDAY[day.weekday()] * PROFILE[slot]


def generate(seed: int, days: int = 7 * WEEKS, aht: float = 200.0) -> list[CallPoint]:
    """Poisson arrivals (exponential gaps) at the true rate of each interval, on the
    centre's wall clock; handle times exponential with mean ``aht``."""
    rng = random.Random(seed)
    calls: list[CallPoint] = []
    for offset in range(days):
        day = FIRST + timedelta(days=offset)
        for slot in range(48):
            rate = true_rate(day, slot)
            if rate == 0:
                continue
            start = datetime.combine(day, datetime.min.time(), tzinfo=KYIV) + timedelta(
                minutes=30 * slot
            )
            at = rng.expovariate(rate / 1800)
            while at < 1800:
                answered = rng.random() < 0.9
                calls.append(
                    CallPoint(
                        start + timedelta(seconds=at),
                        answered,
                        rng.expovariate(1 / aht) if answered else 0.0,
                    )
                )
                at += rng.expovariate(rate / 1800)
    return calls


def history_of(calls: list[CallPoint], days: int = 7 * WEEKS) -> History:
    return bin_calls(
        calls,
        zone=KYIV,
        interval_minutes=30,
        first=FIRST,
        last=FIRST + timedelta(days=days - 1),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_next_week_within_the_issue_s_bounds(seed: int) -> None:
    """12 weeks of history; next week within 5 % wMAPE per day and 15 % per 30-min
    interval of the generator's true rates (about 5,900 calls in the week)."""
    history = history_of(generate(seed))
    start = history.last + timedelta(days=1)
    predicted = forecast(history, start=start, days=7, zone=KYIV)
    assert len(predicted.intervals) == 7 * 48
    truth = [true_rate(one.day, one.slot) for one in predicted.intervals]
    values = [one.offered for one in predicted.intervals]
    per_day_truth = [sum(truth[48 * d : 48 * (d + 1)]) for d in range(7)]
    per_day = [sum(values[48 * d : 48 * (d + 1)]) for d in range(7)]
    day_error, interval_error = wmape(per_day, per_day_truth), wmape(values, truth)
    assert day_error < 0.05
    assert interval_error < 0.15
    # and the method is not flat: without the trend the level would lag ~4 weeks × 1 %
    last_week = sum(
        true_rate(FIRST + timedelta(days=d), s) for d in range(77, 84) for s in range(48)
    )
    assert sum(values) > last_week


def test_the_error_is_close_to_poisson_noise() -> None:
    """Measured on 3 seeds: the forecast's interval error is dominated by the noise of
    the profile's counts, far under the bound (kept as the number to beat)."""
    errors = []
    for seed in (11, 12, 13):
        history = history_of(generate(seed))
        start = history.last + timedelta(days=1)
        predicted = forecast(history, start=start, days=7, zone=KYIV)
        truth = [true_rate(one.day, one.slot) for one in predicted.intervals]
        errors.append(wmape([one.offered for one in predicted.intervals], truth))
    assert max(errors) < 0.08


def test_backtest_scores_the_held_out_weeks() -> None:
    history = history_of(generate(5))
    accuracy = backtest(history, weeks=2, zone=KYIV)
    assert accuracy.weeks == 2
    assert len(accuracy.days) == 14
    assert accuracy.days[0].day == history.last - timedelta(days=13)
    # the actuals carry Poisson noise: the interval error is above the day error and
    # both well within the bounds the issue sets
    assert 0 < accuracy.wmape_day < 0.05
    assert accuracy.wmape_day < accuracy.wmape_interval < 0.2
    first = accuracy.days[0]
    assert first.actual == sum(history.offered[first.day])
    # too short a history: no week can be held out
    short = history_of(generate(5, days=10), days=10)
    assert backtest(short, weeks=2, zone=KYIV).weeks == 0
    with pytest.raises(NotEnoughHistory):
        forecast(history_of([], days=6), start=FIRST + timedelta(days=6), days=1, zone=KYIV)


def test_holidays_bend_nothing_and_are_forecast_like_sundays() -> None:
    calls = generate(21)
    holiday = FIRST + timedelta(days=7 * 10 + 2)  # a Wednesday of week 11
    rng = random.Random(22)  # the holiday's calls: one in twenty came
    calls = [
        c for c in calls if c.offered_at.astimezone(KYIV).date() != holiday or rng.random() < 0.05
    ]
    history = history_of(calls)
    start = history.last + timedelta(days=1)
    plain = forecast(history, start=start, days=7, zone=KYIV)
    known = forecast(history, start=start, days=7, zone=KYIV, holidays=[holiday])
    wednesday = FIRST + timedelta(days=7 * WEEKS + 2)
    truth = sum(true_rate(wednesday, s) for s in range(48))
    plain_wed = plain.day_totals()[wednesday]
    known_wed = known.day_totals()[wednesday]
    assert abs(known_wed - truth) < abs(plain_wed - truth)
    assert abs(known_wed - truth) / truth < 0.05
    # a holiday in the forecast takes Sunday's shape and share
    ahead = forecast(history, start=start, days=7, zone=KYIV, holidays=[holiday, wednesday])
    sunday = FIRST + timedelta(days=7 * WEEKS + 6)
    assert ahead.day_totals()[wednesday] == pytest.approx(ahead.day_totals()[sunday], rel=0.01)


def test_adjustments_multiply_then_add() -> None:
    history = history_of(generate(31))
    start = history.last + timedelta(days=1)
    base = forecast(history, start=start, days=1, zone=KYIV)
    ten = datetime.combine(start, datetime.min.time(), tzinfo=KYIV) + timedelta(hours=10)
    changed = forecast(
        history,
        start=start,
        days=1,
        zone=KYIV,
        adjustments=[Adjustment(ten, ten + timedelta(hours=1), factor=1.5, add=20)],
    )
    for before, after in zip(base.intervals, changed.intervals, strict=True):
        if before.slot in (20, 21):
            assert after.offered == pytest.approx(before.offered * 1.5 + 20)
        else:
            assert after.offered == before.offered
    with pytest.raises(ValueError, match="end after start"):
        Adjustment(ten, ten)


def test_aht_per_interval_with_fallbacks() -> None:
    calls = generate(41, aht=200.0)
    history = history_of(calls)
    predicted = forecast(history, start=history.last + timedelta(days=1), days=7, zone=KYIV)
    busy = [one.aht for one in predicted.intervals if 18 <= one.slot < 38]
    assert all(150 < aht < 260 for aht in busy)
    assert sum(busy) / len(busy) == pytest.approx(200, rel=0.05)
    # night intervals have no calls: the weekday's AHT, not 0 or a division error
    night = [one.aht for one in predicted.intervals if one.slot < 10]
    assert all(150 < aht < 260 for aht in night)
    assert all(one.offered == 0 for one in predicted.intervals if one.slot < 10)


def test_wall_clock_across_the_summer_time_end() -> None:
    """25 Oct 2026 in Kyiv lasts 25 h: its calls still land in 48 wall-clock slots, and a
    forecast interval's start is the local time of its slot."""
    history = history_of(generate(51))
    dst_day = date(2026, 10, 25)
    assert len(history.offered[dst_day]) == 48
    assert sum(history.offered[dst_day]) > 200
    predicted = forecast(history, start=history.last + timedelta(days=1), days=1, zone=KYIV)
    nine = predicted.intervals[18]
    assert (nine.start.hour, nine.start.minute, nine.start.tzinfo) == (9, 0, KYIV)
