"""Workforce planning's speed (issue #14): forecast and staffing, pure, on this machine.

1. Two years of 15-minute history (a centre of about 20,000 calls a weekday, weekly ×
   intraday profile, Poisson counts per interval, seeded) → the next week's forecast with
   a 2-week backtest (the issue's bound: 10 s).
2. Binning calls into that history: seconds per 100,000 calls (what reading the stored
   calls adds on top of the database).
3. Staffing that week per 15-minute interval (672 intervals, up to about 200 agents) by
   Erlang C and by Erlang A.

``python bench/planning.py``; prints one line per figure.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.planning.erlang import Target, agents_erlang_a, agents_erlang_c
from callagent.planning.forecast import CallPoint, History, backtest, bin_calls, forecast

ZONE = ZoneInfo("Europe/Moscow")
SLOTS = 96
WEEKDAY = [1.0, 0.95, 0.92, 0.9, 0.85, 0.45, 0.3]
DAILY = 20_000.0


def _profile() -> list[float]:
    shape = [0.0] * SLOTS
    for slot in range(32, 80):  # 08:00-20:00
        hour = slot / 4
        shape[slot] = (
            1 + 1.2 * math.exp(-((hour - 10.5) ** 2) / 2) + math.exp(-((hour - 15) ** 2) / 3)
        )
    whole = sum(shape)
    return [v / whole for v in shape]


def _poisson(rng: random.Random, mean: float) -> float:
    """A Poisson count (normal approximation above 50: exact enough for a benchmark)."""
    if mean > 50:
        return float(max(0, round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return float(k)
        k += 1


def history(first: date, days: int) -> History:
    """``days`` days of 15-minute counts from ``first``."""
    rng = random.Random(14)
    profile = _profile()
    result = History(15, first, first + timedelta(days=days - 1))
    for offset in range(days):
        day = first + timedelta(days=offset)
        level = DAILY * WEEKDAY[day.weekday()] * (1 + 0.002 * offset / 7)
        offered = [_poisson(rng, level * share) if share else 0.0 for share in profile]
        result.offered[day] = offered
        result.answered[day] = [0.9 * v for v in offered]
        result.handle[day] = [0.9 * v * 200.0 for v in offered]
    return result


def main() -> None:
    first = date(2024, 12, 2)
    two_years = history(first, 7 * 104)
    start = two_years.last + timedelta(days=1)
    began = time.perf_counter()
    predicted = forecast(two_years, start=start, days=7, zone=ZONE)
    accuracy = backtest(two_years, weeks=2, zone=ZONE)
    took = time.perf_counter() - began
    print(
        f"forecast: 2 years of 15-minute history ({sum(map(sum, two_years.offered.values())):,.0f}"
        f" calls) -> next week + 2-week backtest in {took:.2f} s (bound 10 s); "
        f"backtest wMAPE {100 * accuracy.wmape_day:.1f} % per day, "
        f"{100 * accuracy.wmape_interval:.1f} % per interval"
    )

    rng = random.Random(15)
    base = datetime(2026, 11, 2, tzinfo=UTC)
    calls = [
        CallPoint(base + timedelta(seconds=rng.uniform(0, 7 * 86400)), True, 200.0)
        for _ in range(100_000)
    ]
    began = time.perf_counter()
    bin_calls(
        calls,
        zone=ZONE,
        interval_minutes=15,
        first=base.date(),
        last=base.date() + timedelta(days=7),
    )
    print(f"binning: 100,000 calls in {time.perf_counter() - began:.2f} s")

    target = Target(service_level=0.8, threshold=20, max_occupancy=0.85)
    intervals = [(one.offered, one.aht) for one in predicted.intervals]
    began = time.perf_counter()
    c = [agents_erlang_c(calls_, aht, 900, target) for calls_, aht in intervals]
    c_took = time.perf_counter() - began
    began = time.perf_counter()
    a = [agents_erlang_a(calls_, aht, 900, target, 90.0) for calls_, aht in intervals]
    a_took = time.perf_counter() - began
    print(
        f"staffing: {len(intervals)} intervals, peak {max(s.agents for s in c)} agents: "
        f"Erlang C {c_took:.2f} s, Erlang A (patience 90 s) {a_took:.2f} s "
        f"(peak {max(s.agents for s in a)} agents)"
    )


if __name__ == "__main__":
    main()
