"""A year of a large centre's calls and operators' state history, written in bulk for
the report aggregates' benchmark (issue #12).

Per day each of OPERATORS operators logs in, takes a lunch pause and logs out; the
inbound calls (85 % answered, 12 % abandoned, 3 % failed) arrive over 12 opening hours,
and each answered call leaves on_call, wrap_up (for that call) and ready in its
operator's history. Rows are made as plain tuples and written the fastest way each
engine has: ``COPY ... FROM STDIN`` on PostgreSQL, ``executemany`` in transactions of a
few days on SQLite (5 M records with SQLAlchemy's executemany took about 2 h on
PostgreSQL). The database triggers fill the aggregates' dirty queue as in production,
unless ``queue`` is False (PostgreSQL: the generator disables the two triggers while it
writes; a ``--rebuild`` that follows recounts everything and empties the queue anyway).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.reports.periods import local_midnight

ZONE = "Europe/Moscow"
TOPICS = ("passport", "snils", "tax", "pension", "other")
DIDS = ("5000", "5001", "5002", "7000")
DAYS_PER_WRITE = 7  # days of rows per transaction (a week of 5 M/year: ~100k calls)

CALL_COLUMNS = (
    "node",
    "linkedid",
    "direction",
    "caller_number",
    "caller_name",
    "dialled_number",
    "applicant_number",
    "started_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "operator_endpoint",
    "disposition",
    "hangup_cause_text",
    "queue_name",
    "recording_file",
    "final",
    "partial",
    "closed_by_resync",
    "reconstructed",
    "variables",
    "transfers",
    "originate",
    "timeline",
    "updated_at",
)
STATE_COLUMNS = ("user_id", "at", "from_state", "to_state", "reason", "cause", "call")
_TRIGGERS = (("calls", "report_dirty_call"), ("operator_state_history", "report_dirty_state"))

Row = tuple[Any, ...]


def days_up_to(last: date, count: int) -> list[date]:
    """The ``count`` days ending with ``last``."""
    return [last - timedelta(days=count - 1 - n) for n in range(count)]


def _rows(
    ids: list[int], records: int, days: list[date], seed: int
) -> Iterator[tuple[list[Row], list[Row]]]:
    """Calls and state changes, DAYS_PER_WRITE days at a time (times aware, UTC)."""
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    per_day = records // len(days)
    callers = [f"+7900{n:07d}" for n in range(records // 3 + 1)]  # a third call again
    # the JSON columns' texts: a few distinct values
    topics = {topic: json.dumps({"CALLAGENT_TOPIC": topic}) for topic in TOPICS}
    calls: list[Row] = []
    states: list[Row] = []
    n = 0
    for index, day in enumerate(days, 1):
        open_at = local_midnight(day, zone).astimezone(UTC) + timedelta(hours=8)
        for user in ids:  # a shift: in, lunch, out
            shift = open_at + timedelta(minutes=rng.uniform(-30, 30), microseconds=user)
            states.append((user, shift, "", "ready", "", "api", None))
            states.append((user, shift + timedelta(hours=4), "", "paused", "lunch", "api", None))
            states.append(
                (user, shift + timedelta(hours=4, minutes=30), "", "ready", "", "api", None)
            )
            states.append((user, shift + timedelta(hours=12), "", "offline", "", "api", None))
        for _ in range(per_day):
            n += 1
            started = open_at + timedelta(seconds=rng.uniform(0, 12 * 3600))
            wait = rng.expovariate(1 / 25)
            roll = rng.random()
            disposition = "answered" if roll < 0.85 else "abandoned" if roll < 0.97 else "failed"
            user = rng.randrange(len(ids))
            answered = started + timedelta(seconds=wait) if disposition == "answered" else None
            talk = rng.uniform(30, 600) if answered else None
            ended = (answered or started) + timedelta(seconds=talk or wait)
            linkedid = f"{n}.0"
            calls.append(
                (
                    "pbx1",
                    linkedid,
                    "inbound",
                    rng.choice(callers),
                    "",
                    rng.choice(DIDS),
                    "",
                    started,
                    answered,
                    ended,
                    wait,
                    talk,
                    0.0,
                    f"PJSIP/op{user:03d}" if answered else None,
                    disposition,
                    "",
                    "",
                    "",
                    True,
                    False,
                    False,
                    False,
                    topics[rng.choice(TOPICS)],
                    "[]",
                    "{}",
                    "[]",
                    ended,
                )
            )
            if answered:
                uid = ids[user]
                states.append((uid, answered, "", "on_call", "", "api", None))
                states.append((uid, ended, "", "wrap_up", "", "api", f"pbx1:{linkedid}"))
                after = ended + timedelta(seconds=rng.uniform(5, 90))
                states.append((uid, after, "", "ready", "", "api", None))
        if index % DAYS_PER_WRITE == 0 or index == len(days):
            yield calls, states
            calls, states = [], []


def generate(
    sessions: sessionmaker[Session],
    records: int,
    operators: int,
    last: date,
    *,
    seed: int = 12,
    days_back: int = 365,
    queue: bool = True,
) -> tuple[int, int]:
    """Write the operators, and ``records`` calls over the ``days_back`` days up to
    ``last`` with their state history: returns (calls, state changes)."""
    with sessions.begin() as db:
        ids = [
            create_user(
                db,
                login=f"op{n:03d}",
                role=Role.OPERATOR,
                password=None,
                endpoints=[f"PJSIP/op{n:03d}"],
            ).id
            for n in range(operators)
        ]
    engine = sessions.kw["bind"]
    rows = _rows(ids, records, days_up_to(last, days_back), seed)
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            return _copy(raw.driver_connection, rows, queue)
        return _executemany(raw.driver_connection, rows)
    finally:
        raw.close()


def _copy(
    connection: Any, rows: Iterator[tuple[list[Row], list[Row]]], queue: bool
) -> tuple[int, int]:
    """PostgreSQL: each chunk by COPY, one transaction each (psycopg 3)."""
    counted = [0, 0]
    with connection.cursor() as cursor:
        if not queue:
            for table, trigger in _TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            connection.commit()
        try:
            for calls, states in rows:
                for table, columns, chunk, at in (
                    ("calls", CALL_COLUMNS, calls, 0),
                    ("operator_state_history", STATE_COLUMNS, states, 1),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
                    counted[at] += len(chunk)
                connection.commit()
        finally:
            if not queue:
                connection.rollback()
                for table, trigger in _TRIGGERS:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
                connection.commit()
    return counted[0], counted[1]


def _sqlite_time(at: datetime | None) -> str | None:
    """As SQLAlchemy's DateTime stores it in SQLite (naive UTC, always microseconds)."""
    if at is None:
        return None
    return f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond:06d}"


def _executemany(connection: Any, rows: Iterator[tuple[list[Row], list[Row]]]) -> tuple[int, int]:
    """SQLite: each chunk by the driver's executemany, one transaction each."""
    counted = [0, 0]
    times = {CALL_COLUMNS.index(name) for name in ("started_at", "answered_at", "ended_at")}
    times.add(CALL_COLUMNS.index("updated_at"))
    for calls, states in rows:
        call_rows = [
            tuple(_sqlite_time(v) if i in times else v for i, v in enumerate(row)) for row in calls
        ]
        state_rows = [(u, _sqlite_time(at), *rest) for u, at, *rest in states]
        for table, columns, chunk in (
            ("calls", CALL_COLUMNS, call_rows),
            ("operator_state_history", STATE_COLUMNS, state_rows),
        ):
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", chunk
            )
        connection.commit()
        counted[0] += len(calls)
        counted[1] += len(states)
    return counted[0], counted[1]
