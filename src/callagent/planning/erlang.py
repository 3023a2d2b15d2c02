"""Queueing formulas for staffing: Erlang C (M/M/n), Erlang A (M/M/n+M) and shrinkage.

Pure, standard library only. Notation: ``calls`` offered in an interval of
``interval_seconds``, mean handle time ``aht`` (s), so the traffic is
``A = calls × aht / interval_seconds`` erlangs; ``n`` agents.

**Erlang C** (callers wait as long as it takes):

- Erlang B by the recursion ``B(0) = 1``, ``B(k) = A·B(k-1) / (k + A·B(k-1))``: no
  factorial or power is ever formed, every step is a ratio below 1, so thousands of
  agents cost thousands of additions and nothing overflows;
- ``C(n, A) = n·B / (n - A·(1 - B))`` for ``n > A`` (1 otherwise): the probability
  that a call waits;
- service level ``SL(t) = 1 - C·exp(-(n - A)·t / aht)``: the share answered within t s;
- ``ASA = C·aht / (n - A)``: the mean wait over all calls; occupancy ``A / n``.

**Erlang A** (callers hang up after an exponential patience of mean ``patience``, rate
``θ = 1/patience``; service rate ``μ = 1/aht``; arrival rate ``λ``): computed exactly
from the birth-death chain of the number of calls in the system, ``k → k+1`` at ``λ``,
``k → k-1`` at ``μ·min(k, n) + θ·max(k - n, 0)``, in log space and cut where the
remaining states weigh under 1e-17. By PASTA an arriving call sees the chain's
stationary law ``π``:

- P(wait) = ``Σ_{k≥n} π_k``; P(abandon) = ``θ·E[queue] / λ``; mean wait of all calls
  ``E[queue] / λ`` (Little);
- SL(t) = P(no wait) + P(answered after waiting ≤ t): a call arriving with ``j``
  calls ahead moves up at rate ``n·μ + j·θ`` (a server frees or someone ahead hangs up)
  and leaves itself at rate ``θ``; the chance of reaching an agent within ``t`` is a
  transient of this small absorbing chain, computed by uniformisation (Poisson weights).

As the patience grows (θ → 0) Erlang A tends to Erlang C (a test checks it).

**Shrinkage** (breaks, training, absence... as shares of paid time, added up as WFM
tools do): scheduled staff = ``ceil(agents / (1 - Σ shares))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# the chain is cut where the states left weigh under e^-40 of the largest (about 4e-18)
_LOG_CUT = 40.0
_MAX_STATES = 2_000_000  # a guard: θ → 0 with A close to n needs a long geometric tail


def traffic(calls: float, aht: float, interval_seconds: float) -> float:
    """Offered load in erlangs: ``calls × aht / interval_seconds``."""
    if calls < 0 or aht < 0 or interval_seconds <= 0:
        raise ValueError("calls and AHT must be ≥ 0 and the interval > 0")
    return calls * aht / interval_seconds


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of ``n`` servers offered ``load`` erlangs (the recursion)."""
    if n < 0 or load < 0:
        raise ValueError("agents and load must be ≥ 0")
    b = 1.0
    for k in range(1, n + 1):
        b = load * b / (k + load * b)
    return b


def _c_from_b(n: int, load: float, b: float) -> float:
    if n <= load:
        return 1.0
    return n * b / (n - load * (1.0 - b))


def erlang_c(n: int, load: float) -> float:
    """Probability that a call waits with ``n`` agents and ``load`` erlangs (1 when
    ``n ≤ load``: the queue grows without bound)."""
    if load == 0:
        return 0.0
    return _c_from_b(n, load, erlang_b(n, load))


def service_level(n: int, load: float, aht: float, threshold: float) -> float:
    """Erlang C's share of calls answered within ``threshold`` seconds."""
    if load == 0:
        return 1.0
    if n <= load:
        return 0.0
    c = erlang_c(n, load)
    return 1.0 - c * math.exp(-(n - load) * threshold / aht)


def asa(n: int, load: float, aht: float) -> float:
    """Erlang C's mean wait over all calls, seconds (infinite when ``n ≤ load``)."""
    if load == 0:
        return 0.0
    if n <= load:
        return math.inf
    return erlang_c(n, load) * aht / (n - load)


@dataclass(frozen=True)
class Target:
    """What an interval must reach: ``service_level`` (a share, e.g. 0.8) answered within
    ``threshold`` seconds, and/or a mean wait ``asa`` ≤ seconds; occupancy at most
    ``max_occupancy``. None: that condition is not asked for."""

    service_level: float | None = 0.8
    threshold: float = 20.0
    asa: float | None = None
    max_occupancy: float = 1.0

    def __post_init__(self) -> None:
        if self.service_level is not None and not 0 <= self.service_level < 1:
            raise ValueError("the service level target must be a share in [0, 1)")
        if self.threshold < 0 or (self.asa is not None and self.asa <= 0):
            raise ValueError("the threshold must be ≥ 0 and the ASA target > 0")
        if not 0.05 <= self.max_occupancy <= 1:  # below, agents would outnumber any need
            raise ValueError("the maximum occupancy must be between 0.05 and 1")


