"""A report's tallies from the stored interval aggregates where they are clean, and from
the raw facts elsewhere: the period's ends that are not whole 15-minute intervals, the
hours not covered yet (the hour in progress among them), and the hours the dirty queue
says may have changed. The parts are disjoint stretches of time, so their tallies add
up to the raw report's (:mod:`callagent.reports.aggregates` says why).

Wrap-ups and notification attempts are not in the cells: they are always read raw.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.orm import Session

from callagent.db.report_models import ReportAggregate, ReportAggregatePause
from callagent.reports.aggregate_store import Coverage, coverage
from callagent.reports.aggregates import (
    DIMS,
    HOUR,
    LEVELS,
    QUARTER,
    aligned,
    ceil,
    cover,
    floor,
)
from callagent.reports.build import ReportInputs, Tallies, group_tallies
from callagent.reports.history import load_attempts, load_wrapups
from callagent.reports.inputs import load_inputs
from callagent.reports.kpi import SUMMED, CallTally, KpiOptions
from callagent.reports.operator_time import OperatorTime, add_time
from callagent.reports.periods import TIME_GROUPINGS, bucket_of, buckets

# the groupings cells can answer (campaigns are notification attempts: not in cells)
CELL_GROUPINGS = (None, *TIME_GROUPINGS, *DIMS)
_TIME_SUMS = ("logged_in_seconds", "paused_seconds", "busy_seconds")

Range = tuple[int, datetime, datetime]  # level, first cell's start, last cell's end


def add(into: Tallies, other: Tallies) -> None:
    """Add ``other``'s calls and time to ``into`` (disjoint stretches of time)."""
    into.calls.add(other.calls)
    add_time(into.time, other.time)
    into.order = into.order or other.order


def split(
    since: datetime, until: datetime, clean: Coverage, step: timedelta = QUARTER
) -> tuple[list[tuple[datetime, datetime]], list[tuple[datetime, datetime]]]:
    """``[since, until)`` as (stretches cells answer, stretches read raw): cells for the
    whole ``step`` intervals (15 minutes; an hour for the dims with no 15-minute cells)
    inside the coverage that no dirty hour touches."""
    start = max(ceil(since, step), clean.start)
    end = min(floor(until, step), clean.end)
    if start >= end:
        return [], [(since, until)]
    cells: list[tuple[datetime, datetime]] = []
    raw: list[tuple[datetime, datetime]] = [(since, start)] if since < start else []
    at = start
    for hour in sorted(h for h in clean.dirty if h + HOUR > start and h < end):
        lo, hi = max(hour, start), min(hour + HOUR, end)
        if at < lo:
            cells.append((at, lo))
        raw.append((max(at, lo), hi))
        at = hi
    if at < end:
        cells.append((at, end))
    if end < until:
        raw.append((end, until))
    return cells, _merged(raw)


