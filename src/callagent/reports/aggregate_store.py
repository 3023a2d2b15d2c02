"""Interval aggregates, the IO part: build stored cells from the calls and the state
history, keep them up to date from the dirty queue, and say which hours are clean.

The cells cover ``[covered_from, horizon)`` (whole hours, UTC; see
:class:`~callagent.db.report_models.ReportAggregateState`). The horizon is never past
the start of the hour in progress: that hour is always read from the calls. Every write
that may change a figure leaves a row in ``report_dirty`` (database triggers); a drain
finds the hours each row affects, recounts them from the raw facts with the same code as
a report, replaces their cells and re-sums their days, and deletes the rows, in one
transaction per batch. Two processes may drain at once: on PostgreSQL an advisory lock
lets one in, on SQLite the first statement takes the single writer's lock.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, literal, select
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import Call, OperatorStateChange, UTCDateTime
from callagent.db.report_models import (
    LEVEL_DAY,
    LEVEL_HOUR,
    ReportAggregate,
    ReportAggregatePause,
    ReportAggregateState,
    ReportDirty,
)
from callagent.reports.aggregates import DAY, HOUR, CellKey, cells, floor
from callagent.reports.build import Tallies
from callagent.reports.facts import ENDED, LONGEST_WRAPUP
from callagent.reports.history import REPEAT_LOOKBACK
from callagent.reports.inputs import load_inputs
from callagent.reports.kpi import SUMMED, KpiOptions

log = logging.getLogger(__name__)

_CELLS = cast(Table, ReportAggregate.__table__)
_PAUSES = cast(Table, ReportAggregatePause.__table__)

_LOCK_KEY = 0x7E12A66  # the drain's PostgreSQL advisory lock (issue 12's aggregates)
_TIME_SUMS = ("logged_in_seconds", "paused_seconds", "busy_seconds")
_BATCH_ROWS = 500  # dirty rows per transaction
_BATCH_HOURS = 24 * 7  # hours built per transaction when the horizon moves on
# consecutive hours read and counted at once: a week's facts are read with one look-back
# for repeat callers and one read of the operators' states (per day, those reads were
# most of a rebuild's time), and fit in memory for a large centre (~100k calls)
HOURS_PER_RUN = 24 * 7
_READ_LIMIT = 2000  # more dirty rows than this: a report reads everything from the calls


@dataclass
class AggregateRun:
    """What a drain or rebuild did: hours recounted, dirty rows handled, seconds taken."""

    hours: int = 0
    dirty: int = 0
    seconds: float = 0.0
    covered_from: datetime | None = None
    horizon: datetime | None = None


def options_key(options: KpiOptions) -> dict[str, Any]:
    """The KPI options as stored with the cells (cells of other options do not apply)."""
    return asdict(options)


def state_of(session: Session) -> ReportAggregateState | None:
    """The aggregates' coverage row, if any."""
    return session.get(ReportAggregateState, 1)