@dataclass(frozen=True)
class Staffing:
    """One interval's answer: the agents needed and what they achieve."""

    agents: int
    load: float  # erlangs
    service_level: float
    asa: float  # seconds, mean wait over all calls
    occupancy: float
    wait_probability: float
    abandon_probability: float = 0.0  # Erlang A only


def _meets(target: Target, sl: float, mean_wait: float, occupancy: float) -> bool:
    # a small tolerance: a target met to the 12th digit is met
    eps = 1e-12
    if target.service_level is not None and sl < target.service_level - eps:
        return False
    if target.asa is not None and mean_wait > target.asa + eps:
        return False
    return occupancy <= target.max_occupancy + eps


def agents_erlang_c(calls: float, aht: float, interval_seconds: float, target: Target) -> Staffing:
    """The fewest agents meeting ``target`` under Erlang C (0 when no calls come), with
    their service level, ASA, occupancy and probability of waiting. One pass of the
    Erlang B recursion over n = 1, 2, ...: linear in the answer."""
    load = traffic(calls, aht, interval_seconds)
    if load == 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0, 0.0)
    b = 1.0
    n = 0
    while True:
        n += 1
        b = load * b / (n + load * b)
        if n <= load:
            continue
        c = _c_from_b(n, load, b)
        sl = 1.0 - c * math.exp(-(n - load) * target.threshold / aht)
        mean_wait = c * aht / (n - load)
        occupancy = load / n
        if _meets(target, sl, mean_wait, occupancy):
            return Staffing(n, load, sl, mean_wait, occupancy, c)


@dataclass(frozen=True)
class ErlangA:
    """Erlang A's figures for ``n`` agents."""

    wait_probability: float
    abandon_probability: float
    service_level: float  # answered within the threshold, of all offered calls
    mean_wait: float  # seconds, over all calls (those who hang up included)
    occupancy: float  # busy agents / n


def _log_weights(n: int, lam: float, mu: float, theta: float) -> list[float]:
    """Unnormalised log stationary weights of the chain, cut where negligible."""
    logs = [0.0]
    top = 0.0
    k = 0
    while True:
        k += 1
        death = mu * min(k, n) + theta * max(k - n, 0)
        value = logs[-1] + math.log(lam) - math.log(death)
        logs.append(value)
        top = max(top, value)
        # past the mode (deaths outgrow arrivals) and negligible: every later state is
        # smaller still, and their sum is bounded by a geometric series of this ratio
        if k > n and death > lam and value < top - _LOG_CUT:
            ratio = lam / death
            if value + math.log(1.0 / (1.0 - ratio)) < top - _LOG_CUT:
                return logs
        if k > _MAX_STATES:
            raise ValueError("the queue does not settle: more agents or a finite patience")


def erlang_a(
    n: int, calls: float, aht: float, interval_seconds: float, patience: float, threshold: float
) -> ErlangA:
    """Erlang A's figures for ``n`` agents; ``patience``: callers' mean patience, s
    (``math.inf``: nobody hangs up, which is Erlang C and needs ``n`` above the load)."""
    if n < 0 or aht <= 0 or patience <= 0 or threshold < 0:
        raise ValueError("agents ≥ 0, AHT and patience > 0, threshold ≥ 0")
    lam = calls / interval_seconds
    if lam == 0:
        return ErlangA(0.0, 0.0, 1.0, 0.0, 0.0)
    mu = 1.0 / aht
    theta = 0.0 if math.isinf(patience) else 1.0 / patience
    if theta == 0 and n * mu <= lam:
        return ErlangA(1.0, 0.0, 0.0, math.inf, 1.0 if n else 0.0)
    if n == 0:  # everyone hangs up
        return ErlangA(1.0, 1.0, 0.0, patience, 0.0)
    if n * mu < lam and (lam - n * mu) / theta > _MAX_STATES / 2:
        # overloaded and almost infinitely patient: the queue settles around
        # (λ - nμ)/θ calls, too many states to list; the fluid limit is exact to within
        # 1/sqrt(queue) and says what matters: nearly everyone waits, long
        queue = (lam - n * mu) / theta
        return ErlangA(1.0, (lam - n * mu) / lam, 0.0, queue / lam, 1.0)
    logs = _log_weights(n, lam, mu, theta)
    top = max(logs)
    weights = [math.exp(v - top) for v in logs]
    total = math.fsum(weights)
    pi = [w / total for w in weights]
    waits = math.fsum(pi[n:])
    queue = math.fsum((k - n) * p for k, p in enumerate(pi) if k > n)
    busy = math.fsum(min(k, n) * p for k, p in enumerate(pi))
    answered_late = _served_within(pi[n:], n * mu, theta, threshold)
    return ErlangA(
        wait_probability=waits,
        abandon_probability=theta * queue / lam,
        service_level=min(1.0, (1.0 - waits) + answered_late),
        mean_wait=queue / lam,
        occupancy=busy / n,
    )


