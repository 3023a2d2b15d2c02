"""The FastAGI scripts: ``route`` (which operator takes this call) and feature codes.

``route`` answers through channel variables the dialplan reads
(``dialplan/extensions.conf``): ``CALLAGENT_OPERATOR`` (the dial string),
``CALLAGENT_OPERATOR_ID``, ``CALLAGENT_CALL_ID``, ``CALLAGENT_DIAL_TIMEOUT`` and
``CALLAGENT_STATUS`` (``ok``, ``wait`` with ``CALLAGENT_QUEUE_POSITION``, or
``overflow`` after the longest wait).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from callagent.routing.agi import AgiHangup, AgiSession, Script
from callagent.routing.claims import ClaimBatcher
from callagent.routing.operators import ClaimRequest, OperatorBook
from callagent.routing.states import PAUSE_REASONS, Signal
from callagent.tracker.tracker import endpoint_of

log = logging.getLogger(__name__)
_NOT_ANSWERED = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})
_SILENT = 60.0  # a waiting call that has not asked again for this long has left


@dataclass
class Waiting:
    """A call the router told to wait."""

    call: str
    since: float
    priority: int = 0  # CALLAGENT_PRIORITY: callbacks jump ahead
    last_ask: float = 0.0
    tried: set[int] = field(default_factory=set)

    def rank_key(self) -> tuple[int, float]:
        return (-self.priority, self.since)


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
    ) -> None:
        self.book = book
        self.repeat_caller_window = repeat_caller_window  # minutes; 0: off
        self.node = node
        self.dial_timeout = dial_timeout
        self.max_wait = max_wait
        self.no_answer_policy = no_answer_policy
        self.claims = ClaimBatcher(book)
        self.waiting: dict[str, Waiting] = {}
        self._tried: dict[str, set[int]] = {}
        self._given: dict[str, int] = {}  # call -> the operator it is being offered to now
        self.decisions = 0
        self.no_operator = 0

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
        older dialplan that passes only the first two is asked with GET VARIABLE.
        """
        args = session.args
        previous = args[1] if len(args) > 1 else ""
        if len(args) >= 5 and args[4]:
            topic, priority, linkedid = args[2], args[3], args[4]
        else:
            linkedid = await session.get_variable("CHANNEL(linkedid)") or session.env.get(
                "agi_uniqueid", ""
            )
            topic = await session.get_variable("CALLAGENT_TOPIC") or ""
            priority = await session.get_variable("CALLAGENT_PRIORITY") or ""
        caller = session.env.get("agi_callerid", "")
        variables = await self.decide(
            linkedid=linkedid,
            previous=previous,
            topic=topic or None,
            caller=caller,
            priority=int(priority) if priority.lstrip("-").isdigit() else 0,
        )
        call = f"{self.node}:{linkedid}"
        try:
            for name, value in variables.items():
                await session.set_variable(name, value)
        except AgiHangup:
            # The caller left while we answered: the operator goes back at once.
            await asyncio.to_thread(self.book.release, call, cause="agi_hangup")
            raise
        if session.hung_up:
            await asyncio.to_thread(self.book.release, call, cause="caller_gone")

    async def decide(
        self,
        *,
        linkedid: str,
        previous: str,
        topic: str | None,
        caller: str = "",
        priority: int = 0,
    ) -> dict[str, str]:
        """The channel variables that answer ``route`` for this call (FastAGI or HTTP)."""
        call = f"{self.node}:{linkedid}"
        now = time.monotonic()
        waiting = self.waiting.get(call)
        if waiting is not None:
            waiting.last_ask = now
            waiting.priority = max(waiting.priority, priority)
        ahead = self._ahead(call, priority, now)
        if ahead and await asyncio.to_thread(self.book.count_free) <= ahead:
            # Calls that waited longer (or callbacks) come first: this one keeps waiting.
            return self._wait(call, priority, now)
        first_try = call not in self._tried
        tried = self._tried.setdefault(call, set())
        if previous in _NOT_ANSWERED:
            signal = (
                Signal.NOT_ANSWERED_PAUSE
                if self.no_answer_policy == "pause" and previous == "NOANSWER"
                else Signal.NOT_ANSWERED
            )
            reason = "no_answer" if signal == Signal.NOT_ANSWERED_PAUSE else ""
            self._given.pop(call, None)
            await asyncio.to_thread(
                self.book.release, call, cause="route_retry", signal=signal, reason=reason
            )
        claimed = None
        if first_try and caller and self.repeat_caller_window and not topic:
            claimed = await asyncio.to_thread(
                self.book.claim_last_operator,
                call,
                caller=caller,
                window=timedelta(minutes=self.repeat_caller_window),
            )
        if claimed is None:
            claimed = await self.claims.claim(ClaimRequest(call, topic or None, frozenset(tried)))
        self.decisions += 1
        if claimed is None:
            return self._wait(call, priority, now)
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
        key = mine.rank_key() if mine is not None else (-priority, now)
        return sum(
            1
            for other in self.waiting.values()
            if other.call != call and now - other.last_ask < _SILENT and other.rank_key() < key
        )

    def _wait(self, call: str, priority: int, now: float) -> dict[str, str]:
        self.no_operator += 1
        waiting = self.waiting.setdefault(call, Waiting(call, now, priority, now))
        if now - waiting.since >= self.max_wait:
            self.waiting.pop(call, None)
            return {"CALLAGENT_STATUS": "overflow"}
        position = 1 + self._ahead(call, priority, now)
        return {"CALLAGENT_QUEUE_POSITION": str(position), "CALLAGENT_STATUS": "wait"}

    def passed_over(self, call: str, user_id: int) -> bool:
        """True when ``call`` was offered to this operator and route has moved on since.

        The PBX's events for the earlier attempt can arrive after the dialplan asked
        again (a busy phone's ringing, under load): they must not make the operator
        ringing once more for a call that is no longer theirs.
        """
        return user_id in self._tried.get(call, ()) and self._given.get(call) != user_id

    def forget(self, call: str) -> None:
        """The call ended: drop what the router kept about it."""
        self.waiting.pop(call, None)
        self._tried.pop(call, None)
        self._given.pop(call, None)

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
