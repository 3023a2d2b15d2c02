"""Adherence: each operator's actual states against their scheduled shift. Pure.

For each shift, from the operator's state history (:mod:`callagent.reports.operator_time`):

- ``late_seconds``: from the shift's start to their first moment logged in (any state
  but offline and unavailable) between two hours before the start and the end; no
  log-in at all: ``absent``;
- ``early_seconds``: from their last moment logged in before the end to the end;
- each pause within the shift against the planned breaks: ``unplanned`` when it overlaps
  no planned break or lunch, ``longer`` when it lasts more than the break it overlaps
  most plus ``grace`` seconds;
- ``adherence``: the share of the shift's time in the state the plan wanted: working
  (logged in, not paused) when no break is planned, not working during a break.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from callagent.reports.operator_time import LOGGED_IN, StateSpan

LOOK_BEFORE = timedelta(hours=2)  # a log-in this early still starts the shift


@dataclass(frozen=True)
class Planned:
    """A shift as planned: ``breaks`` as ``(kind, start, end)``."""

    operator: str  # login
    start: datetime
    end: datetime
    breaks: tuple[tuple[str, datetime, datetime], ...] = ()


@dataclass
class OffPlan:
    """A pause off the plan."""

    kind: str  # unplanned, longer
    start: datetime
    seconds: float
    planned_seconds: float = 0.0


@dataclass
class Adherence:
    """One shift's figures (see the module)."""

    planned: Planned
    absent: bool
    late_seconds: float
    early_seconds: float
    adherence: float  # 0-1 of the time so far
    seconds: float  # the shift's time looked at (up to now)
    exceptions: list[OffPlan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "operator": self.planned.operator,
            "start": self.planned.start.isoformat(),
            "end": self.planned.end.isoformat(),
            "absent": self.absent,
            "late_seconds": round(self.late_seconds),
            "early_seconds": round(self.early_seconds),
            "adherence": round(self.adherence, 4),
            "exceptions": [
                {
                    "kind": one.kind,
                    "start": one.start.isoformat(),
                    "seconds": round(one.seconds),
                    "planned_seconds": round(one.planned_seconds),
                }
                for one in self.exceptions
            ],
        }


def _working(span: StateSpan) -> bool:
    return span.state in LOGGED_IN and span.state != "paused"


def adherence(
    planned: Planned, spans: Sequence[StateSpan], *, now: datetime, grace: float = 60.0
) -> Adherence:
    """The shift's adherence by ``now`` (a shift not begun: nothing to say yet, all 0).
    ``spans``: that operator's states around the shift."""
    mine = sorted((s for s in spans if s.operator == planned.operator), key=lambda s: s.start)
    until = min(now, planned.end)
    logged = [s for s in mine if s.state in LOGGED_IN]
    first = next(
        (
            max(s.start, planned.start - LOOK_BEFORE)
            for s in logged
            if s.end > planned.start - LOOK_BEFORE and s.start < planned.end
        ),
        None,
    )
    seconds = max(0.0, (until - planned.start).total_seconds())
    if first is None or first >= until:
        absent = seconds > 0
        return Adherence(planned, absent, seconds if absent else 0.0, 0.0, 0.0, seconds)
    late = max(0.0, (first - planned.start).total_seconds())
    early = 0.0
    if now >= planned.end:
        last = max((min(s.end, planned.end) for s in logged if s.start < planned.end), default=None)
        if last is not None:
            early = max(0.0, (planned.end - last).total_seconds())
    # the time in the planned state: cut the shift at every boundary
    cuts = {planned.start, until}
    for _kind, start, end in planned.breaks:
        cuts.update((start, end))
    for s in mine:
        cuts.update((s.start, s.end))
    points = sorted(t for t in cuts if planned.start <= t <= until)
    good = 0.0
    for left, right in pairwise(points):
        if right <= left:
            continue
        on_break = any(start <= left < end for _k, start, end in planned.breaks)
        working = any(s.start <= left < s.end and _working(s) for s in mine)
        if working != on_break:
            good += (right - left).total_seconds()
    found: list[OffPlan] = []
    for s in mine:
        if s.state != "paused" or s.end <= planned.start or s.start >= until:
            continue
        start, end = max(s.start, planned.start), min(s.end, until)
        overlaps = [
            ((min(end, b_end) - max(start, b_start)).total_seconds(), b_start, b_end)
            for _k, b_start, b_end in planned.breaks
            if b_start < end and start < b_end
        ]
        length = (end - start).total_seconds()
        if not overlaps:
            found.append(OffPlan("unplanned", start, length))
            continue
        _share, b_start, b_end = max(overlaps)
        allowed = (b_end - b_start).total_seconds()
        if length > allowed + grace:
            found.append(OffPlan("longer", start, length, allowed))
    share = good / seconds if seconds else 0.0
    return Adherence(planned, False, late, early, share, seconds, found)
