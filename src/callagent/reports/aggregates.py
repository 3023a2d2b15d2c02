"""Interval aggregates, the pure part: what a stretch of calls and states adds to each
stored cell, and which stored cells cover a stretch of time.

A cell is (level, start, dim, value): a 15-minute interval (level 0), an hour (1) or a
day (2) **in UTC** (a daylight-saving change never splits one; the centre's zone is
applied when the cells are grouped, and every local bucket of a zone whose offsets are
whole quarters of an hour is a union of cells), for everything (dim ''), or one
operator, topic or dialled number. 15-minute cells exist for dim '' only (the interval
reports need no more, and an operator's quarter-hours would be most of the rows).

A cell holds the additive figures (:class:`~callagent.reports.kpi.CallTally` and the
operators' seconds and pauses), counted by the same code as a report read from the
calls (:func:`~callagent.reports.build.group_tallies`), so the sums of cells are the
report's figures. The longest wait is stored as a maximum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.reports.build import ReportInputs, Tallies, group_tallies
from callagent.reports.kpi import CallFact, KpiOptions
from callagent.reports.operator_time import LOGGED_IN, StateSpan, add_time

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LEVELS = {0: QUARTER, 1: HOUR, 2: DAY}
DIMS = ("operator", "topic", "did")  # besides '' (everything)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class CellKey:
    """Where a cell's figures belong."""

    level: int
    start: datetime  # UTC
    dim: str
    value: str


def floor(at: datetime, step: timedelta) -> datetime:
    """``at`` rounded down to a multiple of ``step`` (UTC)."""
    return _EPOCH + ((at.astimezone(UTC) - _EPOCH) // step) * step


def ceil(at: datetime, step: timedelta) -> datetime:
    """``at`` rounded up to a multiple of ``step`` (UTC)."""
    down = floor(at, step)
    return down if down == at else down + step


def aligned(at: datetime, step: timedelta) -> bool:
    """Whether ``at`` is a multiple of ``step``."""
    return floor(at, step) == at


def cells(inputs: ReportInputs, options: KpiOptions) -> dict[CellKey, Tallies]:
    """The cells of ``inputs``, which must span whole hours: 15-minute cells (dim '') and
    hour cells (every dim). A cell with no call and no logged-in time is left out (an
    operator who was offline all along has no rows)."""
    found: dict[CellKey, Tallies] = {}
    # the quarters, in one pass; an hour's '' cell is the sum of its quarters
    _, quarters = group_tallies(inputs, options, by="interval", zone=_UTC, interval_minutes=15)
    for key, tallies in quarters.items():
        if tallies.calls.empty and tallies.time.logged_in_seconds == 0:
            continue
        start = datetime.fromisoformat(key).astimezone(UTC)
        found[CellKey(0, start, "", "")] = tallies
        whole = found.setdefault(CellKey(1, floor(start, HOUR), "", ""), Tallies())
        whole.calls.add(tallies.calls)
        add_time(whole.time, tallies.time)
    calls: dict[datetime, list[CallFact]] = defaultdict(list)
    for fact in inputs.calls:
        calls[floor(fact.offered_at, HOUR)].append(fact)
    spans: dict[datetime, list[StateSpan]] = defaultdict(list)
    for span in inputs.spans:
        if span.state not in LOGGED_IN:  # no figure of any operator's group
            continue
        at = floor(span.start, HOUR)
        while at < span.end:
            spans[at].append(span)
            at += HOUR
    for hour in sorted(calls.keys() | spans.keys()):
        one = ReportInputs(hour, hour + HOUR, calls[hour], spans[hour])
        for dim in DIMS:
            _, groups = group_tallies(one, options, by=dim, zone=_UTC)
            for value, tallies in groups.items():
                if tallies.calls.empty and tallies.time.logged_in_seconds == 0:
                    continue
                found[CellKey(1, hour, dim, value)] = tallies
    return found


def cover(start: datetime, end: datetime, *, finest: int = 0) -> Iterator[tuple[int, datetime]]:
    """The cells (level, start) that tile ``[start, end)`` with the fewest rows: whole
    days, then hours, then 15-minute intervals (not finer than ``finest``'s step at the
    ends, which must then be aligned to it)."""
    at = start
    while at < end:
        for level in (2, 1, 0):
            step = LEVELS[level]
            if level >= finest and aligned(at, step) and at + step <= end:
                yield level, at
                at += step
                break
        else:
            raise ValueError(f"{at.isoformat()} is not on a {LEVELS[finest]} boundary")
