"""The FastAGI scripts: ``route`` (which operator takes this call) and feature codes.

``route`` answers through channel variables the dialplan reads
(``dialplan/extensions.conf``): ``CALLAGENT_OPERATOR`` (the dial string),
``CALLAGENT_OPERATOR_ID``, ``CALLAGENT_CALL_ID``, ``CALLAGENT_DIAL_TIMEOUT`` and
``CALLAGENT_STATUS`` (``ok``, ``wait`` with ``CALLAGENT_QUEUE_POSITION``, or
``overflow`` after the longest wait).

A dialplan that asks to be held (a sixth argument, ``hold``) never hears ``wait``:
while nobody is free the dialogue stays open with music on hold (``SET MUSIC ON``)
and answers the moment an operator is claimed for the call. The operator book
tells the router after every commit that made an operator ready; the calls held
are served first in line first, by one task (the dispatcher).

A call told ``wait`` asks again every ~10 s (the dialplan's ``MusicOnHold(default,10)``);
one that has not asked for ``silence`` seconds has left (its channel never reached
the PBX, or its hang-up never reached callagent) and leaves the list, as does one
whose call the tracker saw end (``forget``). The list holds at most ``max_waiting``
calls: beyond it a new call is answered ``overflow`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from callagent.routing import waiting as rules
from callagent.routing.agi import AgiHangup, AgiProtocolError, AgiSession, Script
from callagent.routing.claims import ClaimBatcher
from callagent.routing.node_of import NodeNames
from callagent.routing.operators import ClaimRequest, OperatorBook
from callagent.routing.shared import (
    RENEW_SECONDS,
    RoutingWake,
    Row,
    SharedCalls,
    Turn,
    TurnBatcher,
)
from callagent.routing.states import PAUSE_REASONS, Signal
from callagent.tracker.tracker import endpoint_of

log = logging.getLogger(__name__)
_NOT_ANSWERED = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})
_FULL_LOG_INTERVAL = 60.0  # one WARNING a minute while the waiting list stays full
# Calls remembered for who was tried (passed_over): forgotten when the PBX ends them, but a
# call whose channel never reached AMI has no end; this many newer calls push it out.
_TRIED_MEMORY = 10_000
_EXPIRE_EVERY = 1.0  # route drops silent calls at most this often (a scan of the list)
_MUSIC_CLASS = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_OVERFLOW = {"CALLAGENT_STATUS": "overflow"}
# The database cannot be reached (an outage, or it does not answer within
# _DECIDE_DEADLINE s): no operator, and a status the shipped dialplan sends to the
# fallback queue at once (README, Several instances), instead of silence or a dialogue
# closed with nothing said (which would make it ask the other instances first).
_UNAVAILABLE = {"CALLAGENT_STATUS": "unavailable"}
_DECIDE_DEADLINE = 3.0
_UNAVAILABLE_LOG_INTERVAL = 10.0
_QUICK_RECHECK, _QUICK_RECHECKS = 0.1, 4  # after an operator became ready


@dataclass
class Held:
    """A call whose FastAGI dialogue holds the caller: how to ask again, where to answer."""

    linkedid: str
    topic: str | None
    caller: str
    priority: int
    answer: asyncio.Future[dict[str, str]]
    node: str = ""  # the PBX node the call is on ("": the router's default)


@dataclass
class Waiting:
    """A call the router told to wait."""

    call: str
    since: float  # its place in line (shared: PostgreSQL's clock)
    priority: int = 0  # CALLAGENT_PRIORITY: callbacks jump ahead
    last_ask: float = 0.0
    tried: set[int] = field(default_factory=set)
    held: Held | None = None  # the dialogue waits on the line (not asking again)
    started: float | None = None  # monotonic, for CALLAGENT_MAX_WAIT (None: ``since``)
    topic: str | None = None

    def rank_key(self) -> tuple[int, float]:
        return rules.rank_key(self.priority, self.since)

    @property
    def heard(self) -> float:
        return self.last_ask

    @property
    def is_held(self) -> bool:
        return self.held is not None

    @property
    def began(self) -> float:
        """When it began to wait on this process's monotonic clock."""
        return self.since if self.started is None else self.started


