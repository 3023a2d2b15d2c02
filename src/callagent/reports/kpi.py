"""The KPI engine: every contact-centre figure defined once, as a fold over call facts.

Pure: :class:`CallFact` in, :class:`Kpi` out; nothing here reads a database or a clock.
The formulas (also in the README and the API's descriptions), for the inbound calls
*offered* in a period (counted where they were offered: by their start):

- ``offered``: inbound calls that reached callagent (answered, abandoned or not answered).
- ``answered``; ``abandoned``: the caller hung up before anyone answered;
  ``short_abandoned``: abandoned within ``short_abandon_seconds`` (default 5 s).
- ``answered_within_threshold``: answered with a wait ≤ ``sl_threshold_seconds`` (20 s).
- ``service_level`` (app_queue's SL): answered within the threshold / the base;
  ``service_level_2`` (app_queue's SL2): (answered within + abandoned within the
  threshold) / the base. The base is offered, minus the short abandons when
  ``exclude_short_abandons`` (the default).
- ``abandon_rate``: abandoned (minus short ones when excluded) / the base.
- ``asa_seconds``: mean wait of the answered calls; ``longest_wait_seconds``: the
  longest wait of any offered call (answered or not).
- ``talk_seconds``, ``hold_seconds``: sums over the answered calls; ``acw_seconds``: mean
  after-call work per answered call: the time its operator spent in ``wrap_up`` for it
  (from the operators' state history, not a fixed timer);
  ``aht_seconds``: (talk + hold + after-call work) / answered.
- ``repeat_24h``, ``repeat_7d``: see :mod:`callagent.reports.activity`.

Each group (and the total) also carries the operators' time (logged in, paused and
pauses by reason, busy, occupancy: :mod:`callagent.reports.operator_time`) and the
wrap-up and notification figures (:mod:`callagent.reports.activity`), for the groupings
where they have a place (time groups and operators; campaigns for notifications).

A figure whose denominator is 0 is 0 (a period with no calls gives zeros, not errors).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from callagent.reports.activity import Activity
from callagent.reports.operator_time import OperatorTime

# the formulas above, for the API's description
MODULE_DOC = (sys.modules[__name__].__doc__ or "").split("\n\n", 1)[-1]


@dataclass(frozen=True)
class KpiOptions:
    """The centre's choices (``CALLAGENT_SL_THRESHOLD_SECONDS``, ...)."""

    sl_threshold_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    exclude_short_abandons: bool = True


@dataclass(frozen=True)
class OperatorPart:
    """One operator's part of a call several operators talked on (a transfer): their time
    connected to it less the holds they made, their holds, their after-call work."""

    operator: str
    talk_seconds: float
    hold_seconds: float
    acw_seconds: float = 0.0


@dataclass(frozen=True)
class CallFact:
    """What one inbound call contributes to the figures."""

    call_id: int
    offered_at: datetime  # aware: when the call reached callagent
    disposition: str  # answered, abandoned, no_answer
    wait_seconds: float  # until answered, or until the caller left
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    acw_seconds: float = 0.0  # the operator's time in wrap_up for this call
    operator: str = ""  # login, or the endpoint of a phone without an operator
    topic: str = ""  # the routing topic (CALLAGENT_TOPIC)
    did: str = ""  # the dialled number
    transferred: bool = False
    # () : the whole call is ``operator``'s; else each operator's part (a transfer)
    parts: tuple[OperatorPart, ...] = ()
    caller: str = ""  # the caller's number (for repeat callers; never shown)
    repeat_24h: bool = False  # the same number called in the 24 h before
    repeat_7d: bool = False  # ... in the 7 days before


@dataclass
class Kpi:
    """The figures of one group of calls (or of the whole period)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    unanswered: int = 0  # neither answered nor abandoned: overflow, fallback, no operator
    answered_within_threshold: int = 0
    abandoned_within_threshold: int = 0
    service_level: float = 0.0
    service_level_2: float = 0.0
    abandon_rate: float = 0.0
    asa_seconds: float = 0.0
    longest_wait_seconds: float = 0.0
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    acw_seconds: float = 0.0
    aht_seconds: float = 0.0
    transferred: int = 0
    repeat_24h: int = 0
    repeat_7d: int = 0
    time: OperatorTime = field(default_factory=OperatorTime)
    activity: Activity = field(default_factory=Activity)
    key: str | None = None
    groups: list[Kpi] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The figures as the API and ``callagent report kpi --json`` print them (the
        operators' time and the activity figures flat among the calls' figures)."""
        data = {k: v for k, v in asdict(self).items() if k not in ("time", "activity")}
        data |= self.time.to_json() | self.activity.to_json()
        data["groups"] = [group.to_json() for group in self.groups]
        if self.key is None:
            del data["key"]
        else:
            del data["groups"]
        return data


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


