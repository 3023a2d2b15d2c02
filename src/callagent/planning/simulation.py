"""Staffing checked by simulation: the pure parts (issue #14).

An interval's recommended staffing is played through callagent's own PBX simulator
(:mod:`callagent.planning.simulation_run` does the IO). This module decides who calls
and measures what came out, without IO or clock:

- **callers** (:func:`draw_callers`): Poisson arrivals at the forecast's rate over the
  interval; each caller's patience exponential with the centre's measured mean (the
  Erlang A patience), their talk exponential with the forecast's AHT less the fixed
  parts of an operator's time on a call (the phone ringing, the after-call work until
  the operator presses *54); all drawn from one seeded generator before anything is
  played, so a seed always gives the same callers;
- **figures** (:func:`figures`): the stored calls' facts, their seconds multiplied back by
  the clock's speed (the simulated calls' records carry accelerated times), folded by the
  KPI engine (:func:`callagent.reports.kpi.compute`): the same SL, ASA and abandon rate
  as the reports, by the same formula.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from callagent.planning.erlang import asa, erlang_a, service_level, traffic
from callagent.reports.kpi import CallFact, KpiOptions, compute

RING_SECONDS = 1.0  # an operator's phone rings this long before they answer
WRAPUP_SECONDS = 2.0  # after the call, the operator presses *54 (ready) this much later
MIN_TALK_SECONDS = 1.0
MAX_AGENTS = 60  # a larger team's interval takes longer than a planner waits (and 2 cores)
MAX_CALLS = 1500  # callers per run, for the same reason
# Calls started per real second that this 2-core machine plays without falling behind:
# a call is ~150 AMI events, two FastAGI dialogues and the service's writes, and a
# millisecond late is ``speed`` simulated ones (at 11 calls/s a 30-agent interval read
# SL 12 % where Erlang C says 75 %, at 4 calls/s 77 %; both before the router's pauses
# were scaled to the clock, see simulation_run).
REAL_CALLS_PER_SECOND = 3.0
FASTEST, SLOWEST = 50.0, 5.0


@dataclass(frozen=True)
class SimulationInput:
    """One interval to simulate: the forecast's volume and AHT, the callers' patience,
    the agents to put on the phones, and how fast the clock runs."""

    start: datetime  # the interval's start (aware), only a label here
    minutes: int
    calls: float  # expected offered calls in the interval
    aht: float  # seconds: talk + hold + after-call work
    patience: float  # mean seconds; math.inf: nobody hangs up
    agents: int
    threshold: float  # answered within this many seconds counts for the SL
    seed: int = 14
    speed: float = 50.0

    def check(self) -> None:
        """Raise ValueError (saying what to change) for an interval it cannot play."""
        if not 1 <= self.agents <= MAX_AGENTS:
            raise ValueError(f"agents must be 1 to {MAX_AGENTS}")
        if self.calls <= 0 or self.aht <= 0:
            raise ValueError("the interval has no calls to simulate")
        if self.calls > MAX_CALLS:
            raise ValueError(f"at most {MAX_CALLS} calls an interval can be simulated")
        if not 1 <= self.speed <= 200:
            raise ValueError("speed must be 1 to 200")
        if self.minutes not in (15, 30, 60):
            raise ValueError("interval must be 15, 30 or 60 minutes")


def auto_speed(calls: float, minutes: int) -> float:
    """The clock's speed for an interval: as fast as the machine keeps up with (see
    REAL_CALLS_PER_SECOND), between SLOWEST and FASTEST."""
    if calls <= 0:
        return FASTEST
    speed = REAL_CALLS_PER_SECOND * minutes * 60 / calls
    return round(min(FASTEST, max(SLOWEST, speed)), 1)


@dataclass(frozen=True)
class Caller:
    """One simulated caller: when they call (seconds into the interval), how long they
    wait before hanging up (None: forever), how long they talk once answered."""

    at: float
    patience: float | None
    talk: float


def talk_mean(aht: float) -> float:
    """The mean talk that makes an operator's whole time on a call the AHT."""
    return max(MIN_TALK_SECONDS, aht - RING_SECONDS - WRAPUP_SECONDS)


