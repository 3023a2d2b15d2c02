"""Erlang C and A (callagent.planning.erlang) against exact rationals, published figures,
their own limits, and a simulation of the M/M/n+M queue."""

from __future__ import annotations

import heapq
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callagent.planning.erlang import (
    Target,
    agents_erlang_a,
    agents_erlang_c,
    asa,
    erlang_a,
    erlang_b,
    erlang_c,
    patience_estimate,
    scheduled_staff,
    service_level,
)


def textbook_erlang_c(n: int, load: Fraction) -> Fraction:
    """The textbook formula, exactly: (A^n/n!·n/(n-A)) / (Σ_{k<n} A^k/k! + A^n/n!·n/(n-A))."""
    head = Fraction(load**n, math.factorial(n)) * Fraction(n) / (n - load)
    return head / (sum(Fraction(load**k, math.factorial(k)) for k in range(n)) + head)


GRID = [
    (n, Fraction(calls * aht, 1800))
    for calls in (5, 30, 100, 250)
    for aht in (60, 180, 420)
    for n in range(1, 80)
    if n > Fraction(calls * aht, 1800)
]


@pytest.mark.parametrize(("n", "load"), GRID[::7])
def test_erlang_c_equals_the_exact_textbook_formula(n: int, load: Fraction) -> None:
    exact = textbook_erlang_c(n, load)
    assert erlang_c(n, float(load)) == pytest.approx(float(exact), rel=1e-11, abs=1e-300)


def test_the_whole_grid_agrees_to_twelve_digits() -> None:
    worst = max(
        abs(erlang_c(n, float(load)) - float(textbook_erlang_c(n, load))) for n, load in GRID
    )
    assert len(GRID) > 400
    assert worst < 1e-12


def test_the_published_worked_example() -> None:
    """100 calls in 30 minutes, AHT 180 s, 80 % in 20 s: the worked example call centre
    handbooks print (10 erlangs): P(wait) 68.2 %, 44.9 %, 28.5 %, 17.4 % with 11 to 14
    agents; 14 agents give SL 88.8 %, ASA 7.8 s, occupancy 71.4 %; 13 fall just short
    (SL 79.6 %), which the exact formula confirms."""
    load = 10.0
    assert erlang_c(11, load) == pytest.approx(0.6821, abs=5e-5)
    assert erlang_c(12, load) == pytest.approx(0.4494, abs=5e-5)
    assert erlang_c(13, load) == pytest.approx(0.2853, abs=5e-5)
    assert erlang_c(14, load) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, load, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert asa(14, load, 180) == pytest.approx(7.8, abs=0.05)
    answer = agents_erlang_c(100, 180, 1800, Target(service_level=0.8, threshold=20))
    exact13 = 1 - float(textbook_erlang_c(13, Fraction(10))) * math.exp(-3 * 20 / 180)
    assert exact13 < 0.8  # so 13 do not reach the target and 14 do
    assert answer.agents == 14
    assert answer.occupancy == pytest.approx(10 / 14)
    assert answer.service_level == pytest.approx(0.888, abs=5e-4)


def test_stable_at_a_thousand_agents() -> None:
    """No factorials: 1,000 agents and 950 erlangs agree with exact big rationals."""
    exact = textbook_erlang_c(1000, Fraction(950))
    assert erlang_c(1000, 950.0) == pytest.approx(float(exact), rel=1e-10)
    assert 0 < erlang_b(5000, 4000.0) < 1
    big = agents_erlang_c(20_000, 180, 1800, Target(service_level=0.8, threshold=20))
    assert 2000 < big.agents < 2100
    assert big.service_level >= 0.8


