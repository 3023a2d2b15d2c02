"""Drives operators' states from what the PBX does (the tracker's domain events).

The AMI read path only puts events on a queue; one task applies them to the
database, in order. When the database refuses (down, restarting, locked by another
process), the event at the head is retried with back-off until it is stored, and the
ones behind it wait their turn: an operator whose call ended during an outage still
goes to wrap-up, with its form, once the database is back. The queue is bounded
(:data:`MAX_WAITING`); a WARNING says when an outage starts holding changes back
(and how many), an INFO when they are all stored again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from callagent.db.health import transient
from callagent.db.node_leases import NodeFence
from callagent.routing.operators import OperatorBook
from callagent.routing.router import Router
from callagent.routing.states import Signal
from callagent.tracker.events import (
    AttemptEnded,
    CallAnswered,
    CallEnded,
    DeviceChanged,
    DomainEvent,
    OperatorRinging,
)
from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)
T = TypeVar("T")

# Events waiting while the database is away: a busy call centre makes a few per call,
# so this is hours of outage in a few tens of MB. Beyond it the newest are dropped
# (and counted in the ERROR that says so) rather than the process growing without end.
MAX_WAITING = 100_000
BATCH = 200  # events applied in one transaction at most
RETRY_FIRST = 0.1  # s, then doubled up to RETRY_MAX
RETRY_MAX = 5.0


@dataclass(frozen=True, slots=True)
class PhoneChanged:
    """A phone became reachable or not: the tracker's word when the event came.

    Queued instead of the tracker's ``DeviceChanged``, which says only *which* device
    changed: by the time the queue is applied the phone may have come back already (a
    re-registration a few seconds later, read in the same burst), and reading the
    device then would turn its loss into a second return.
    """

    device: str
    registered: bool
    node: str = ""  # the PBX node that said so (fenced like the node's other events)


class StateDriver:
    """Turns ringing / answered / ended / phone lost into operator state changes."""

    def __init__(
        self, book: OperatorBook, tracker: Tracker, router: Router, no_answer_policy: str
    ) -> None:
        self.book = book
        self.tracker = tracker
        self.router = router
        self.no_answer_policy = no_answer_policy
        self.queue: asyncio.Queue[DomainEvent | PhoneChanged] = asyncio.Queue()
        self.max_waiting = MAX_WAITING
        self.dropped = 0  # events lost to a full queue (the ERROR log says so)
        self._registered: dict[tuple[str, str], bool] = {}
        self._outage_since: float | None = None  # monotonic, while changes are held back
        # Several instances (PostgreSQL): a node's events change operators only while
        # this instance holds the node's lease (an instance cut off from the database
        # that kept reading AMI must not replay what the node's new holder did)
        self.fence: NodeFence | None = None

    def on_events(self, events: list[DomainEvent]) -> None:
        """The monitor's subscriber: cheap, never blocks."""
        for event in events:
            if isinstance(event, DeviceChanged):
                state = self.tracker.devices.get((event.node, event.device))
                if state is None:
                    continue
                key = (event.node, event.device)
                if self._registered.get(key) == state.registered:
                    continue  # INUSE / NOT_INUSE flips: not a change of reachability
                self._registered[key] = state.registered
                self._put(PhoneChanged(event.device, state.registered, event.node))
                continue
            elif not isinstance(event, OperatorRinging | CallAnswered | AttemptEnded | CallEnded):
                continue
            self._put(event)

    def _put(self, event: DomainEvent | PhoneChanged) -> None:
        if self.queue.qsize() < self.max_waiting:
            self.queue.put_nowait(event)
            return
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            log.error(
                "operator state changes dropped: %d waiting for the database already, "
                "%d dropped since the start (operators may show a wrong state until "
                "their next call or change)",
                self.queue.qsize(),
                self.dropped,
            )

    async def run(self) -> None:
        """Apply queued events forever (until cancelled); ``queue.join()`` waits for them.

        In order, a burst at a time: the events waiting (up to :data:`BATCH`) change the
        operators in one transaction (one commit, not one per event: a busy centre makes
        several events a call), then the claims of the calls that ended are released.
        A burst the database refuses is retried (back-off from :data:`RETRY_FIRST` to
        :data:`RETRY_MAX` seconds) until stored, and the events behind it wait. A burst
        that fails for another reason is applied again event by event, so that only the
        event at fault is logged and skipped.
        """
        while True:
            burst = [await self.queue.get()]
            while len(burst) < BATCH and not self.queue.empty():
                burst.append(self.queue.get_nowait())
            try:
                if not await self._store(self.apply_many, burst, f"{len(burst)} event(s)"):
                    for event in burst:
                        await self._store(self.apply_one, event, type(event).__name__)
            finally:
                for _ in burst:
                    self.queue.task_done()
            if self._outage_since is not None and self.queue.empty():
                log.info(
                    "operator state changes caught up: all stored after %.1f s of database trouble",
                    time.monotonic() - self._outage_since,
                )
                self._outage_since = None

    async def _store(self, apply: Callable[[T], None], item: T, what: str) -> bool:
        """Apply ``item`` in a worker thread, retried while the database refuses; False
        when it failed for another reason (logged)."""
        delay = RETRY_FIRST
        while True:
            try:
                await asyncio.to_thread(apply, item)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not transient(exc):
                    log.exception("operator state update for %s failed", what)
                    return False
                if self._outage_since is None:  # once per outage
                    self._outage_since = time.monotonic()
                    log.warning(
                        "operator state update for %s not stored (%s): the database "
                        "refuses; %d change(s) waiting, retried in order until stored",
                        what,
                        type(exc).__name__,
                        self.queue.qsize() + 1,
                    )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def apply_many(self, events: list[DomainEvent | PhoneChanged]) -> None:
        """Several events' effect in one transaction; the claims of the calls that ended
        are released after it (each in its own, as :meth:`apply` does)."""
        ended: list[str] = []
        with self.book.writing() as session:
            for event in self._allowed(session, events):
                if isinstance(event, CallEnded):
                    ended.append(self._call_ended(event))
                else:
                    self.apply(event)
        for call in ended:
            self._release(call)

    def apply_one(self, event: DomainEvent | PhoneChanged) -> None:
        """:meth:`apply` of one event in its own transaction, fenced like a burst."""
        self.apply_many([event])

    def _allowed(
        self, session: Session, events: list[DomainEvent | PhoneChanged]
    ) -> list[DomainEvent | PhoneChanged]:
        """``events`` without those of nodes another instance holds now (no fence: all)."""
        if self.fence is None:
            return events
        nodes = {_node_of(event) for event in events} - {""}
        refused = self.fence.refused(session, nodes)
        if not refused:
            return events
        log.warning(
            "operator state changes of node(s) %s dropped: another instance follows them",
            ", ".join(sorted(refused)),
        )
        return [event for event in events if _node_of(event) not in refused]

    def apply(self, event: DomainEvent | PhoneChanged) -> None:
        """One event's effect on operators' states."""
        if isinstance(event, OperatorRinging):
            call = ":".join(event.key)
            owner = self.book.owners.get([event.endpoint]).get(event.endpoint)
            if owner is not None and self.router.passed_over(call, owner[0]):
                log.debug("late ringing of %s for a call route moved past", owner[1])
                return
            self.book.signal_endpoint(event.endpoint, Signal.RINGING, cause="call", call=call)
        elif isinstance(event, CallAnswered):
            call = ":".join(event.key)
            self.book.signal_endpoint(event.endpoint, Signal.ANSWERED, cause="call", call=call)
        elif isinstance(event, AttemptEnded):
            call = ":".join(event.key)
            if event.outcome == "no_answer" and self.no_answer_policy == "pause":
                self.book.signal_endpoint(
                    event.endpoint,
                    Signal.NOT_ANSWERED_PAUSE,
                    cause="call",
                    reason="no_answer",
                    call=call,
                )
            elif event.outcome in (
                "caller_gone",
                "answered_elsewhere",
                "picked_up_elsewhere",
                "forwarded",
                "unknown",
            ):
                # not the operator's doing: back to ready with no penalty
                self.book.signal_endpoint(event.endpoint, Signal.RELEASE, cause="call", call=call)
            else:
                self.book.signal_endpoint(
                    event.endpoint, Signal.NOT_ANSWERED, cause="call", call=call
                )
        elif isinstance(event, CallEnded):
            self._release(self._call_ended(event))
        elif isinstance(event, PhoneChanged):
            # Back: to the state chosen before the gap (OperatorBook.apply, back_from_gap).
            signal = Signal.PHONE_BACK if event.registered else Signal.PHONE_LOST
            self.book.signal_endpoint(event.device, signal, cause="device")

    def _call_ended(self, event: CallEnded) -> str:
        """Its operators to wrap-up (in the caller's transaction, if any); the call."""
        call = ":".join(event.key)
        for endpoint in event.operators:
            self.book.signal_endpoint(endpoint, Signal.CALL_ENDED, cause="call", call=call)
        return call

    def _release(self, call: str) -> None:
        """Free the operators claimed for an ended call who never answered it."""
        self.book.release(call, cause="call_ended", signal=Signal.NOT_ANSWERED)
        self.router.forget(call)


def _node_of(event: DomainEvent | PhoneChanged) -> str:
    """The PBX node an event came from ("" when it does not say)."""
    if isinstance(event, PhoneChanged):
        return event.node
    key = getattr(event, "key", None)
    return str(key[0]) if key else ""