@dataclass(frozen=True)
class WaitingView:
    """A waiting call as the API lists it."""

    call: str
    priority: int
    waited: float  # seconds


class Router:
    """Decides who takes each inbound call; keeps the calls that wait."""

    def __init__(
        self,
        book: OperatorBook,
        *,
        node: str,
        dial_timeout: int = 20,
        max_wait: float = 300.0,
        no_answer_policy: str = "skip",
        repeat_caller_window: float = 0.0,
        recheck: float = 1.0,
        keepalive: float = 5.0,
        silence: float = 30.0,
        max_waiting: int = 1000,
        shared: SharedCalls | None = None,
        nodes: NodeNames | None = None,
    ) -> None:
        self.book = book
        # Several AMI nodes: which one a route request's call is on (routing/node_of.py)
        self.nodes = nodes if nodes is not None else NodeNames([(node, "")])
        # Several instances (PostgreSQL): the waiting list and who was tried live in the
        # database, decided by the same rules (routing/waiting.py); this router keeps
        # only its own dialogues. None: all of it in memory (one instance).
        self.shared = shared
        self.wake: RoutingWake | None = None  # tells the other instances (app sets it)
        self.repeat_caller_window = repeat_caller_window  # minutes; 0: off
        self.node = node
        self.dial_timeout = dial_timeout
        self.max_wait = max_wait
        self.no_answer_policy = no_answer_policy
        self.claims = ClaimBatcher(book, after=shared.claimed if shared is not None else None)
        self.turns = TurnBatcher(shared) if shared is not None else None
        self.waiting: dict[str, Waiting] = {}
        # A waiting call not held that has not asked for ``silence`` s has left (the
        # dialplan asks every ~10 s); at most ``max_waiting`` calls wait (then overflow).
        self.silence = silence
        self.max_waiting = max_waiting
        self.expired = 0  # waiting calls dropped because they stopped asking
        self.overflowed = 0  # new calls answered overflow because the list was full
        self._full_since_log = 0  # overflowed since the last WARNING
        self._full_logged = float("-inf")
        self._expiry: asyncio.TimerHandle | None = None
        self._expired_at = float("-inf")
        self._tried: dict[str, set[int]] = {}
        self._given: dict[str, int] = {}  # call -> the operator it is being offered to now
        self.decisions = 0
        self.no_operator = 0
        self.unavailable = 0  # route answered with no operator: the database was away
        self._unavailable_logged = float("-inf")
        # Held calls: asked again when an operator becomes ready (the book's hook), and
        # every ``recheck`` s for what no commit here announces (another process's
        # operators, a skip or a busy phone that ended); a NOOP every ``keepalive`` s
        # finds a channel or socket that died without a word.
        self.recheck = recheck
        self.keepalive = keepalive
        self._ready_seen = 0  # operators made ready so far (a held call's missed wake-up)
        self._soon = 0  # quick rechecks left after a wake-up that served nobody
        self._kicked = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):  # built outside the loop: set on first use
            self._loop = asyncio.get_running_loop()
        self._renewed = float("-inf")  # shared: when the held calls were last vouched for
        # shared: a renewal (its snapshot and write) and a held call's leaving, one at a
        # time, so a renewal never puts back a call that left
        self._shared_writes = asyncio.Lock()
        self._housekeeper: asyncio.Task[None] | None = None
        self._forgotten: list[str] = []  # shared: ended calls not yet taken off the database
        self._forgetter: asyncio.Task[None] | None = None
        book.ready_listeners.append(self._operator_ready)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the dialogues run in (the FastAGI server's own): what other threads
        and loops change here (:meth:`forget`, an operator made ready) is done there."""
        self._loop = loop

    def scripts(self) -> dict[str, Script]:
        """Script name -> handler, for the FastAGI server."""
        return {
            "route": self.route,
            "login": self.login,
            "logout": self.logout,
            "pause": self.pause,
            "ready": self.ready,
        }

    async def route(self, session: AgiSession) -> None:
        """Pick the operator for this call and tell the dialplan (FastAGI).

        Arguments: attempt, previous DIALSTATUS, then (dialplan/extensions.conf passes
        them, saving three round trips) the topic, the priority and the linkedid. An
        older dialplan that passes only the first two is asked with GET VARIABLE. A
        sixth, ``hold`` (or a music-on-hold class), holds the call on this dialogue
        while nobody is free instead of answering ``wait``.
        """
        args = session.args
        previous = args[1] if len(args) > 1 else ""
        hold = args[5] if len(args) > 5 else ""
        self._loop = asyncio.get_running_loop()
        seen = self._ready_seen
        if len(args) >= 5 and args[4]:
            topic, priority, linkedid = args[2], args[3], args[4]
        else:
            linkedid = await session.get_variable("CHANNEL(linkedid)") or session.env.get(
                "agi_uniqueid", ""
            )
            topic = await session.get_variable("CALLAGENT_TOPIC") or ""
            priority = await session.get_variable("CALLAGENT_PRIORITY") or ""
        node = await self._node_of(session, args)
        caller = session.env.get("agi_callerid", "")
        rank = int(priority) if priority.lstrip("-").isdigit() else 0
        call = f"{node}:{linkedid}"
        try:
            async with asyncio.timeout(_DECIDE_DEADLINE):
                variables = await self.decide(
                    linkedid=linkedid,
                    previous=previous,
                    topic=topic or None,
                    caller=caller,
                    priority=rank,
                    node=node,
                )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            variables = await self._unavailable(call, exc)
        try:
            if hold and variables.get("CALLAGENT_STATUS") == "wait":
                music = hold if _MUSIC_CLASS.match(hold) and hold != "hold" else "default"
                answer = asyncio.get_running_loop().create_future()
                held = Held(linkedid, topic or None, caller, rank, answer, node)
                position = variables.get("CALLAGENT_QUEUE_POSITION", "")
                variables = await self._hold(session, call, held, music, position, seen)
            for name, value in variables.items():
                await session.set_variable(name, value)
        except (AgiHangup, AgiProtocolError):
            # The caller left while we answered: the operator goes back at once.
            await asyncio.to_thread(self.book.release, call, cause="agi_hangup")
            raise
        except asyncio.CancelledError:
            # callagent stops: the dialplan falls back to the queue, so an operator
            # claimed for this call meanwhile is never dialled by it.
            await asyncio.to_thread(self.book.release, call, cause="agi_hangup")
            raise
        if session.hung_up:
            await asyncio.to_thread(self.book.release, call, cause="caller_gone")

    async def _unavailable(self, call: str, exc: BaseException) -> dict[str, str]:
        """The decision could not reach the database: the caller goes to the fallback
        queue. A claim that committed after all (a late answer past the deadline) is
        given back, if the database takes that."""
        self.unavailable += 1
        now = time.monotonic()
        if now - self._unavailable_logged >= _UNAVAILABLE_LOG_INTERVAL:
            self._unavailable_logged = now
            log.warning(
                "route: the database cannot be reached (%s): %d call(s) sent to the "
                "fallback queue so far",
                type(exc).__name__,
                self.unavailable,
            )
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_DECIDE_DEADLINE):
                await asyncio.to_thread(self.book.release, call, cause="agi_hangup")
        return dict(_UNAVAILABLE)

    async def _node_of(self, session: AgiSession, args: list[str]) -> str:
        """The node this request's call is on (routing/node_of.py). One node: it, with
        no round trip; several: the dialplan's seventh argument, else its
        CALLAGENT_NODE variable (one GET VARIABLE), else the peer's address."""
        if not self.nodes.several:
            return self.nodes.default
        if len(args) > 6:
            said: str | None = args[6]
        else:
            said = await session.get_variable("CALLAGENT_NODE")
        peer = session.writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        return self.nodes.resolve(said, address)

    async def decide(
        self,
        *,
        linkedid: str,
        previous: str,
        topic: str | None,
        caller: str = "",
        priority: int = 0,
        again: bool = False,
        node: str | None = None,
    ) -> dict[str, str]:
        """The channel variables that answer ``route`` for this call (FastAGI or HTTP).

        ``again``: the router asks for a call it holds (not counted as a request);
        ``node``: the PBX node the call is on (None: the router's default node).
        """
        call = f"{node or self.node}:{linkedid}"
        now = time.monotonic()
        shared, turn = self.shared, None
        if shared is None and now - self._expired_at >= _EXPIRE_EVERY:
            self.expire(now)  # _ahead skips silent calls meanwhile
        waiting = self.waiting.get(call)
        if waiting is not None:
            waiting.last_ask = now
            waiting.priority = max(waiting.priority, priority)
        if shared is None:
            ahead, free = self._ahead(call, priority, now), None
        else:
            self._start_housekeeping()
            assert self.turns is not None
            turn = await self.turns.turn(call, priority)
            ahead, free = turn.ahead, turn.free
        if ahead:
            if free is None:
                free = await asyncio.to_thread(self.book.count_free)
            if rules.must_wait(ahead, free):
                # Calls that waited longer (or callbacks) come first: this one keeps waiting.
                return await self._wait(call, priority, now, again, turn, topic)
        if turn is None:
            first_try = call not in self._tried
            tried = self._tried.setdefault(call, set())
            if first_try and len(self._tried) > _TRIED_MEMORY:
                self._forget_oldest()
        else:
            first_try, tried = turn.first, set(turn.tried)
        if previous in _NOT_ANSWERED:
            signal = (
                Signal.NOT_ANSWERED_PAUSE
                if self.no_answer_policy == "pause" and previous == "NOANSWER"
                else Signal.NOT_ANSWERED
            )
            reason = "no_answer" if signal == Signal.NOT_ANSWERED_PAUSE else ""
            if shared is None:
                self._given.pop(call, None)
            else:
                await asyncio.to_thread(shared.move_on, call)
            await asyncio.to_thread(
                self.book.release, call, cause="route_retry", signal=signal, reason=reason
            )
        claimed = None
        if first_try and caller and self.repeat_caller_window and not topic and not again:
            claimed = await asyncio.to_thread(
                self.book.claim_last_operator,
                call,
                caller=caller,
                window=timedelta(minutes=self.repeat_caller_window),
                after=shared.claimed if shared is not None else None,
            )
        if claimed is None:
            claimed = await self.claims.claim(ClaimRequest(call, topic or None, frozenset(tried)))
        if not again:
            self.decisions += 1
        if claimed is None:
            return await self._wait(call, priority, now, again, turn, topic)
        if shared is None:  # (shared: written in the claim's transaction)
            tried.add(claimed.user_id)
            self._given[call] = claimed.user_id
        self.waiting.pop(call, None)
        return {
            "CALLAGENT_OPERATOR": claimed.endpoint,
            "CALLAGENT_OPERATOR_ID": str(claimed.user_id),
            "CALLAGENT_CALL_ID": linkedid,
            "CALLAGENT_DIAL_TIMEOUT": str(self.dial_timeout),
            "CALLAGENT_STATUS": "ok",
        }

    def _ahead(self, call: str, priority: int, now: float) -> int:
        """Waiting calls that come before ``call`` (and still ask: not gone silent)."""
        mine = self.waiting.get(call)
        key = mine.rank_key() if mine is not None else rules.rank_key(priority, now)
        return rules.count_ahead(
            self.waiting.values(), call, key, now, silence=self.silence, held_lease=rules.FOREVER
        )

    def _asking(self, waiting: Waiting, now: float) -> bool:
        """Held on its dialogue, or asked again within ``silence`` seconds."""
        return rules.asking(waiting, now, silence=self.silence, held_lease=rules.FOREVER)

    def expire(self, now: float | None = None) -> int:
        """Drop the waiting calls that stopped asking (not held); how many were dropped.

        In the event loop only: the dialogues and the dispatcher change the list there.
        """
        now = time.monotonic() if now is None else now
        self._expired_at = now
        gone = [w.call for w in self.waiting.values() if not self._asking(w, now)]
        for call in gone:
            del self.waiting[call]
            self._tried.pop(call, None)
            self._given.pop(call, None)
        if gone:
            self.expired += len(gone)
            log.info(
                "%d waiting call(s) did not ask again for %.0f s: no longer waiting",
                len(gone),
                self.silence,
            )
        return len(gone)

    def waiting_now(self) -> list[WaitingView]:
        """The calls waiting now (not those gone silent), first in line first; shared:
        those of every instance.

        Safe from any thread: reads a copy of the list and changes nothing.
        """
        if self.shared is not None:
            return [
                WaitingView(row.call, row.priority, waited)
                for row, waited in self.shared.waiting_now()
            ]
        now = time.monotonic()
        entries = [w for w in list(self.waiting.values()) if self._asking(w, now)]
        return [
            WaitingView(w.call, w.priority, now - w.since)
            for w in sorted(entries, key=lambda w: w.rank_key())
        ]

    def kept(self) -> set[str]:
        """Every call the router keeps something of (tests: nothing is kept for ever)."""
        mine = set(self.waiting) | set(self._tried)
        return mine if self.shared is None else mine | self.shared.kept()

    def _schedule_expiry(self) -> None:
        """Expire silent calls even when no route comes to do it (the list, the gauge)."""
        if self._expiry is not None:
            return
        asks = [w.last_ask for w in self.waiting.values() if w.held is None]
        if not asks:
            return
        delay = max(0.0, min(asks) + self.silence - time.monotonic()) + 0.01
        self._expiry = asyncio.get_running_loop().call_later(delay, self._expire_due)

    def _expire_due(self) -> None:
        self._expiry = None
        self.expire()
        self._schedule_expiry()

    async def _wait(
        self,
        call: str,
        priority: int,
        now: float,
        again: bool = False,
        turn: Turn | None = None,
        topic: str | None = None,
    ) -> dict[str, str]:
        if not again:
            self.no_operator += 1
        if turn is not None:
            return await self._wait_shared(call, priority, now, turn, topic)
        waiting = self.waiting.get(call)
        if waiting is None:
            if len(self.waiting) >= self.max_waiting:
                self._full(now)
                return dict(_OVERFLOW)
            waiting = self.waiting[call] = Waiting(call, now, priority, now)
            self._schedule_expiry()
        if now - waiting.since >= self.max_wait:
            self.waiting.pop(call, None)
            return dict(_OVERFLOW)
        position = 1 + self._ahead(call, priority, now)
        return {"CALLAGENT_QUEUE_POSITION": str(position), "CALLAGENT_STATUS": "wait"}

    async def _wait_shared(
        self, call: str, priority: int, now: float, turn: Turn, topic: str | None
    ) -> dict[str, str]:
        """:meth:`_wait` on the shared list: the same rules, the rows' clock."""
        assert self.shared is not None
        listed = turn.listed
        mine = self.waiting.get(call)
        if listed is None and mine is not None and mine.held is not None:
            # held here but off the list (this instance was too slow to vouch for it):
            # back on it with its place, unless its dialogue ended meanwhile
            async with self._shared_writes:
                if self.waiting.get(call) is mine:
                    await asyncio.to_thread(
                        self.shared.renew, [(call, mine.topic, mine.priority, mine.since)]
                    )
            listed = Row(call, mine.priority, mine.since, turn.now, True)
        if listed is None:
            if len(turn.rows) >= self.max_waiting:
                self._full(now)
                return dict(_OVERFLOW)
            since = await asyncio.to_thread(
                self.shared.enter, call, topic or None, priority, turn.asked
            )
            waited = turn.now - since if since < turn.now else 0.0
        else:
            since, waited = listed.since, turn.now - listed.since
        if waited >= self.max_wait:
            self.waiting.pop(call, None)
            await asyncio.to_thread(self.shared.leave, [call])
            return dict(_OVERFLOW)
        waiting = self.waiting.get(call)
        if waiting is None:
            waiting = Waiting(call, since, priority, now, started=now - waited, topic=topic)
            self.waiting[call] = waiting
            self._schedule_expiry()
        waiting.since = since
        position = 1 + turn.ahead
        return {"CALLAGENT_QUEUE_POSITION": str(position), "CALLAGENT_STATUS": "wait"}

    def _forget_oldest(self) -> None:
        """Drop the calls tried longest ago (not waiting): a tenth of ``_TRIED_MEMORY`` at
        once, so the scan is paid once per that many new calls, not on each."""
        excess = len(self._tried) - _TRIED_MEMORY + max(1, _TRIED_MEMORY // 10)
        oldest: list[str] = []
        for call in self._tried:  # in the order they first asked
            if len(oldest) >= excess:
                break
            if call not in self.waiting:
                oldest.append(call)
        for call in oldest:
            del self._tried[call]
            self._given.pop(call, None)

    def _full(self, now: float) -> None:
        """A new call found the waiting list full: count it, say so once a minute."""
        self.overflowed += 1
        self._full_since_log += 1
        if now - self._full_logged >= _FULL_LOG_INTERVAL:
            log.warning(
                "the waiting list is full (%d calls, CALLAGENT_MAX_WAITING_CALLS): %d new "
                "call(s) answered overflow",
                len(self.waiting),
                self._full_since_log,
            )
            self._full_logged, self._full_since_log = now, 0

    def passed_over(self, call: str, user_id: int) -> bool:
        """True when ``call`` was offered to this operator and route has moved on since.

        The PBX's events for the earlier attempt can arrive after the dialplan asked
        again (a busy phone's ringing, under load): they must not make the operator
        ringing once more for a call that is no longer theirs. (Shared: read from the
        database, in the caller's worker thread.)
        """
        if self.shared is not None:
            return self.shared.passed_over(call, user_id)
        return user_id in self._tried.get(call, ()) and self._given.get(call) != user_id

    def forget(self, call: str) -> None:
        """The call ended: drop what the router kept about it (from any thread).

        The state driver calls this from a worker thread: the change is made in the
        event loop, where the list is read and changed (a dict changed while another
        thread iterates it raises, and a future is cancelled only in its own loop).
        """
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing left to drop
                loop.call_soon_threadsafe(self._forget, call)
            return
        self._forget(call)

    def _forget(self, call: str) -> None:
        waiting = self.waiting.pop(call, None)
        if waiting is not None and waiting.held is not None:
            waiting.held.answer.cancel()  # its dialogue ends (the channel is gone)
        self._tried.pop(call, None)
        self._given.pop(call, None)
        if self.shared is not None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # a worker thread, no loop yet: straight to the database
                self.shared.forget([call])
                return
            self._forgotten.append(call)  # in batches, off the dialogues' way
            if self._forgetter is None or self._forgetter.done():
                self._forgetter = asyncio.get_running_loop().create_task(self._forget_shared())

    async def _forget_shared(self) -> None:
        assert self.shared is not None
        while self._forgotten:
            calls, self._forgotten = self._forgotten[:1000], self._forgotten[1000:]
            try:
                await asyncio.to_thread(self.shared.forget, calls)
            except Exception as exc:  # the database may be away: expiry bounds the rest
                log.warning("ended calls not taken off the shared list: %s", type(exc).__name__)
                return

    # ------------------------------------------------- several instances (shared)

    def _start_housekeeping(self) -> None:
        """Shared: drop the calls nobody asks for or vouches for, every second."""
        if self._housekeeper is None or self._housekeeper.done():
            self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())

    async def _housekeeping(self) -> None:
        assert self.shared is not None
        pause = _EXPIRE_EVERY
        while True:
            await asyncio.sleep(pause)
            try:
                _, due = await asyncio.to_thread(self.shared.expire, _TRIED_MEMORY)
            except Exception as exc:  # the database may be away: next second
                log.warning("shared waiting list not expired: %s", type(exc).__name__)
                due = _EXPIRE_EVERY
            # at least every second (other instances' rows, the tried memory), and when
            # the next call falls silent
            pause = min(_EXPIRE_EVERY, due + 0.01)

    async def _renew(self) -> None:
        """Shared: vouch for the calls this instance's dialogues hold (every
        RENEW_SECONDS; another instance drops them when this one stops)."""
        now = time.monotonic()
        if self.shared is None or now - self._renewed < RENEW_SECONDS:
            return
        self._renewed = now
        # The snapshot and its write under the lock a dialogue's end takes to leave the
        # list: a renewal read before a hang-up and written after its DELETE would put
        # the row back (an INSERT), where it stayed until nobody had vouched for it for
        # HELD_LEASE s and a sweep dropped it (the order test's "rows leave the list"
        # step: 25 ms, sometimes 5-15 s).
        async with self._shared_writes:
            held = [
                (w.call, w.topic, w.priority, w.since)
                for w in list(self.waiting.values())
                if w.held is not None
            ]
            try:
                await asyncio.to_thread(self.shared.renew, held)
            except Exception as exc:  # the database may be away: next round
                log.warning("held calls not renewed on the shared list: %s", type(exc).__name__)

    def woken(self, kind: str) -> None:
        """Another instance said an operator became ready (``ready``) or a waiting call
        left (``left``): ask again for the held calls here (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_ready if kind == "ready" else self._kick)

    # ------------------------------------------------------------ held calls

    async def _hold(
        self, session: AgiSession, call: str, held: Held, music: str, position: str, seen: int
    ) -> dict[str, str]:
        """Keep the caller on this dialogue with music until an operator is claimed.

        The answer is what ``route`` would have said once an operator was free (or
        ``overflow`` after the longest wait). AgiHangup when the caller hangs up or
        the connection closes; the call leaves the waiting list either way.
        """
        waiting = self.waiting.get(call)
        if waiting is None:  # cannot happen: decide() answered wait and listed it
            return dict(_OVERFLOW)
        waiting.held = held
        served = False
        try:
            if self.shared is not None:  # held from now: vouched for, not asked again
                await asyncio.to_thread(
                    self.shared.renew, [(call, waiting.topic, waiting.priority, waiting.since)]
                )
            if position:
                await session.command(f'SAY NUMBER {position} ""')
            await session.command(f"SET MUSIC ON {music}")
            if session.hung_up:
                raise AgiHangup("the caller hung up")
            if self._ready_seen != seen:
                self._kick()  # an operator became ready while this call asked
            while True:
                remaining = waiting.began + self.max_wait - time.monotonic()
                if remaining <= 0:
                    answer = dict(_OVERFLOW)
                    break
                if await session.idle(held.answer, min(self.keepalive, remaining)):
                    if held.answer.cancelled():
                        raise AgiHangup("the call ended while it waited")
                    answer = held.answer.result()
                    served = True
                    break
                await session.command("NOOP")  # a dead socket or channel shows now
                if session.hung_up:
                    raise AgiHangup("the caller hung up")
                waiting.last_ask = time.monotonic()
            await session.command("SET MUSIC OFF")
            return answer
        finally:
            if not held.answer.done():
                held.answer.cancel()
            if self.waiting.get(call) is waiting:
                self.waiting.pop(call, None)
                self._kick()  # who was behind this call may be served now
            if self.shared is not None and not served:
                # off the shared list; those behind it on other instances may go now
                # (after a renewal being written: it read the list before this call left;
                # a renewal stuck on a database that does not answer is not waited for
                # long: the row then drops out after HELD_LEASE)
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_DECIDE_DEADLINE), self._shared_writes:
                        await asyncio.to_thread(self.shared.leave, [call])
                if self.wake is not None:
                    self.wake.send("left")

    def _operator_ready(self) -> None:
        """The book's hook, in the thread that committed: wake the held calls (shared:
        those of every instance)."""
        if self.wake is not None:
            self.wake.send("ready")
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._on_ready)

    def _on_ready(self) -> None:
        self._ready_seen += 1
        # The phone's state is stored a moment after the operator's (the call writer):
        # until it is, the claim still sees it ringing. A few quick looks, not a second.
        self._soon = _QUICK_RECHECKS
        self._kick()

    def _kick(self) -> None:
        """Have the dispatcher ask again for the held calls (now, and then each recheck)."""
        if not any(w.held is not None for w in self.waiting.values()):
            return
        self._kicked.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def _dispatch(self) -> None:
        """Serve the held calls until none is left."""
        while True:
            self._kicked.clear()
            await self._renew()
            await self._serve()
            if not any(w.held is not None for w in self.waiting.values()):
                return
            pause = self.recheck
            if self._soon > 0:
                self._soon -= 1
                pause = min(pause, _QUICK_RECHECK)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._kicked.wait()

    async def _serve(self) -> None:
        """Ask again for the held calls in their order, until the first that must wait.

        One at a time: each claim sees the previous one's, so the order (priority,
        then the time they began to wait) is kept exactly.
        """
        while True:
            held = [
                w for w in self.waiting.values() if w.held is not None and not w.held.answer.done()
            ]
            if not held:
                return
            first = min(held, key=lambda w: w.rank_key())
            ask = first.held
            assert ask is not None
            try:
                variables = await self.decide(
                    linkedid=ask.linkedid,
                    previous="",
                    topic=ask.topic,
                    caller=ask.caller,
                    priority=ask.priority,
                    again=True,
                    node=ask.node or None,
                )
            except Exception as exc:  # the database may be away: the next recheck retries
                log.warning("asking again for a held call failed: %s", type(exc).__name__)
                return
            if variables.get("CALLAGENT_STATUS") == "wait":
                if ask.answer.done() and self.waiting.get(first.call) is not first:
                    self.waiting.pop(first.call, None)  # it left while we asked
                    continue
                return
            if not ask.answer.done():
                ask.answer.set_result(variables)
            elif variables.get("CALLAGENT_STATUS") == "ok":
                # The caller left while we claimed: the operator goes back at once.
                await asyncio.to_thread(self.book.release, first.call, cause="caller_gone")

    async def close(self) -> None:
        """Stop the dispatcher (the service stops; the held dialogues are ended by it)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for task in (self._dispatcher, self._housekeeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._dispatcher = self._housekeeper = None
        if self._forgetter is not None:  # the ended calls still to take off
            with contextlib.suppress(Exception):
                await self._forgetter

    # ---------------------------------------------------------- feature codes

    async def _feature(self, session: AgiSession, signal: Signal, reason: str = "") -> None:
        endpoint = endpoint_of(session.env.get("agi_channel", ""))
        changed = await asyncio.to_thread(
            self.book.signal_endpoint, endpoint, signal, cause="feature_code", reason=reason
        )
        await session.set_variable("CALLAGENT_STATUS", "ok" if changed else "unchanged")

    async def login(self, session: AgiSession) -> None:
        """``*51``: the operator is at their phone and ready."""
        await self._feature(session, Signal.LOGIN)

    async def logout(self, session: AgiSession) -> None:
        """``*52``: the operator leaves."""
        await self._feature(session, Signal.LOGOUT)

    async def pause(self, session: AgiSession) -> None:
        """``*53`` + a digit: a break with a reason (1 break, 2 lunch, 3 training, 4 meeting)."""
        args = session.args
        digit = args[0] if args else ""
        reasons = {"1": "break", "2": "lunch", "3": "training", "4": "meeting"}
        reason = reasons.get(digit, digit if digit in PAUSE_REASONS else "break")
        await self._feature(session, Signal.PAUSE, reason)

    async def ready(self, session: AgiSession) -> None:
        """``*54``: back from a break or done with after-call work."""
        await self._feature(session, Signal.READY)
