"""Operators' time from their state history: logged in, paused (by reason), busy, and
occupancy; and the spans a day's timeline draws.

Pure: state changes in, spans and figures out. The formulas (also in the README and
the API's descriptions), over the part of each state that lies in the period or group:

- ``logged_in_seconds``: time in ready, ringing, on_call, wrap_up or paused (not
  offline, and not unavailable: a phone that is gone is no working time);
- ``paused_seconds``; ``pauses``: per reason, ``count`` (the pauses that *began* in the
  group: a pause is counted where it began, its seconds where they passed) and
  ``seconds``;
- ``busy_seconds``: ringing + on_call (talk and hold: an operator on hold stays on_call)
  + wrap_up (after-call work);
- ``occupancy`` = busy / (logged in − paused); 0 when the operator was never available.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LOGGED_IN = frozenset({"ready", "ringing", "on_call", "wrap_up", "paused"})
BUSY = frozenset({"ringing", "on_call", "wrap_up"})


@dataclass(frozen=True)
class StateChange:
    """One row of the state history: ``operator`` went to ``state`` at ``at``."""

    operator: str  # login
    at: datetime
    state: str
    reason: str = ""


@dataclass(frozen=True)
class StateSpan:
    """An operator's time in one state: ``[start, end)``, ``began`` when it really began
    (before ``start`` when the span is cut at the period's start)."""

    operator: str
    state: str
    reason: str
    start: datetime
    end: datetime
    began: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def spans(changes: Iterable[StateChange], since: datetime, until: datetime) -> list[StateSpan]:
    """Each operator's states over ``[since, until)``. ``changes`` per operator: their last
    change before ``since`` (the state they were in) and those up to ``until``; the last
    state lasts until ``until`` (pass "now" for a period still running). Consecutive
    changes to the same state and reason make one span."""
    per: dict[str, list[StateChange]] = {}
    for change in sorted(changes, key=lambda c: (c.operator, c.at)):
        per.setdefault(change.operator, []).append(change)
    found: list[StateSpan] = []
    for operator, mine in per.items():
        merged: list[StateChange] = []
        for change in mine:
            if merged and (merged[-1].state, merged[-1].reason) == (change.state, change.reason):
                continue
            merged.append(change)
        for one, following in zip(merged, [*merged[1:], None], strict=True):
            end = min(following.at if following else until, until)
            start = max(one.at, since)
            if end > start:
                found.append(StateSpan(operator, one.state, one.reason, start, end, one.at))
    return found


@dataclass
class OperatorTime:
    """Time figures of one group (see the module's formulas)."""

    logged_in_seconds: float = 0.0
    paused_seconds: float = 0.0
    busy_seconds: float = 0.0
    occupancy: float = 0.0
    pauses: dict[str, dict[str, float]] = field(default_factory=dict)  # reason: count, seconds

    def to_json(self) -> dict[str, Any]:
        """As the API answers it."""
        return {
            "logged_in_seconds": self.logged_in_seconds,
            "paused_seconds": self.paused_seconds,
            "busy_seconds": self.busy_seconds,
            "occupancy": self.occupancy,
            "pauses": {reason: dict(pause) for reason, pause in sorted(self.pauses.items())},
        }


def operator_time(
    found: Sequence[StateSpan], start: datetime | None = None, end: datetime | None = None
) -> OperatorTime:
    """The figures of ``found`` within ``[start, end)`` (all of them when not given)."""
    figures = OperatorTime()
    for span in found:
        lo = max(span.start, start) if start else span.start
        hi = min(span.end, end) if end else span.end
        seconds = (hi - lo).total_seconds()
        if seconds <= 0:  # not in this window
            continue
        if span.state in LOGGED_IN:
            figures.logged_in_seconds += seconds
        if span.state in BUSY:
            figures.busy_seconds += seconds
        if span.state != "paused":
            continue
        figures.paused_seconds += seconds
        pause = figures.pauses.setdefault(span.reason or "other", {"count": 0, "seconds": 0.0})
        pause["seconds"] += seconds
        if (start is None or span.began >= start) and (end is None or span.began < end):
            pause["count"] += 1
    settle(figures)
    return figures


def settle(figures: OperatorTime) -> None:
    """Set the occupancy from the sums (after they were added up)."""
    available = figures.logged_in_seconds - figures.paused_seconds
    figures.occupancy = figures.busy_seconds / available if available > 0 else 0.0


def add_time(into: OperatorTime, other: OperatorTime) -> None:
    """Add ``other``'s seconds and pauses to ``into`` (time in disjoint windows adds up);
    call :func:`settle` once done."""
    into.logged_in_seconds += other.logged_in_seconds
    into.paused_seconds += other.paused_seconds
    into.busy_seconds += other.busy_seconds
    for reason, pause in other.pauses.items():
        mine = into.pauses.setdefault(reason, {"count": 0, "seconds": 0.0})
        mine["count"] += pause["count"]
        mine["seconds"] += pause["seconds"]
