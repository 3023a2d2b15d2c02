"""Catching the interval aggregates up over many weeks (a rebuild, or a database that
never had them) with several processes: workers count weeks of cells from the raw facts
(the Python part, most of the time), this process writes them in order, a week per
transaction, and moves the horizon as the drain does. The dirty queue is left to the
drain that follows (rows written meanwhile stay in it).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from itertools import islice

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from callagent.reports.aggregate_store import (
    HOURS_PER_RUN,
    Counted,
    count_run,
    lock_state,
    options_key,
    start_over,
    store_run,
    sum_day,
)
from callagent.reports.aggregates import HOUR, floor
from callagent.reports.kpi import KpiOptions

_worker_sessions: sessionmaker[Session] | None = None


def shareable(sessions: sessionmaker[Session]) -> str | None:
    """The database URL other processes can open, or None (an in-memory SQLite
    database is this process's alone)."""
    engine = sessions.kw.get("bind")
    if engine is None:
        return None
    url = make_url(engine.url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return str(url.render_as_string(hide_password=False))


def _open(url: str) -> None:
    """A worker's own engine (never one inherited from the parent: spawned, not forked)."""
    from callagent.db.session import make_engine, make_sessionmaker

    global _worker_sessions
    _worker_sessions = make_sessionmaker(make_engine(url, pool_size=1))


def _count(task: tuple[datetime, datetime, KpiOptions, datetime]) -> Counted:
    """A worker's job: one run of hours counted, read-only."""
    start, end, options, now = task
    assert _worker_sessions is not None
    with _worker_sessions() as session:
        return count_run(session, start, end, options, now)


def _weeks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    at = start
    while at < end:
        yield at, min(at + HOUR * HOURS_PER_RUN, end)
        at += HOUR * HOURS_PER_RUN


def catch_up(
    sessions: sessionmaker[Session],
    url: str,
    options: KpiOptions,
    now: datetime,
    *,
    full: bool,
    jobs: int,
) -> tuple[int, int]:
    """Count every hour from the horizon (from the first record's day when ``full``, or
    when the cells were counted with other options) up to the hour in progress, with
    ``jobs`` worker processes; returns (hours built, dirty rows dropped). Raises
    :class:`~callagent.reports.aggregate_store.Busy` if another process is draining;
    stops early if another changed the cells meanwhile."""
    target = floor(now, HOUR)
    with sessions() as session, session.begin():
        state = lock_state(session, now)
        dropped = 0
        if full or state.covered_from is None or state.options != options_key(options):
            dropped = start_over(session, state, options, target)
        assert state.horizon is not None
        horizon = state.horizon
    tasks = [(start, end, options, now) for start, end in _weeks(horizon, target)]
    if not tasks:
        return 0, dropped
    hours = 0
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        min(jobs, len(tasks)), mp_context=spawn, initializer=_open, initargs=(url,)
    ) as pool:
        # a few weeks ahead of the writer, not all of them: counted weeks wait in memory
        waiting: deque[Future[Counted]] = deque()
        ahead = iter(tasks)
        for task in islice(ahead, 2 * jobs):
            waiting.append(pool.submit(_count, task))
        while waiting:
            counted = waiting.popleft().result()  # in order: the horizon moves week by week
            for task in islice(ahead, 1):
                waiting.append(pool.submit(_count, task))
            with sessions() as session, session.begin():
                state = lock_state(session, now)
                if state.horizon != counted.start or state.options != options_key(options):
                    pool.shutdown(cancel_futures=True)  # another process rebuilt meanwhile
                    break
                for day in sorted(store_run(session, counted)):
                    sum_day(session, day)
                state.horizon = counted.end
            hours += int((counted.end - counted.start) / HOUR)
    return hours, dropped