def lock_state(session: Session, now: datetime) -> ReportAggregateState:
    """Take the drain's lock for this transaction and return the state row (made if
    missing); raises :class:`Busy` when another process holds the lock."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and not session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK_KEY))):
        raise Busy
    state = session.get(ReportAggregateState, 1, with_for_update=True)
    if state is None:
        state = ReportAggregateState(id=1, options={}, updated_at=now)
        session.add(state)
    # a write first: on SQLite it takes the writer's lock before anything is read, so no
    # writer can commit between what this transaction reads and what it stores
    state.updated_at = now
    session.flush()
    session.refresh(state)  # as the lock's holder sees it
    return state


class Busy(Exception):
    """Another process is draining."""


def _earliest(session: Session) -> datetime | None:
    """The first moment anything counted happened (ended inbound call or state change)."""
    firsts = [
        session.scalar(select(func.min(Call.started_at)).where(Call.direction == "inbound", ENDED)),
        session.scalar(select(func.min(OperatorStateChange.at))),
    ]
    found = [at for at in firsts if at is not None]
    return min(found) if found else None


def affected_hours(
    session: Session, rows: Iterable[ReportDirty], horizon: datetime | None
) -> set[datetime] | None:
    """The hours (UTC starts, before ``horizon``) whose cells these dirty rows may
    change; None when every hour may (an operator's login or phones changed). A few
    queries for all the rows, whatever their number."""
    if horizon is None:
        return set()
    hours: set[datetime] = set()
    calls: dict[str, list[datetime]] = defaultdict(list)  # caller: when they called
    states: dict[int, list[datetime]] = defaultdict(list)  # user id: changes' times
    for row in rows:
        if row.kind == "users":
            return None
        at = row.at
        # beyond the horizon: counted when the horizon gets there (but a change of state
        # may end the after-call work of a call before it)
        reach = at - LONGEST_WRAPUP if row.kind == "state" and at is not None else at
        if at is None or reach is None or reach >= horizon:
            continue
        hours.add(floor(at, HOUR))
        if row.kind == "call" and row.ref:
            calls[row.ref].append(at)
        elif row.kind == "state":
            states[int(row.ref)].append(at)
    if calls:
        hours |= _later_calls(session, calls)
    if states:
        hours |= _state_hours(session, states, horizon)
    return {hour for hour in hours if hour < horizon}


def _later_calls(session: Session, calls: dict[str, list[datetime]]) -> set[datetime]:
    """The hours of these callers' calls in the 7 days after each of the given times:
    whether they are repeats may have changed."""
    first = min(min(ats) for ats in calls.values())
    last = max(max(ats) for ats in calls.values())
    for ats in calls.values():
        ats.sort()
    found: set[datetime] = set()
    numbers = sorted(calls)
    for i in range(0, len(numbers), 500):
        for caller, started in session.execute(
            select(Call.caller_number, Call.started_at).where(
                Call.caller_number.in_(numbers[i : i + 500]),
                Call.direction == "inbound",
                ENDED,
                Call.started_at > first,
                Call.started_at <= last + REPEAT_LOOKBACK,
            )
        ):
            ats = calls[caller]
            # a changed call of this caller before it, at most 7 days before
            before = bisect.bisect_left(ats, started)
            if before and started - ats[before - 1] <= REPEAT_LOOKBACK:
                found.add(floor(started, HOUR))
    return found


def _state_hours(
    session: Session, states: dict[int, list[datetime]], horizon: datetime
) -> set[datetime]:
    """Changes of state: the hours from each up to that operator's next change (their
    state there), and the hours of the calls whose after-call work each may end."""
    first = min(min(ats) for ats in states.values()) - LONGEST_WRAPUP
    last = max(max(ats) for ats in states.values())
    users = sorted(states)
    h = OperatorStateChange
    known: dict[int, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for user, at, to, call in session.execute(
        select(h.user_id, h.at, h.to_state, h.call).where(
            h.user_id.in_(users), h.at >= first, h.at <= last
        )
    ):
        known[int(user)].append((at, str(to), call))
    after = dict(
        session.execute(  # each operator's first change after them all
            select(h.user_id, func.min(h.at))
            .where(h.user_id.in_(users), h.at > last)
            .group_by(h.user_id)
        ).all()
    )
    hours: set[datetime] = set()
    keys: set[str] = set()
    for user, ats in states.items():
        mine = sorted(known[user], key=lambda c: c[0])
        times = [c[0] for c in mine]
        for at in ats:
            i = bisect.bisect_right(times, at)
            following = times[i] if i < len(times) else after.get(user)
            hour, end = floor(at, HOUR), min(following or horizon, horizon)
            while hour < end:
                hours.add(hour)
                hour += HOUR
            keys |= {
                str(call)
                for when, to, call in mine[:i]
                if to == "wrap_up" and call and when >= at - LONGEST_WRAPUP
            }
    nodes = sorted({key.rpartition(":")[0] for key in keys})
    linkedids = sorted({key.rpartition(":")[2] for key in keys})
    for i in range(0, len(linkedids), 500):
        for node, linkedid, started in session.execute(
            select(Call.node, Call.linkedid, Call.started_at).where(  # (node, linkedid)'s index
                Call.node.in_(nodes), Call.linkedid.in_(linkedids[i : i + 500])
            )
        ):
            if f"{node}:{linkedid}" in keys:
                hours.add(floor(started, HOUR))
    return hours


def _runs(
    hours: Iterable[datetime], longest: int = HOURS_PER_RUN
) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive hours as ``[start, end)`` runs of at most ``longest`` hours."""
    start: datetime | None = None
    end: datetime | None = None
    for hour in sorted(set(hours)):
        if start is not None and end == hour and (hour - start) < HOUR * longest:
            end = hour + HOUR
            continue
        if start is not None and end is not None:
            yield start, end
        start, end = hour, hour + HOUR
    if start is not None and end is not None:
        yield start, end