def draw_callers(one: SimulationInput) -> list[Caller]:
    """The interval's callers, from ``one.seed`` alone (Poisson arrivals)."""
    rng = random.Random(one.seed)
    seconds = one.minutes * 60
    rate = one.calls / seconds
    mean_talk = talk_mean(one.aht)
    callers: list[Caller] = []
    at = rng.expovariate(rate)
    while at < seconds:
        patience = None if math.isinf(one.patience) else rng.expovariate(1 / one.patience)
        talk = max(MIN_TALK_SECONDS, rng.expovariate(1 / mean_talk))
        callers.append(Caller(at, patience, talk))
        at += rng.expovariate(rate)
    return callers


@dataclass(frozen=True)
class SimulatedFigures:
    """What the simulated interval measured (the KPI engine's figures)."""

    offered: int
    answered: int
    abandoned: int
    service_level: float
    asa_seconds: float
    abandon_rate: float
    aht_seconds: float
    real_seconds: float  # how long the run took on the machine
    late_seconds: float = 0.0  # simulated seconds a caller came late at worst (lag)

    def to_json(self) -> dict[str, Any]:
        """The API's and the CLI's JSON."""
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "service_level": round(self.service_level, 4),
            "asa_seconds": round(self.asa_seconds, 2),
            "abandon_rate": round(self.abandon_rate, 4),
            "aht_seconds": round(self.aht_seconds, 1),
            "real_seconds": round(self.real_seconds, 1),
            "late_seconds": round(self.late_seconds, 1),
        }


def slowed(fact: CallFact, speed: float) -> CallFact:
    """A simulated call's fact with its seconds in simulated time (its records were
    stamped ``speed`` times faster than the people it plays)."""
    return replace(
        fact,
        wait_seconds=fact.wait_seconds * speed,
        talk_seconds=fact.talk_seconds * speed,
        hold_seconds=fact.hold_seconds * speed,
        acw_seconds=fact.acw_seconds * speed,
        parts=(),
    )


def figures(
    facts: Iterable[CallFact], one: SimulationInput, real_seconds: float, late: float = 0.0
) -> SimulatedFigures:
    """The simulated interval's SL, ASA and abandon rate by the KPI engine. Every
    abandon counts (no short-abandon exclusion): Erlang A counts them all."""
    options = KpiOptions(sl_threshold_seconds=one.threshold, exclude_short_abandons=False)
    kpi = compute((slowed(f, one.speed) for f in facts), options)
    return SimulatedFigures(
        kpi.offered,
        kpi.answered,
        kpi.abandoned,
        kpi.service_level,
        kpi.asa_seconds,
        kpi.abandon_rate,
        kpi.aht_seconds,
        real_seconds,
        late,
    )


def theory(one: SimulationInput) -> dict[str, Any]:
    """Erlang C's and Erlang A's SL, ASA and abandons for the same agents and load (the
    figures the simulation is set beside)."""
    seconds = one.minutes * 60
    load = traffic(one.calls, one.aht, seconds)
    wait_c = asa(one.agents, load, one.aht)
    out: dict[str, Any] = {
        "erlangs": round(load, 3),
        "erlang_c": {
            "service_level": round(service_level(one.agents, load, one.aht, one.threshold), 4),
            "asa_seconds": None if math.isinf(wait_c) else round(wait_c, 2),
            "abandon_rate": 0.0,
        },
    }
    if math.isinf(one.patience):
        out["erlang_a"] = dict(out["erlang_c"])
        return out
    a = erlang_a(one.agents, one.calls, one.aht, seconds, one.patience, one.threshold)
    out["erlang_a"] = {
        "service_level": round(a.service_level, 4),
        # Erlang A's mean wait is over every call, those who hang up included
        "asa_seconds": round(a.mean_wait, 2),
        "abandon_rate": round(a.abandon_probability, 4),
    }
    return out