@dataclass
class CallTally:
    """The additive part of the calls' figures: counts, sums and the longest wait. Tallies
    of disjoint sets of calls add up (:meth:`add`) to the tally of their union, which is
    what lets stored interval aggregates stand in for the calls themselves."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    unanswered: int = 0
    answered_within_threshold: int = 0
    abandoned_within_threshold: int = 0
    transferred: int = 0
    repeat_24h: int = 0
    repeat_7d: int = 0
    answered_wait_seconds: float = 0.0  # sum of the answered calls' waits
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    acw_seconds: float = 0.0  # sum of the answered calls' after-call work
    longest_wait_seconds: float = 0.0  # a maximum, not a sum

    def add(self, other: CallTally) -> None:
        """Add ``other``'s calls to these (sums add, the longest wait is the larger)."""
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait_seconds = max(self.longest_wait_seconds, other.longest_wait_seconds)

    @property
    def empty(self) -> bool:
        """No call at all."""
        return self.offered == 0


SUMMED = tuple(name for name in CallTally.__dataclass_fields__ if name != "longest_wait_seconds")


def tally(facts: Iterable[CallFact], options: KpiOptions) -> CallTally:
    """The additive figures of ``facts`` (see the module's formulas)."""
    counted = CallTally()
    for fact in facts:
        counted.offered += 1
        counted.transferred += fact.transferred
        counted.repeat_24h += fact.repeat_24h
        counted.repeat_7d += fact.repeat_7d
        counted.longest_wait_seconds = max(counted.longest_wait_seconds, fact.wait_seconds)
        within = fact.wait_seconds <= options.sl_threshold_seconds
        if fact.disposition == "answered":
            counted.answered += 1
            counted.answered_within_threshold += within
            counted.answered_wait_seconds += fact.wait_seconds
            counted.talk_seconds += fact.talk_seconds
            counted.hold_seconds += fact.hold_seconds
            counted.acw_seconds += fact.acw_seconds
        elif fact.disposition == "abandoned":
            counted.abandoned += 1
            short = fact.wait_seconds < options.short_abandon_seconds
            counted.short_abandoned += short
            if within and not (short and options.exclude_short_abandons):
                counted.abandoned_within_threshold += 1
        else:
            counted.unanswered += 1
    return counted


def finish(counted: CallTally, options: KpiOptions, key: str | None = None) -> Kpi:
    """The figures (rates and means) of a tally."""
    kpi = Kpi(key=key)
    for name in (
        "offered",
        "answered",
        "abandoned",
        "short_abandoned",
        "unanswered",
        "answered_within_threshold",
        "abandoned_within_threshold",
        "transferred",
        "repeat_24h",
        "repeat_7d",
        "talk_seconds",
        "hold_seconds",
        "longest_wait_seconds",
    ):
        setattr(kpi, name, getattr(counted, name))
    excluded = counted.short_abandoned if options.exclude_short_abandons else 0
    base = counted.offered - excluded
    kpi.service_level = _ratio(counted.answered_within_threshold, base)
    kpi.service_level_2 = _ratio(
        counted.answered_within_threshold + counted.abandoned_within_threshold, base
    )
    kpi.abandon_rate = _ratio(counted.abandoned - excluded, base)
    kpi.asa_seconds = _ratio(counted.answered_wait_seconds, counted.answered)
    kpi.acw_seconds = _ratio(counted.acw_seconds, counted.answered)
    kpi.aht_seconds = _ratio(
        counted.talk_seconds + counted.hold_seconds + counted.acw_seconds, counted.answered
    )
    return kpi


def compute(facts: Iterable[CallFact], options: KpiOptions, key: str | None = None) -> Kpi:
    """The figures of ``facts`` (see the module's formulas)."""
    return finish(tally(facts, options), options, key)


def by_operator(fact: CallFact) -> list[CallFact]:
    """A call as each operator who talked on it counts it: handled by each of them, with
    their own talk, hold and after-call work; the call itself unchanged otherwise."""
    if not fact.parts:
        return [fact]
    return [
        replace(
            fact,
            operator=part.operator,
            talk_seconds=part.talk_seconds,
            hold_seconds=part.hold_seconds,
            acw_seconds=part.acw_seconds,
            parts=(),
        )
        for part in fact.parts
    ]


def operator_parts(
    legs: Iterable[tuple[str, float, float]], holds: Iterable[tuple[float, float]]
) -> list[tuple[str, float, float]]:
    """Each operator leg's (endpoint, talk, hold): ``legs`` are (endpoint, answered, ended)
    in epoch seconds, ``holds`` (start, end) of the call's holds. A hold is the operator's
    whose leg was connected when it began (the earliest answered, if several)."""
    ordered = sorted(legs, key=lambda leg: leg[1])
    held: dict[int, float] = {}
    for start, end in holds:
        owner = next(
            (i for i, (_, answered, ended) in enumerate(ordered) if answered <= start < ended),
            None,
        )
        if owner is not None:
            held[owner] = held.get(owner, 0.0) + max(0.0, min(end, ordered[owner][2]) - start)
    return [
        (endpoint, max(0.0, ended - answered - held.get(i, 0.0)), held.get(i, 0.0))
        for i, (endpoint, answered, ended) in enumerate(ordered)
    ]