CELL_COLUMNS = ("level", "dim", "start", "value", *SUMMED, "longest_wait_seconds", *_TIME_SUMS)
PAUSE_COLUMNS = ("level", "dim", "start", "value", "reason", "count", "seconds")
Row = tuple[Any, ...]


@dataclass
class Counted:
    """The cells of the hours ``[start, end)`` as rows of report_aggregates
    (:data:`CELL_COLUMNS`) and report_aggregate_pauses (:data:`PAUSE_COLUMNS`): plain
    tuples, cheap to send from a worker process and to write by COPY."""

    start: datetime
    end: datetime
    cells: list[Row]
    pauses: list[Row]


def _rows(key: CellKey, tallies: Tallies) -> tuple[Row, list[Row]]:
    """A cell as a report_aggregates row and its report_aggregate_pauses rows."""
    calls, time = tallies.calls, tallies.time
    where = (key.level, key.dim, key.start, key.value)
    row = (
        *where,
        *(getattr(calls, name) for name in SUMMED),
        calls.longest_wait_seconds,
        time.logged_in_seconds,
        time.paused_seconds,
        time.busy_seconds,
    )
    pauses = [(*where, reason, int(p["count"]), p["seconds"]) for reason, p in time.pauses.items()]
    return row, pauses


def count_run(
    session: Session, start: datetime, end: datetime, options: KpiOptions, now: datetime
) -> Counted:
    """Count the cells (15-minute and hour) of the whole hours ``[start, end)`` from the
    raw facts, with the same code as a report (:func:`~callagent.reports.aggregates.cells`)."""
    inputs = load_inputs(session, since=start, until=end, now=now, with_activity=False)
    counted = Counted(start, end, [], [])
    for key, tallies in cells(inputs, options).items():
        row, pauses = _rows(key, tallies)
        counted.cells.append(row)
        counted.pauses += pauses
    return counted


def store_run(session: Session, counted: Counted) -> set[datetime]:
    """Replace the stored 15-minute and hour cells of ``counted``'s hours with its rows;
    returns the days (UTC starts) it touches, whose day cells must be summed again."""
    for model in (ReportAggregate, ReportAggregatePause):
        session.execute(
            delete(model).where(
                model.level < LEVEL_DAY, model.start >= counted.start, model.start < counted.end
            )
        )
    for table, columns, rows in (
        (_CELLS, CELL_COLUMNS, counted.cells),
        (_PAUSES, PAUSE_COLUMNS, counted.pauses),
    ):
        if not rows:
            continue
        if session.get_bind().dialect.name == "postgresql":
            # COPY, in this transaction: a week of a large centre is ~27k cells, and
            # executemany sent a statement per row
            driver: Any = session.connection().connection.driver_connection
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:  # Core's executemany (the ORM's bulk insert costs more per row)
            session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
    days: set[datetime] = set()
    day = floor(counted.start, DAY)
    while day < counted.end:  # every day the run touches
        days.add(day)
        day += DAY
    return days


