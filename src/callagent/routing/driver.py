"""Drives operators' states from what the PBX does (the tracker's domain events).

The AMI read path only puts events on a queue; one task applies them to the
database, in order.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

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
        self._registered: dict[tuple[str, str], bool] = {}

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
                self.queue.put_nowait(PhoneChanged(event.device, state.registered))
                continue
            elif not isinstance(event, OperatorRinging | CallAnswered | AttemptEnded | CallEnded):
                continue
            self.queue.put_nowait(event)

    async def run(self) -> None:
        """Apply queued events forever (until cancelled); ``queue.join()`` waits for them."""
        while True:
            event = await self.queue.get()
            try:
                await asyncio.to_thread(self.apply, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("operator state update for %s failed", type(event).__name__)
            finally:
                self.queue.task_done()

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
            elif event.outcome in ("caller_gone", "answered_elsewhere", "unknown"):
                # not the operator's doing: back to ready with no penalty
                self.book.signal_endpoint(event.endpoint, Signal.RELEASE, cause="call", call=call)
            else:
                self.book.signal_endpoint(
                    event.endpoint, Signal.NOT_ANSWERED, cause="call", call=call
                )
        elif isinstance(event, CallEnded):
            call = ":".join(event.key)
            for endpoint in event.operators:
                self.book.signal_endpoint(endpoint, Signal.CALL_ENDED, cause="call", call=call)
            self.book.release(call, cause="call_ended", signal=Signal.NOT_ANSWERED)
            self.router.forget(call)
        elif isinstance(event, PhoneChanged):
            # Back: to the state chosen before the gap (OperatorBook.apply, back_from_gap).
            signal = Signal.PHONE_BACK if event.registered else Signal.PHONE_LOST
            self.book.signal_endpoint(event.device, signal, cause="device")
