"""Workforce planning's speed (issue #14): forecast and staffing, pure, on this machine.

1. Two years of 15-minute history (a centre of about 20,000 calls a weekday, weekly ×
   intraday profile, Poisson counts per interval, seeded) → the next week's forecast with
   a 2-week backtest (the issue's bound: 10 s).
2. Binning calls into that history: seconds per 100,000 calls (what reading the stored
   calls adds on top of the database).
3. Staffing that week per 15-minute interval (672 intervals, up to about 200 agents) by
   Erlang C and by Erlang A.
4. A week's schedule for 200 operators on the 15-minute grid with breaks and lunches
   (8 h and 12 h templates, a tenth with a day off asked for, a seventh available
   08:00-20:00 only, a thirteenth part-time), for the staffing of half of that centre
   (about 100 agents at the peak): seconds (the issue's bound: 60 s), the coverage gap
   against its lower bound,
   and the labour rules checked (none may be broken); then the same operators for 1.5 ×
   that need, more than they can work, where the gap and its bound are not 0.
5. Re-planning the breaks of 100 operators' shifts from 12:00 for 1.2 × the need (the
   issue's bound: 5 s).

``python bench/planning.py``; prints one line per figure.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.planning.breaks import place_all
from callagent.planning.erlang import Target, agents_erlang_a, agents_erlang_c, scheduled_staff
from callagent.planning.forecast import CallPoint, History, backtest, bin_calls, forecast
from callagent.planning.rules import (
    DAY,
    SLOT,
    LabourRules,
    Operator,
    ShiftTemplate,
    coverage,
    on_phone,
    violations,
)
from callagent.planning.schedule import build_week

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

    schedule(predicted.intervals, target)


def schedule(intervals: list, target: Target) -> None:  # type: ignore[type-arg]
    """Parts 4 and 5 (see the module)."""
    need = []
    for one in intervals:
        agents = agents_erlang_c(one.offered / 2, one.aht, 900, target).agents
        need.append(scheduled_staff(agents, [0.05, 0.08]) if agents else 0)
    rng = random.Random(16)
    operators = [
        Operator(
            k + 1,
            f"op{k}",
            max_week_minutes=1800 if k % 13 == 0 else None,
            windows={day: (480, 1200) for day in range(7)} if k % 7 == 0 else None,
            days_off=frozenset({rng.randrange(7)}) if k % 10 == 0 else frozenset(),
        )
        for k in range(200)
    ]
    templates = [
        ShiftTemplate("8h", 480, 7 * 60, 14 * 60, 30),
        ShiftTemplate("12h", 720, 7 * 60, 10 * 60, 60),
    ]
    rules = LabourRules()
    for label, needed in (
        ("", need),
        (" (need x 1.5: more than they can cover)", [math.ceil(1.5 * v) for v in need]),
    ):
        began = time.perf_counter()
        built = build_week(needed, operators, templates, rules, seconds=45)
        took = time.perf_counter() - began
        broken = violations(built.shifts, {o.id: o for o in operators}, rules)
        print(
            f"schedule{label}: 200 operators, a week of 15-minute slots ({sum(needed):,} "
            f"agent-slots needed, peak {max(needed)}): {len(built.shifts)} shifts with breaks "
            f"in {took:.1f} s (bound 60 s); gap {built.coverage.under:,} agent-slots under "
            f"(lower bound {built.lower_bound:,}), {built.coverage.over:,} over; "
            f"rules broken: {len(broken)}; solver: {built.status}"
        )
        if not label:
            first = built
    built = first
    monday = [s for s in built.shifts if s.day == 0][:100]
    busier = [math.ceil(v * 1.2) for v in need]
    lunches = {t.name: t.lunch_minutes for t in templates}
    began = time.perf_counter()
    stuck = place_all(monday, busier, rules, lambda s: lunches[s.template], now=12 * 60)
    took = time.perf_counter() - began
    ids = {s.operator for s in monday}
    broken = violations(monday, {o.id: o for o in operators if o.id in ids}, rules)
    noon, evening = 12 * 60 // SLOT, DAY // SLOT
    gap = coverage(busier[noon:evening], on_phone(monday)[noon:evening]).under
    print(
        f"break re-plan: {len(monday)} shifts from 12:00 for 1.2 x the need in {took:.2f} s "
        f"(bound 5 s); rules broken {len(broken)}, shifts left as they were {len(stuck)}, "
        f"their gap from 12:00 {gap} agent-slots"
    )


if __name__ == "__main__":
    main()
