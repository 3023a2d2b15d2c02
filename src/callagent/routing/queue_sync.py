"""What the fallback queue should say about each operator's phone (pure: no IO, no clock).

callagent mirrors every state change into the app_queue fallback with ``QueuePause``
(``mirror.py``), but Asterisk forgets pauses when it restarts (every static member comes
back unpaused, ``persistentmembers`` or not), an administrator can pause a member from
the CLI, and an action can be lost with its connection. So after every AMI login, every
``FullyBooted`` and every few minutes callagent reads ``QueueStatus`` and sends the
``QueuePause`` actions that make the queue agree with its own states: :func:`plan_sync`.

The rule (one table for the mirror and the sync, :func:`wanted_pause`):

============================  =====================  ==========================
callagent's state             while callagent runs   after a clean stop
============================  =====================  ==========================
ready, ringing, on_call       unpaused               unpaused
wrap_up                       paused ``wrap_up``     unpaused
paused (break, lunch...)      paused, its reason     paused, its reason
offline, unavailable          paused, the state      paused, the state
============================  =====================  ==========================

Ringing and on_call stay unpaused: app_queue (``ringinuse = no``) already skips a phone
that rings or is in use, and an operator left unpaused by a callagent that dies mid-call
can take fallback calls as soon as the call ends. A wrap-up is unpaused when callagent
stops cleanly because nothing would end it while callagent is away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from callagent.routing.states import OperatorState

# The states whose phones the fallback queue may ring (the phone's own device state,
# with ringinuse = no, keeps it from ringing a phone that is busy).
TAKES_QUEUE_CALLS = frozenset(
    {OperatorState.READY.value, OperatorState.RINGING.value, OperatorState.ON_CALL.value}
)


class Rule(StrEnum):
    """Which column of the table: while callagent runs, or what it leaves behind."""

    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Wanted:
    """How a member should be: paused (with this reason) or not."""

    paused: bool
    reason: str  # the pause reason when paused; the state when not (QueuePause's Reason)


def wanted_pause(state: str, reason: str = "", rule: Rule = Rule.RUNNING) -> Wanted:
    """The queue's pause for an operator in ``state`` (``reason``: a pause's reason)."""
    if state in TAKES_QUEUE_CALLS:
        return Wanted(False, state)
    if rule == Rule.STOPPED and state == OperatorState.WRAP_UP.value:
        return Wanted(False, state)
    if state == OperatorState.PAUSED.value:
        return Wanted(True, reason or state)
    return Wanted(True, state)


@dataclass(frozen=True)
class QueueMember:
    """One member as ``QueueStatus`` lists it (a ``QueueMember`` event)."""

    queue: str
    interface: str  # Location: the interface that QueuePause names
    state_interface: str
    paused: bool
    reason: str  # PausedReason (Asterisk keeps the last one after an unpause)
    status: int  # the device state app_queue sees (1 not in use ... 5 unavailable)

    @classmethod
    def from_event(cls, headers: Mapping[str, str]) -> QueueMember:
        """A ``QueueMember`` event's headers (Asterisk 20/22 names) as a member."""
        try:
            status = int(headers.get("Status", "0") or 0)
        except ValueError:
            status = 0
        interface = headers.get("Location", "") or headers.get("Interface", "")
        return cls(
            queue=headers.get("Queue", ""),
            interface=interface,
            state_interface=headers.get("StateInterface", "") or interface,
            paused=headers.get("Paused", "0").strip() in ("1", "true", "yes"),
            reason=headers.get("PausedReason", ""),
            status=status,
        )


@dataclass(frozen=True)
class OperatorPhones:
    """An active operator's state and phones, as callagent's database has them."""

    user_id: int
    state: str
    reason: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class PauseAction:
    """One ``QueuePause`` to send, and what it corrects (for the log)."""

    interface: str
    paused: bool
    reason: str
    user_id: int
    state: str  # the operator's state in callagent
    was_paused: bool
    was_reason: str

    def ami(self, queue: str) -> dict[str, str]:
        """The AMI action (the same headers the mirror sends)."""
        return pause_action(self.interface, paused=self.paused, reason=self.reason, queue=queue)


@dataclass(frozen=True)
class SyncPlan:
    """What :func:`plan_sync` decided: actions to send, members left alone."""

    actions: list[PauseAction]
    unknown: list[str]  # members of the queue that are no operator's phone
    agreed: int  # members already as callagent wants them


def pause_action(interface: str, *, paused: bool, reason: str, queue: str) -> dict[str, str]:
    """A ``QueuePause`` action (``queue`` "": every queue the interface is a member of)."""
    action = {
        "Action": "QueuePause",
        "Interface": interface,
        "Paused": "true" if paused else "false",
        "Reason": reason,
    }
    if queue:
        action["Queue"] = queue
    return action


def _owner(
    member: QueueMember, by_phone: Mapping[str, list[OperatorPhones]], rule: Rule
) -> tuple[OperatorPhones, Wanted] | None:
    """The operator whose state decides ``member``; None when it is nobody's phone.

    A phone shared by several operators is unpaused if any of them takes calls, else
    paused as the first of them (lowest id) says.
    """
    owners = by_phone.get(member.interface) or by_phone.get(member.state_interface)
    if not owners:
        return None
    choices = [(op, wanted_pause(op.state, op.reason, rule)) for op in owners]
    free = [choice for choice in choices if not choice[1].paused]
    return (free or choices)[0]


def plan_sync(
    members: Iterable[QueueMember],
    operators: Iterable[OperatorPhones],
    *,
    queue: str,
    rule: Rule = Rule.RUNNING,
) -> SyncPlan:
    """The ``QueuePause`` actions that make ``queue`` agree with callagent's states.

    Only members whose pause differs are in the plan: paused when they should not be,
    unpaused when they should be paused, or paused with another reason. Members that
    are no active operator's phone are listed in ``unknown`` and left alone.
    """
    by_phone: dict[str, list[OperatorPhones]] = {}
    for operator in sorted(operators, key=lambda o: o.user_id):
        for endpoint in operator.endpoints:
            by_phone.setdefault(endpoint, []).append(operator)
    actions: list[PauseAction] = []
    unknown: list[str] = []
    agreed = 0
    seen: set[str] = set()
    for member in members:
        if (queue and member.queue != queue) or member.interface in seen:
            continue
        seen.add(member.interface)
        owner = _owner(member, by_phone, rule)
        if owner is None:
            unknown.append(member.interface)
            continue
        operator, wanted = owner
        differs = member.paused != wanted.paused or (
            wanted.paused and member.reason != wanted.reason
        )
        if not differs:
            agreed += 1
            continue
        actions.append(
            PauseAction(
                member.interface,
                wanted.paused,
                wanted.reason,
                operator.user_id,
                operator.state,
                member.paused,
                member.reason,
            )
        )
    return SyncPlan(actions, unknown, agreed)


def change_needs_action(from_state: str, to_state: str) -> bool:
    """Whether the mirror sends a ``QueuePause`` for one state change.

    Not between two states that both take calls (ready, ringing, on_call: one call
    would cost two actions for nothing); always otherwise, so that the reason follows
    the state (wrap_up -> offline says ``offline``, break -> lunch says ``lunch``).
    """
    return not (from_state in TAKES_QUEUE_CALLS and to_state in TAKES_QUEUE_CALLS)


# The signature of a source of operators' states (read from the database at the edge).
OperatorSource = Callable[[], list[OperatorPhones]]