@settings(max_examples=150, deadline=None)
@given(
    calls=st.floats(min_value=0.5, max_value=2000),
    aht=st.floats(min_value=10, max_value=900),
    threshold=st.floats(min_value=0, max_value=120),
)
def test_more_agents_never_worse(calls: float, aht: float, threshold: float) -> None:
    load = calls * aht / 1800
    first = math.floor(load) + 1
    previous_c, previous_sl, previous_asa = 1.0, 0.0, math.inf
    for n in range(first, first + 25):
        c, sl, wait = erlang_c(n, load), service_level(n, load, aht, threshold), asa(n, load, aht)
        assert 0 <= c <= 1 and 0 <= sl <= 1
        assert c <= previous_c + 1e-12
        assert sl >= previous_sl - 1e-12
        assert wait <= previous_asa + 1e-9
        previous_c, previous_sl, previous_asa = c, sl, wait


@settings(max_examples=100, deadline=None)
@given(
    calls=st.floats(min_value=1, max_value=1000),
    more=st.floats(min_value=0, max_value=500),
    aht=st.floats(min_value=10, max_value=900),
    sl=st.floats(min_value=0.1, max_value=0.95),
    occupancy=st.floats(min_value=0.5, max_value=1.0),
)
def test_agents_needed_grow_with_calls_and_are_the_fewest(
    calls: float, more: float, aht: float, sl: float, occupancy: float
) -> None:
    target = Target(service_level=sl, threshold=20, max_occupancy=occupancy)
    few = agents_erlang_c(calls, aht, 1800, target)
    many = agents_erlang_c(calls + more, aht, 1800, target)
    assert few.agents <= many.agents
    assert few.service_level >= sl - 1e-12 and few.occupancy <= occupancy + 1e-12
    one_less = few.agents - 1
    load = few.load
    assert (
        one_less <= load
        or service_level(one_less, load, aht, 20) < sl
        or load / one_less > occupancy
    )


def test_asa_target_and_occupancy_cap() -> None:
    by_asa = agents_erlang_c(100, 180, 1800, Target(service_level=None, asa=15))
    assert by_asa.asa <= 15 and asa(by_asa.agents - 1, 10.0, 180) > 15
    capped = agents_erlang_c(1000, 180, 1800, Target(service_level=0.5, max_occupancy=0.85))
    assert capped.agents == math.ceil(100 / 0.85)


def test_no_calls_need_no_agents() -> None:
    zero = agents_erlang_c(0, 180, 1800, Target())
    assert zero.agents == 0 and zero.service_level == 1.0
    assert agents_erlang_a(0, 180, 1800, Target(), 60).agents == 0