def build_hours(
    session: Session, hours: Iterable[datetime], options: KpiOptions, now: datetime
) -> int:
    """Recount these hours' cells (15-minute and hour) from the raw facts, replace the
    stored ones, and re-sum their days; returns how many hours."""
    count = 0
    days: set[datetime] = set()
    for start, end in _runs(hours):
        days |= store_run(session, count_run(session, start, end, options, now))
        count += int((end - start) / HOUR)
    for day in sorted(days):
        sum_day(session, day)
    return count


def sum_day(session: Session, day: datetime) -> None:
    """The day's cells as the sums of its hours' (the longest wait: their maximum)."""
    for table in (ReportAggregate, ReportAggregatePause):
        session.execute(delete(table).where(table.level == LEVEL_DAY, table.start == day))
    t = ReportAggregate
    session.execute(
        insert(t).from_select(
            ["level", "dim", "start", "value", *SUMMED, "longest_wait_seconds", *_TIME_SUMS],
            select(
                literal(LEVEL_DAY),
                t.dim,
                literal(day, UTCDateTime()),
                t.value,
                *(func.sum(getattr(t, name)) for name in SUMMED),
                func.max(t.longest_wait_seconds),
                *(func.sum(getattr(t, name)) for name in _TIME_SUMS),
            )
            .where(t.level == LEVEL_HOUR, t.start >= day, t.start < day + DAY)
            .group_by(t.dim, t.value),
        )
    )
    p = ReportAggregatePause
    session.execute(
        insert(p).from_select(
            ["level", "dim", "start", "value", "reason", "count", "seconds"],
            select(
                literal(LEVEL_DAY),
                p.dim,
                literal(day, UTCDateTime()),
                p.value,
                p.reason,
                func.sum(p.count),
                func.sum(p.seconds),
            )
            .where(p.level == LEVEL_HOUR, p.start >= day, p.start < day + DAY)
            .group_by(p.dim, p.value, p.reason),
        )
    )


def start_over(
    session: Session, state: ReportAggregateState, options: KpiOptions, target: datetime
) -> int:
    """Drop every cell and the queue as it is now, to count from the first record's day
    (built as the horizon moves on); returns the dirty rows dropped."""
    first = _earliest(session)
    state.covered_from = floor(first, DAY) if first else target
    state.horizon = state.covered_from
    state.options = options_key(options)
    for table in (ReportAggregate, ReportAggregatePause):
        session.execute(delete(table))
    return _forget_queue(session)


def _batch(
    session: Session, options: KpiOptions, now: datetime, *, full: bool = False
) -> tuple[int, int, bool]:
    """One transaction's work: (hours built, dirty rows handled, whether all is done)."""
    state = lock_state(session, now)
    target = floor(now, HOUR)
    wanted = options_key(options)
    handled = 0
    if full or state.covered_from is None or state.options != wanted:
        handled += start_over(session, state, options, target)
    assert state.covered_from is not None
    assert state.horizon is not None
    dirty = session.scalars(select(ReportDirty).order_by(ReportDirty.id).limit(_BATCH_ROWS)).all()
    hours = affected_hours(session, dirty, state.horizon)
    if hours is None:  # every operator key may have changed: recount everything
        state.horizon = state.covered_from
        handled += _forget_queue(session)
        dirty, hours = [], set()
    hours = {hour for hour in hours if hour >= state.covered_from}
    moved = min(target, state.horizon + HOUR * _BATCH_HOURS)
    hour = state.horizon
    while hour < moved:
        hours.add(hour)
        hour += HOUR
    built = build_hours(session, hours, options, now)
    if dirty:
        session.execute(delete(ReportDirty).where(ReportDirty.id.in_([d.id for d in dirty])))
    state.horizon = max(state.horizon, moved)
    handled += len(dirty)
    return built, handled, len(dirty) < _BATCH_ROWS and state.horizon >= target


