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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.reports.build import ReportInputs, Tallies
from callagent.reports.kpi import CallFact, KpiOptions, by_operator, tally
from callagent.reports.operator_time import BUSY, LOGGED_IN, OperatorTime, add_time, settle

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
    # aware subtraction is absolute whatever ``at``'s zone: no astimezone needed
    return _EPOCH + ((at - _EPOCH) // step) * step


def ceil(at: datetime, step: timedelta) -> datetime:
    """``at`` rounded up to a multiple of ``step`` (UTC)."""
    down = floor(at, step)
    return down if down == at else down + step


def aligned(at: datetime, step: timedelta) -> bool:
    """Whether ``at`` is a multiple of ``step``."""
    return floor(at, step) == at


_US = timedelta(microseconds=1)
_QUARTER_US = QUARTER // _US
_HOUR_US = HOUR // _US
_LEVEL_US = {level: step // _US for level, step in LEVELS.items()}


def _micros(at: datetime) -> int:
    """``at`` as whole microseconds since the epoch (exact: no float)."""
    return (at - _EPOCH) // _US


@dataclass
class _Time:
    """One cell's operators' time being added up (what :func:`operator_time` sums)."""

    logged_in: float = 0.0
    paused: float = 0.0
    busy: float = 0.0
    pauses: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, state: str, reason: str, seconds: float, began_here: bool) -> None:
        self.logged_in += seconds  # every span given here is a logged-in state
        if state in BUSY:
            self.busy += seconds
        elif state == "paused":
            self.paused += seconds
            pause = self.pauses.setdefault(reason or "other", {"count": 0, "seconds": 0.0})
            pause["seconds"] += seconds
            if began_here:
                pause["count"] += 1

    def figures(self) -> OperatorTime:
        figures = OperatorTime(self.logged_in, self.paused, self.busy, pauses=self.pauses)
        settle(figures)
        return figures


def cells(inputs: ReportInputs, options: KpiOptions) -> dict[CellKey, Tallies]:
    """The cells of ``inputs``, which must span whole hours: 15-minute cells (dim '') and
    hour cells (every dim). A cell with no call and no logged-in time is left out (an
    operator who was offline all along has no rows).

    The figures are those of :func:`~callagent.reports.build.group_tallies` over each
    cell (by interval for the '' cells, by operator, topic or number within each hour):
    calls where they were offered, an operator's time where it passed, a pause counted
    in the cell it began in. This does the same in one pass over the facts, cutting the
    states with integer arithmetic (a report's cutting made an object per piece, most
    of the cost of a year's rebuild)."""
    found: dict[CellKey, Tallies] = {}
    quarter_calls: dict[int, list[CallFact]] = defaultdict(list)
    hour_calls: dict[tuple[int, str, str], list[CallFact]] = defaultdict(list)
    for fact in inputs.calls:
        quarter = _micros(fact.offered_at) // _QUARTER_US
        quarter_calls[quarter].append(fact)
        hour = quarter // 4
        for one in by_operator(fact):
            hour_calls[(hour, "operator", one.operator)].append(one)
        hour_calls[(hour, "topic", fact.topic)].append(fact)
        hour_calls[(hour, "did", fact.did)].append(fact)
    quarter_time: dict[int, _Time] = defaultdict(_Time)
    hour_time: dict[tuple[int, str], _Time] = defaultdict(_Time)  # (hour, operator)
    since, until = _micros(inputs.since), _micros(inputs.until)
    for span in inputs.spans:
        if span.state not in LOGGED_IN:  # no figure of any group
            continue
        start, end = max(_micros(span.start), since), min(_micros(span.end), until)
        began = _micros(span.began)
        quarter = start // _QUARTER_US
        if (end - 1) // _QUARTER_US == quarter:  # within one quarter (most states): one piece
            seconds = (end - start) / 1_000_000
            quarter_time[quarter].add(span.state, span.reason, seconds, began >= start)
            hour_time[(quarter // 4, span.operator)].add(
                span.state, span.reason, seconds, began >= start
            )
            continue
        for quarter, seconds in _pieces(start, end, _QUARTER_US):
            quarter_time[quarter].add(
                span.state, span.reason, seconds, began // _QUARTER_US == quarter
            )
        for hour, seconds in _pieces(start, end, _HOUR_US):
            hour_time[(hour, span.operator)].add(
                span.state, span.reason, seconds, began // _HOUR_US == hour
            )
    hours: dict[int, Tallies] = {}
    for quarter in sorted(quarter_calls.keys() | quarter_time.keys()):
        counted = tally(quarter_calls.get(quarter, ()), options)
        time = quarter_time[quarter].figures() if quarter in quarter_time else OperatorTime()
        if counted.empty and time.logged_in_seconds == 0:
            continue
        found[CellKey(0, _at(quarter * _QUARTER_US), "", "")] = Tallies(counted, time)
        whole = hours.setdefault(quarter // 4, Tallies())  # an hour: the sum of its quarters
        whole.calls.add(counted)
        add_time(whole.time, time)
    for hour, tallies in hours.items():
        settle(tallies.time)
        found[CellKey(1, _at(hour * _HOUR_US), "", "")] = tallies
    for (hour, dim, value), facts in hour_calls.items():
        time = (
            hour_time.pop((hour, value)).figures()
            if dim == "operator" and (hour, value) in hour_time
            else OperatorTime()
        )
        found[CellKey(1, _at(hour * _HOUR_US), dim, value)] = Tallies(tally(facts, options), time)
    for (hour, operator), counted_time in hour_time.items():  # logged in, no call
        time = counted_time.figures()
        if time.logged_in_seconds:
            found[CellKey(1, _at(hour * _HOUR_US), "operator", operator)] = Tallies(time=time)
    return found


def _pieces(start: int, end: int, size: int) -> Iterator[tuple[int, float]]:
    """``[start, end)`` (microseconds) cut at multiples of ``size``: each piece's index
    (its start // size) and seconds, the float ``timedelta.total_seconds()`` gives."""
    at = start
    while at < end:
        index = at // size
        bound = min((index + 1) * size, end)
        yield index, (bound - at) / 1_000_000
        at = bound


def _at(micros: int) -> datetime:
    return _EPOCH + micros * _US


def cover(start: datetime, end: datetime, *, finest: int = 0) -> Iterator[tuple[int, datetime]]:
    """The cells (level, start) that tile ``[start, end)`` with the fewest rows: whole
    days, then hours, then 15-minute intervals (not finer than ``finest``'s step at the
    ends, which must then be aligned to it)."""
    # integer microseconds: a year by day asks for 8,760 cells, and timedelta division
    # per cell and level was most of such a report's time
    at, stop = _micros(start), _micros(end)
    while at < stop:
        for level in (2, 1, 0):
            step = _LEVEL_US[level]
            if level >= finest and at % step == 0 and at + step <= stop:
                yield level, _at(at)
                at += step
                break
        else:
            raise ValueError(f"{_at(at).isoformat()} is not on a {LEVELS[finest]} boundary")