@pytest.mark.parametrize(("calls", "n"), [(100, 12), (100, 14), (400, 45), (30, 4)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(calls: int, n: int) -> None:
    load = calls * 180 / 1800
    figures = [erlang_a(n, calls, 180, 1800, p, 20) for p in (1e3, 1e6, 1e11)]
    c, sl = erlang_c(n, load), service_level(n, load, 180, 20)
    errors = [abs(f.wait_probability - c) + abs(f.service_level - sl) for f in figures]
    assert errors[0] > errors[1] > errors[2]  # converges...
    assert errors[2] < 1e-8  # ... to Erlang C (the gap is linear in 1/patience)
    assert figures[2].mean_wait == pytest.approx(asa(n, load, 180), rel=1e-7)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.floats(min_value=1, max_value=400),
    aht=st.floats(min_value=30, max_value=600),
    patience=st.floats(min_value=5, max_value=600),
    n=st.integers(min_value=1, max_value=60),
)
def test_erlang_a_consistency(calls: float, aht: float, patience: float, n: int) -> None:
    """Probabilities are shares; SL at 0 s is the share not waiting; everyone not
    hanging up is answered some day; more agents or more patience mean fewer abandons."""
    at0 = erlang_a(n, calls, aht, 1800, patience, 0)
    assert at0.service_level == pytest.approx(1 - at0.wait_probability, abs=1e-9)
    late = erlang_a(n, calls, aht, 1800, patience, 50 * patience)
    assert late.service_level == pytest.approx(1 - late.abandon_probability, abs=1e-6)
    mid = erlang_a(n, calls, aht, 1800, patience, 20)
    assert 0 <= mid.abandon_probability <= mid.wait_probability <= 1
    assert at0.service_level - 1e-9 <= mid.service_level <= late.service_level + 1e-9
    more = erlang_a(n + 1, calls, aht, 1800, patience, 20)
    assert more.abandon_probability <= mid.abandon_probability + 1e-12
    assert more.service_level >= mid.service_level - 1e-9
    calmer = erlang_a(n, calls, aht, 1800, patience * 2, 20)
    assert calmer.abandon_probability <= mid.abandon_probability + 1e-12


def simulate(
    n: int, lam: float, aht: float, patience: float, t: float, calls: int
) -> dict[str, float]:
    """A discrete-event simulation of M/M/n+M (FCFS): shares waiting, abandoning and
    answered within t; an independent check of the birth-death computation."""
    rng = random.Random(20261205)
    free_at: list[float] = [0.0] * n  # when each agent is next free
    heapq.heapify(free_at)
    now = 0.0
    waited = abandoned = within = 0
    # with exponential patience and FCFS, a call is answered at the earliest time an
    # agent frees among agents not taken by earlier answered calls
    for _ in range(calls):
        now += rng.expovariate(lam)
        earliest = free_at[0]
        start = max(now, earliest)
        wait = start - now
        give_up = rng.expovariate(1 / patience)
        if wait > 0:
            waited += 1
        if wait > give_up:
            abandoned += 1
            continue
        heapq.heapreplace(free_at, start + rng.expovariate(1 / aht))
        if wait <= t:
            within += 1
    return {
        "wait": waited / calls,
        "abandon": abandoned / calls,
        "sl": within / calls,
    }


@pytest.mark.parametrize(("n", "calls", "patience"), [(3, 40, 60), (10, 110, 90), (8, 120, 30)])
def test_erlang_a_matches_a_simulation(n: int, calls: int, patience: float) -> None:
    figures = erlang_a(n, calls, 180, 1800, patience, 20)
    seen = simulate(n, calls / 1800, 180, patience, 20, 200_000)
    assert seen["abandon"] == pytest.approx(figures.abandon_probability, abs=0.006)
    assert seen["wait"] == pytest.approx(figures.wait_probability, abs=0.01)
    assert seen["sl"] == pytest.approx(figures.service_level, abs=0.01)


def test_erlang_a_needs_no_more_agents_than_erlang_c() -> None:
    target = Target(service_level=0.8, threshold=20)
    for calls in (20, 100, 500, 2000):
        c = agents_erlang_c(calls, 240, 1800, target)
        a = agents_erlang_a(calls, 240, 1800, target, 90)
        assert a.agents <= c.agents
        assert a.service_level >= 0.8
        assert erlang_a(a.agents - 1, calls, 240, 1800, 90, 20).service_level < 0.8
        assert 0 < a.abandon_probability < 0.2


def test_shrinkage_and_patience() -> None:
    assert scheduled_staff(14, [0.10, 0.05, 0.08]) == math.ceil(14 / 0.77)
    assert scheduled_staff(10, [0.5]) == 20
    assert scheduled_staff(0, []) == 0
    with pytest.raises(ValueError, match="less than 1"):
        scheduled_staff(10, [0.6, 0.4])
    assert patience_estimate([10, 20], []) == math.inf
    assert patience_estimate([10, 20], [30, 40]) == 50.0
    # the estimate recovers a known exponential patience from censored waits
    rng = random.Random(7)
    answered, gone = [], []
    for _ in range(20_000):
        patience, wait = rng.expovariate(1 / 80), rng.expovariate(1 / 30)
        (gone if patience < wait else answered).append(min(patience, wait))
    assert patience_estimate(answered, gone) == pytest.approx(80, rel=0.05)