def _most_jumps(mean: float) -> float:
    """A count a Poisson variable of this mean exceeds with probability under 1e-17
    (9 standard deviations and 10 more: the margin small means need)."""
    return mean + 9.0 * math.sqrt(mean) + 10.0


def _served_within(ahead: Sequence[float], rate: float, theta: float, t: float) -> float:
    """P(arrive with j ahead (weight ``ahead[j]``) and reach an agent within ``t``).

    The tagged call's chain: with j ahead it moves to j-1 at ``rate + j·θ``, to "served"
    from j = 0 at ``rate``, to "gone" at ``θ``. Uniformised at Λ = rate + J·θ, the jump
    chain's mass reaching "served" at jump k is weighted by P(Poisson(Λt) ≥ k); what is
    left out (states or jumps) weighs under 1e-15 in all."""
    if t == 0 or not ahead:
        return 0.0
    # a call with j ahead needs j + 1 jumps to reach an agent: beyond what a Poisson
    # number of jumps by t can reach, none is served in time;
    # and states that weigh nothing add at most their weight
    size = 1
    while size < len(ahead):
        reach = (rate + size * theta) * t
        if size + 1 > _most_jumps(reach):
            break
        size += 1
    remaining = math.fsum(ahead[size:])
    while size > 1 and remaining + ahead[size - 1] < 1e-16:
        size -= 1
        remaining += ahead[size]
    big = rate + size * theta
    # per state: the share of a jump that moves it up (j → j-1; from 0: served) and that
    # stays (a fictitious jump of the uniformisation); the rest hangs up
    move = [(rate + j * theta) / big for j in range(size)]
    stay = [1.0 - m - theta / big for m in move]
    moved_in = [*move[1:], 0.0]
    mass = list(ahead[:size])
    served = 0.0
    mean = big * t
    log_p = -mean  # log P(N = 0), then P(N = k) by recursion
    tail = 1.0  # P(N ≥ k)
    step = 0
    while True:
        step += 1
        tail -= math.exp(log_p)  # P(N ≥ step) = P(N ≥ step-1) - P(N = step-1)
        log_p += math.log(mean) - math.log(step)
        if tail <= 1e-16 or step > _most_jumps(mean):
            break
        served += mass[0] * move[0] * tail
        below = [*mass[1:], 0.0]
        mass = [m * k + b * i for m, k, b, i in zip(mass, stay, below, moved_in, strict=True)]
        if step % 16 == 0 and math.fsum(mass) < 1e-16:
            break
    return served


def agents_erlang_a(
    calls: float,
    aht: float,
    interval_seconds: float,
    target: Target,
    patience: float,
) -> Staffing:
    """The fewest agents meeting ``target`` under Erlang A (callers of mean
    ``patience`` s hang up), searched from Erlang C's answer downwards: abandons
    shorten the queue, so Erlang A never needs more."""
    load = traffic(calls, aht, interval_seconds)
    if load == 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0, 0.0)
    upper = agents_erlang_c(calls, aht, interval_seconds, target).agents

    seen: dict[int, ErlangA] = {}

    def figures(n: int) -> ErlangA:  # each n computed once
        if n not in seen:
            seen[n] = erlang_a(n, calls, aht, interval_seconds, patience, target.threshold)
        return seen[n]

    def ok(n: int) -> bool:
        f = figures(n)
        return _meets(target, f.service_level, f.mean_wait, f.occupancy)

    # SL and mean wait improve and occupancy falls with every added agent: bisect; but
    # first the agent just under Erlang C's answer (usually the answer already, when the
    # occupancy or a patient crowd decides), which saves most of the bisection
    low, high = 0, upper
    if upper > 0 and not ok(upper - 1):
        low = upper
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    f = figures(high)
    return Staffing(
        high,
        load,
        f.service_level,
        f.mean_wait,
        f.occupancy,
        f.wait_probability,
        f.abandon_probability,
    )


def scheduled_staff(agents: int, shrinkage: Sequence[float]) -> int:
    """Staff to schedule so that ``agents`` are on the phones after ``shrinkage``
    (shares of paid time lost to breaks, training, absence..., added up)."""
    lost = math.fsum(shrinkage)
    if any(s < 0 for s in shrinkage) or lost >= 1:
        raise ValueError("shrinkage shares must be ≥ 0 and add up to less than 1")
    # 1e-9: 10 / (1 - 0.5) is 20, not 20.000000000000004 rounded up to 21
    return math.ceil(agents / (1.0 - lost) - 1e-9)


def patience_estimate(waits_answered: Sequence[float], waits_abandoned: Sequence[float]) -> float:
    """Callers' mean patience (s) from measured waits, for an exponential patience:
    the maximum-likelihood estimate with answered calls as censored observations
    (their patience was at least their wait), ``Σ all waits / abandons``, at least 1 s
    (shorter is noise); ``math.inf`` when nobody abandoned (no sign of impatience)."""
    if not waits_abandoned:
        return math.inf
    exposure = math.fsum(waits_answered) + math.fsum(waits_abandoned)
    return max(1.0, exposure / len(waits_abandoned))