def _merged(stretches: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    found: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(stretches):
        if hi <= lo:
            continue
        if found and found[-1][1] >= lo:
            found[-1] = (found[-1][0], max(found[-1][1], hi))
        else:
            found.append((lo, hi))
    return found


def ranges(tiles: Iterable[tuple[int, datetime]]) -> list[Range]:
    """Cells (level, start) as runs of consecutive cells of one level."""
    found: list[Range] = []
    for level, start in sorted(tiles, key=lambda t: t[1]):
        end = start + LEVELS[level]
        if found and found[-1][0] == level and found[-1][2] == start:
            found[-1] = (level, found[-1][1], end)
        else:
            found.append((level, start, end))
    return found


def _where(table: Any, runs: list[Range]) -> Any:
    """Cells of ``table`` (an ORM class or a table's columns) in ``runs``."""
    return or_(
        *(and_(table.level == level, table.start >= lo, table.start < hi) for level, lo, hi in runs)
    )


def _tally(row: Any) -> Tallies:
    """A row of cells' sums (a result row, or a dict of the same names) as tallies."""
    values = row if isinstance(row, dict) else row._mapping
    calls = CallTally(**{name: values[name] for name in (*SUMMED, "longest_wait_seconds")})
    time = OperatorTime(
        logged_in_seconds=float(values["logged_in_seconds"]),
        paused_seconds=float(values["paused_seconds"]),
        busy_seconds=float(values["busy_seconds"]),
    )
    return Tallies(calls, time)


def _summed(session: Session, dim: str, runs: list[Range]) -> dict[str, Tallies]:
    """The cells of ``dim`` in ``runs``, summed per value in the database."""
    if not runs:
        return {}
    t, p = ReportAggregate, ReportAggregatePause
    found: dict[str, Tallies] = {}
    for row in session.execute(
        select(
            t.value,
            *(func.sum(getattr(t, name)).label(name) for name in SUMMED),
            func.max(t.longest_wait_seconds).label("longest_wait_seconds"),
            *(func.sum(getattr(t, name)).label(name) for name in _TIME_SUMS),
        )
        .where(t.dim == dim, _where(t, runs))
        .group_by(t.value)
    ):
        found[row.value] = _tally(row)
    for value, reason, count, seconds in session.execute(
        select(p.value, p.reason, func.sum(p.count), func.sum(p.seconds))
        .where(p.dim == dim, _where(p, runs))
        .group_by(p.value, p.reason)
    ):
        found.setdefault(value, Tallies()).time.pauses[reason] = {
            "count": int(count),
            "seconds": float(seconds),
        }
    return found


_COLUMNS = ("start", *SUMMED, "longest_wait_seconds", *_TIME_SUMS)
_LONGEST = 1 + len(SUMMED)  # the longest wait's place in a row of _COLUMNS
_CELL_TABLE = cast(Table, ReportAggregate.__table__)
_PAUSE_TABLE = cast(Table, ReportAggregatePause.__table__)


@dataclass(frozen=True)
class TimeGroups:
    """The time groups a report's cells fall in: each group's first cell start (UTC,
    ascending) with its key and order. A cell belongs to the last group that starts at
    or before it (the groups are consecutive and every cell lies inside one)."""

    starts: list[datetime]
    keys: list[tuple[str, str]]  # (key, order)

    def of(self, start: datetime) -> tuple[str, str]:
        """The (key, order) of the group the cell starting at ``start`` is in."""
        return self.keys[bisect.bisect_right(self.starts, start) - 1]


def _by_time(session: Session, runs: list[Range], groups: TimeGroups) -> dict[str, Tallies]:
    """The '' cells of ``runs``, added up per time group. A year by day in a zone whose
    days are not UTC days is 8,760 hour cells: they are read as plain rows (Core, not
    the ORM's row processing), gathered per group and summed column by column (the
    longest wait a maximum), each group made tallies once."""
    if not runs:
        return {}
    t, p = _CELL_TABLE.c, _PAUSE_TABLE.c
    connection = session.connection()
    gathered: dict[str, list[Any]] = defaultdict(list)
    orders: dict[str, str] = {}
    rows = connection.execute(
        select(*(t[name] for name in _COLUMNS)).where(t.dim == "", _where(t, runs))
    ).all()  # fetched at once: row by row costs a driver call each
    for row in rows:
        key, order = groups.of(row[0])
        gathered[key].append(row)
        orders[key] = order
    found: dict[str, Tallies] = {}
    for key, mine in gathered.items():
        columns = list(zip(*mine, strict=True))
        sums: list[Any] = [None, *(sum(column) for column in columns[1:])]
        sums[_LONGEST] = max(columns[_LONGEST])
        found[key] = _tally(dict(zip(_COLUMNS, sums, strict=True)))
        found[key].order = orders[key]
    for start, reason, count, seconds in connection.execute(
        select(p.start, p.reason, p.count, p.seconds).where(p.dim == "", _where(p, runs))
    ):
        key, order = groups.of(start)
        pauses = found.setdefault(key, Tallies(order=order)).time.pauses
        one = pauses.setdefault(reason, {"count": 0, "seconds": 0.0})
        one["count"] += count
        one["seconds"] += seconds
    return found


def aggregated_tallies(
    session: Session,
    options: KpiOptions,
    *,
    since: datetime,
    until: datetime,
    by: str | None,
    zone: ZoneInfo,
    interval_minutes: int,
    now: datetime | None = None,
) -> tuple[Tallies, dict[str, Tallies]] | None:
    """The report's tallies (totals, groups) with the cells' help, or None when cells
    cannot answer it (no clean cells in the period, a grouping or time zone they do not
    fit): then read it raw."""
    if by not in CELL_GROUPINGS:
        return None
    clean = coverage(session, options)
    if clean is None:
        return None
    # operators', topics' and numbers' cells are hours: finer ends are read raw
    cells, raw = split(since, until, clean, HOUR if by in DIMS else QUARTER)
    if not cells:
        return None
    tiles: list[tuple[int, datetime]] = []
    in_group = TimeGroups([], [])  # each cell's time group: key, order
    for lo, hi in cells:
        if by in TIME_GROUPINGS:  # each cell inside one group: cover group by group
            for piece in buckets(lo, hi, by, zone, interval_minutes):
                if not (aligned(piece.start, QUARTER) and aligned(piece.end, QUARTER)):
                    return None  # a zone whose offset is not whole quarters of an hour
                whole = bucket_of(piece.start, by, zone, interval_minutes)
                tiles += cover(piece.start, piece.end)
                in_group.starts.append(piece.start.astimezone(UTC))
                in_group.keys.append((whole.key, whole.start.astimezone(UTC).isoformat()))
        else:
            tiles += cover(lo, hi)
    runs = ranges(tiles)
    total = _summed(session, "", runs).get("", Tallies())
    groups: dict[str, Tallies] = {}
    if by in TIME_GROUPINGS:
        groups = _by_time(session, runs, in_group)
    elif by is not None:
        groups = _summed(session, by, runs)
    for lo, hi in raw:
        inputs = load_inputs(session, since=lo, until=hi, now=now, with_activity=False)
        part, parts = group_tallies(
            inputs, options, by=by, zone=zone, interval_minutes=interval_minutes
        )
        add(total, part)
        for key, tallies in parts.items():
            add(groups.setdefault(key, Tallies()), tallies)
    # wrap-ups and notification attempts: from their tables, over the whole period
    done, done_groups = group_tallies(
        ReportInputs(
            since,
            until,
            [],
            wrapups=load_wrapups(session, since=since, until=until),
            attempts=load_attempts(session, since=since, until=until),
        ),
        options,
        by=by,
        zone=zone,
        interval_minutes=interval_minutes,
    )
    total.activity = done.activity
    for key, tallies in done_groups.items():
        mine = groups.setdefault(key, Tallies(order=tallies.order))
        mine.activity = tallies.activity
        mine.order = mine.order or tallies.order
    return total, groups