def _forget_queue(session: Session) -> int:
    """Delete the queue as it is now: every hour is about to be recounted from facts
    that include what these rows say changed (they were committed before this
    transaction). Rows written from now on stay."""
    last = session.scalar(select(func.max(ReportDirty.id)))
    if last is None:
        return 0
    done = session.execute(delete(ReportDirty).where(ReportDirty.id <= last))
    return int(getattr(done, "rowcount", 0))


def drain(
    sessions: sessionmaker[Session],
    options: KpiOptions,
    *,
    now: datetime | None = None,
    rebuild: bool = False,
    jobs: int = 1,
) -> AggregateRun:
    """Bring the cells up to date: the dirty queue's hours and the hours since the
    horizon (all of them from the first record when ``rebuild`` or when there are no
    cells yet, or they were counted with other options). ``jobs`` > 1: the hours since
    the horizon are counted by that many worker processes
    (:mod:`~callagent.reports.aggregate_jobs`). Returns what it did; does nothing when
    another process is draining."""
    from callagent.reports.aggregate_jobs import catch_up, shareable

    began = time.perf_counter()
    run = AggregateRun()
    full = rebuild
    url = shareable(sessions) if jobs > 1 else None
    if url is not None:
        try:
            run.hours, run.dirty = catch_up(
                sessions, url, options, now or datetime.now(UTC), full=full, jobs=jobs
            )
        except Busy:
            run.seconds = time.perf_counter() - began
            return run
        full = False
    while True:
        moment = now or datetime.now(UTC)
        try:
            with sessions() as session, session.begin():
                built, handled, done = _batch(session, options, moment, full=full)
                state = state_of(session)
                if state is not None:
                    run.covered_from, run.horizon = state.covered_from, state.horizon
        except Busy:
            break
        full = False
        run.hours += built
        run.dirty += handled
        if done:
            break
    run.seconds = time.perf_counter() - began
    if run.hours:
        log.info("report aggregates: %d hours recounted in %.1f s", run.hours, run.seconds)
    return run


def rebuild_range(
    sessions: sessionmaker[Session],
    options: KpiOptions,
    *,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
) -> AggregateRun:
    """Recount the covered hours of ``[since, until)`` from the raw facts (a repair after
    a change the triggers cannot see); first brings the cells up to date."""
    run = drain(sessions, options, now=now)
    began = time.perf_counter()
    with sessions() as session, session.begin():
        try:
            state = lock_state(session, now or datetime.now(UTC))
        except Busy:
            return run
        if state.covered_from is None or state.horizon is None:
            return run
        hour = max(floor(since, HOUR), state.covered_from)
        end = min(until, state.horizon)
        hours = []
        while hour < end:
            hours.append(hour)
            hour += HOUR
        run.hours += build_hours(session, hours, options, now or datetime.now(UTC))
    run.seconds += time.perf_counter() - began
    return run


@dataclass(frozen=True)
class Coverage:
    """What a report may read from cells: ``[start, end)`` whole hours, but not
    ``dirty`` hours."""

    start: datetime
    end: datetime
    dirty: frozenset[datetime]


def coverage(session: Session, options: KpiOptions) -> Coverage | None:
    """The clean cells a report may use now, or None (no cells, other options, or too
    much pending)."""
    state = state_of(session)
    if state is None or state.covered_from is None or state.horizon is None:
        return None
    if state.options != options_key(options) or state.horizon <= state.covered_from:
        return None
    rows = session.scalars(select(ReportDirty).limit(_READ_LIMIT + 1)).all()
    if len(rows) > _READ_LIMIT:
        return None
    dirty = affected_hours(session, rows, state.horizon)
    if dirty is None:
        return None
    return Coverage(state.covered_from, state.horizon, frozenset(dirty))


async def keep_up(sessions: sessionmaker[Session], options: KpiOptions, every: float) -> None:
    """The service's task: drain the queue every ``every`` seconds (the first time soon
    after start, which also builds the cells of a database that has none)."""
    import asyncio

    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(drain, sessions, options)
        except Exception as exc:  # the database may be away for a while: next time
            log.warning("report aggregates not updated: %s", type(exc).__name__)
