"""Routing state shared by several instances on one PostgreSQL (issue #16).

The dialplan may ask ``route`` of any instance. What decides a call's turn lives in
the database instead of one router's memory:

- ``waiting_calls``: every waiting call, its priority and when it began to wait (by
  PostgreSQL's clock, so the instances' clocks never matter), the instance whose
  dialogue holds it and when that instance last vouched for it (``heard_at``: each
  instance renews its held calls every :data:`RENEW_SECONDS`; a call told ``wait`` is
  heard when it asks again). Every decision reads the list and applies the same rules
  as one instance does to its memory (``routing/waiting.py``): a newcomer on B does not
  take the operator an earlier call held on A is about to get. A dead instance's calls
  stop being vouched for and drop out after :data:`HELD_LEASE` seconds (their callers
  are in the fallback queue already: their FastAGI connection closed).
- ``routing_tried``: the operators each call was offered (``current``: the one ringing
  for it now), written in the claim's own transaction, forgotten with the call.
- Wake-ups: an operator made ready on any instance is announced with ``pg_notify`` on
  :data:`CHANNEL`; every instance LISTENs and asks again for the calls its own
  dialogues hold, first in line first (:class:`RoutingWake`).

The claim itself stays the conditional ``UPDATE`` of ``routing/operators.py``: no
operator is ever given two calls, whatever the instances decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text

from callagent.db.pg_notify import send_from_queue
from callagent.db.routing_models import RoutingTried, WaitingCall
from callagent.routing import waiting as rules
from callagent.routing.batching import GroupCommit

log = logging.getLogger(__name__)

CHANNEL = "callagent_routing"
RENEW_SECONDS = 1.0  # an instance vouches for the calls its dialogues hold this often
HELD_LEASE = 5.0  # ... and a held call nobody vouched for this long has left
RECONNECT_SECONDS = 1.0
_TABLES = (WaitingCall.__tablename__, RoutingTried.__tablename__)  # (the models: 0023)

# One round trip for the decisions asked together: the database's clock, the free
# operators (as OperatorBook.count_free counts them), who was tried for the calls, and
# the list.
_TURN = text(
    """
    SELECT extract(epoch FROM clock_timestamp())::float8 AS now,
      (SELECT count(*) FROM users
        WHERE active AND role = 'operator' AND state = 'ready'
          AND (skip_until IS NULL OR skip_until <= :now)) AS free,
      (SELECT json_agg(json_build_array(call, user_id)) FROM routing_tried
        WHERE call = ANY(CAST(:calls AS text[]))) AS tried,
      (SELECT json_agg(json_build_array(call, priority,
                 extract(epoch FROM entered_at)::float8,
                 extract(epoch FROM heard_at)::float8, held))
         FROM waiting_calls) AS rows
    """
)
_TOUCH = text(
    """
    UPDATE waiting_calls SET heard_at = clock_timestamp(), priority = greatest(priority, u.p)
      FROM unnest(CAST(:calls AS text[]), CAST(:priorities AS int[])) AS u(c, p)
     WHERE call = u.c
    """
)
_ENTER = text(
    """
    WITH new AS (
      INSERT INTO waiting_calls (call, topic, priority, entered_at, instance, heard_at, held)
      VALUES (:call, :topic, :priority, to_timestamp(:since), :instance, clock_timestamp(), false)
      ON CONFLICT (call) DO NOTHING
      RETURNING entered_at)
    SELECT extract(epoch FROM entered_at)::float8 FROM new
    UNION ALL
    SELECT extract(epoch FROM entered_at)::float8 FROM waiting_calls WHERE call = :call
    LIMIT 1
    """
)
# The held calls of an instance, vouched for (and put back, with their place, if an
# instance thought to have died took them off meanwhile).
_RENEW = text(
    """
    INSERT INTO waiting_calls (call, topic, priority, entered_at, instance, heard_at, held)
    SELECT c, t, p, to_timestamp(s), :instance, clock_timestamp(), true
      FROM unnest(CAST(:calls AS text[]), CAST(:topics AS text[]), CAST(:priorities AS int[]),
                  CAST(:since AS float8[])) AS u(c, t, p, s)
    ON CONFLICT (call) DO UPDATE
      SET heard_at = clock_timestamp(), held = true, instance = excluded.instance
    """
)
_LEAVE = text("DELETE FROM waiting_calls WHERE call = ANY(CAST(:calls AS text[]))")
_FORGET_TRIED = text("DELETE FROM routing_tried WHERE call = ANY(CAST(:calls AS text[]))")
_MOVE_ON = text("UPDATE routing_tried SET current = false WHERE call = :call AND current")
# In the claim's transaction: who each call is offered to now, and off the waiting list.
_CLAIMED = text(
    """
    WITH won(call, user_id) AS (
        SELECT * FROM unnest(CAST(:calls AS text[]), CAST(:users AS int[]))),
      earlier AS (
        UPDATE routing_tried t SET current = false FROM won
         WHERE t.call = won.call AND t.user_id <> won.user_id AND t.current),
      served AS (DELETE FROM waiting_calls w USING won WHERE w.call = won.call)
    INSERT INTO routing_tried (call, user_id, current, at)
    SELECT call, user_id, true, clock_timestamp() FROM won
    ON CONFLICT (call, user_id) DO UPDATE SET current = true, at = excluded.at
    """
)
_PASSED_OVER = text("SELECT current FROM routing_tried WHERE call = :call AND user_id = :user")
_ROWS = text(
    """
    SELECT extract(epoch FROM clock_timestamp())::float8 AS now,
      (SELECT json_agg(json_build_array(call, priority,
                 extract(epoch FROM entered_at)::float8,
                 extract(epoch FROM heard_at)::float8, held))
         FROM waiting_calls) AS rows
    """
)
_TRIED_CALLS = text("SELECT count(DISTINCT call) FROM routing_tried")
# The calls tried longest ago (not waiting) beyond ``keep``: as the router's memory does.
_TRIM_TRIED = text(
    """
    DELETE FROM routing_tried WHERE call IN (
      SELECT call FROM routing_tried GROUP BY call ORDER BY max(at) DESC OFFSET :keep)
      AND call NOT IN (SELECT call FROM waiting_calls)
    """
)
_KEPT = text("SELECT call FROM waiting_calls UNION SELECT call FROM routing_tried")


@dataclass(frozen=True)
class Row:
    """A ``waiting_calls`` row as the rules see it (times: PostgreSQL's, in seconds)."""

    call: str
    priority: int
    since: float
    heard: float
    is_held: bool


@dataclass(frozen=True)
class Turn:
    """What one decision read: the list (calls still asking), the free operators, who
    was tried for the call, and where the call stands."""

    now: float
    free: int
    tried: frozenset[int]
    rows: tuple[Row, ...]
    listed: Row | None
    ahead: int
    asked: float  # its place if it waits now: the order the decisions asked in

    @property
    def first(self) -> bool:
        """Never asked before (neither waiting nor offered to anyone)."""
        return self.listed is None and not self.tried


def _rows(raw: Any) -> list[Row]:
    return [Row(str(c), int(p), float(s), float(h), bool(held)) for c, p, s, h, held in raw or ()]


class SharedCalls:
    """The waiting list and the tried operators in the database, for one instance.

    Synchronous (worker threads); the router calls it with ``asyncio.to_thread``.
    """

    def __init__(
        self,
        engine: Engine,
        instance: str,
        *,
        silence: float = 30.0,
        held_lease: float = HELD_LEASE,
        tried_memory: int = 10_000,
    ) -> None:
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.instance = instance
        self.silence = silence
        self.held_lease = held_lease
        self.tried_memory = tried_memory
        self.expired = 0  # rows dropped: stopped asking, or their instance stopped vouching

    def _asking(self, rows: Sequence[Row], now: float) -> list[Row]:
        return [
            r
            for r in rows
            if rules.asking(r, now, silence=self.silence, held_lease=self.held_lease)
        ]

    def turn(self, call: str, priority: int) -> Turn:
        """Read the call's turn; a call already waiting is heard (and keeps the higher
        priority it asks with)."""
        return self.turns([(call, priority)])[0]

    def turns(self, asks: Sequence[tuple[str, int]]) -> list[Turn]:
        """:meth:`turn` of several calls (call, priority) in one round trip."""
        calls = [call for call, _ in asks]
        # each statement its own transaction: no BEGIN and COMMIT round trips (one read;
        # the heard calls' one UPDATE)
        with self._autocommit.connect() as conn:
            now, free, tried_raw, raw = conn.execute(
                _TURN, {"calls": calls, "now": datetime.now(UTC)}
            ).one()
            rows = self._asking(_rows(raw), now)
            by_call = {r.call: r for r in rows}
            heard = [(call, priority) for call, priority in asks if call in by_call]
            if heard:
                conn.execute(
                    _TOUCH,
                    {"calls": [c for c, _ in heard], "priorities": [p for _, p in heard]},
                )
        tried: dict[str, set[int]] = {}
        for call, user_id in tried_raw or ():
            tried.setdefault(str(call), set()).add(int(user_id))
        turns = []
        for n, (call, priority) in enumerate(asks):
            asked = now + n * 1e-6  # those asking together keep their order
            listed = by_call.get(call)
            if listed is None:
                key = rules.rank_key(priority, asked)
            else:
                if priority > listed.priority:
                    listed = Row(call, priority, listed.since, now, listed.is_held)
                key = rules.rank_key(listed.priority, listed.since)
            ahead = rules.count_ahead(
                rows, call, key, now, silence=self.silence, held_lease=self.held_lease
            )
            mine = frozenset(tried.get(call, ()))
            turns.append(Turn(now, int(free), mine, tuple(rows), listed, ahead, asked))
        return turns

    def enter(self, call: str, topic: str | None, priority: int, since: float) -> float:
        """Put the call on the list at ``since`` (when it asked; kept as it is if there
        already); when it began to wait."""
        with self.engine.begin() as conn:
            since = conn.execute(
                _ENTER,
                {
                    "call": call,
                    "topic": topic,
                    "priority": priority,
                    "instance": self.instance,
                    "since": since,
                },
            ).scalar_one()
        return float(since)

    def renew(self, held: Sequence[tuple[str, str | None, int, float]]) -> None:
        """Vouch for the calls this instance's dialogues hold: (call, topic, priority, since)."""
        if not held:
            return
        with self.engine.begin() as conn:
            conn.execute(
                _RENEW,
                {
                    "instance": self.instance,
                    "calls": [h[0] for h in held],
                    "topics": [h[1] for h in held],
                    "priorities": [h[2] for h in held],
                    "since": [h[3] for h in held],
                },
            )

    def leave(self, calls: Sequence[str]) -> None:
        """Off the list (served elsewhere, overflowed, hung up)."""
        if calls:
            with self.engine.begin() as conn:
                conn.execute(_LEAVE, {"calls": list(calls)})

    def forget(self, calls: Sequence[str]) -> None:
        """The calls ended: off the list, and who was tried for them forgotten."""
        if calls:
            with self.engine.begin() as conn:
                conn.execute(_LEAVE, {"calls": list(calls)})
                conn.execute(_FORGET_TRIED, {"calls": list(calls)})

    def move_on(self, call: str) -> None:
        """The operator offered the call did not take it: nobody is offered it now."""
        with self.engine.begin() as conn:
            conn.execute(_MOVE_ON, {"call": call})

    @staticmethod
    def claimed(conn: Connection, won: Sequence[tuple[str, int]]) -> None:
        """In the claim's transaction: each call offered to its operator now, off the list."""
        if won:
            conn.execute(_CLAIMED, {"calls": [c for c, _ in won], "users": [u for _, u in won]})

    def passed_over(self, call: str, user_id: int) -> bool:
        """``call`` was offered to this operator and route has moved on since."""
        with self.engine.connect() as conn:
            current = conn.execute(_PASSED_OVER, {"call": call, "user": user_id}).scalar()
        return current is False

    def expire(self, tried_memory: int | None = None) -> tuple[int, float]:
        """Drop the calls that stopped asking or whose instance stopped vouching for
        them, and the tried operators of the oldest calls beyond ``tried_memory``; how
        many calls were dropped, and in how many seconds the next one is due."""
        memory = self.tried_memory if tried_memory is None else tried_memory
        with self.engine.begin() as conn:
            now, raw = conn.execute(_ROWS).one()
            gone = rules.silent(_rows(raw), now, silence=self.silence, held_lease=self.held_lease)
            if gone:
                conn.execute(_LEAVE, {"calls": gone})
            if int(conn.execute(_TRIED_CALLS).scalar_one()) > memory:
                conn.execute(_TRIM_TRIED, {"keep": memory})
        if gone:
            self.expired += len(gone)
            log.info("%d waiting call(s) no longer asked for: off the shared list", len(gone))
        due = [
            r.heard + (self.held_lease if r.is_held else self.silence) - now
            for r in _rows(raw)
            if r.call not in gone
        ]
        return len(gone), max(0.0, min(due, default=math.inf))

    def waiting_now(self) -> list[tuple[Row, float]]:
        """The calls waiting now, first in line first, with how long each has waited."""
        with self.engine.connect() as conn:
            now, raw = conn.execute(_ROWS).one()
        rows = self._asking(_rows(raw), now)
        return [(r, now - r.since) for r in rules.ordered(rows)]  # type: ignore[misc]

    def kept(self) -> set[str]:
        """Every call the shared state knows (tests: nothing kept for ever)."""
        with self.engine.connect() as conn:
            return set(conn.execute(_KEPT).scalars())


class TurnBatcher(GroupCommit[tuple[str, int], Turn]):
    """The decisions asking together read their turns in one round trip (as claims are
    batched: at low load one call, under load many)."""

    def __init__(self, shared: SharedCalls, *, max_batch: int = 64) -> None:
        super().__init__(shared.turns, max_batch=max_batch)

    async def turn(self, call: str, priority: int) -> Turn:
        """``call``'s turn in the shared waiting list (asking with ``priority``)."""
        return await self.ask((call, priority))


class RoutingWake:
    """Wakes the held calls of every instance: NOTIFY out, LISTEN in.

    ``send`` is safe from any thread (the operator book tells the router after a commit
    in the thread that committed); ``on_wake(kind)`` is called for what the other
    instances sent (``ready``: an operator became ready; ``left``: a waiting call left
    without an operator, those behind it may be served).
    """

    def __init__(self, dsn: str, on_wake: Callable[[str], None]) -> None:
        self.dsn = dsn
        self.on_wake = on_wake
        self.origin = uuid.uuid4().hex[:12]
        self.sent = 0
        self.received = 0
        self.listening = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start sending and listening (in the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._listen_loop()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def send(self, kind: str) -> None:
        """Tell the other instances (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._put, kind)

    def _put(self, kind: str) -> None:
        payload = f"{kind} {self.origin}"
        with contextlib.suppress(asyncio.QueueFull):  # the database is away: rechecks cover it
            self._outbox.put_nowait(payload)

    async def _send_loop(self) -> None:
        await send_from_queue(
            self.dsn,
            CHANNEL,
            self._outbox,
            what="routing wake-ups",
            on_sent=self._count_sent,
            reconnect_seconds=RECONNECT_SECONDS,
        )

    def _count_sent(self) -> None:
        self.sent += 1

    async def _listen_loop(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    # Missed wake-ups while not listening: the held calls' recheck covers.
                    self.on_wake("ready")
                    async for notify in conn.notifies():
                        kind, _, origin = notify.payload.partition(" ")
                        if origin != self.origin:
                            self.received += 1
                            self.on_wake(kind)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("routing wake-ups from other instances: %s", type(exc).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)
