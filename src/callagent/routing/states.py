"""The operator state machine, as a table (pure: no IO, no clock).

    offline -> ready <-> ringing -> on_call -> wrap_up -> ready
    paused (with a reason) and unavailable (phone unregistered or unreachable)

A signal that does not apply to the current state changes nothing (``None``),
so repeated or late signals are harmless. A phone that comes back after a gap
(``unavailable``) returns the operator to what they had chosen before it:
:func:`resume_after` says what to remember, :func:`back_from_gap` where to go.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class OperatorState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


class Signal(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    READY = "ready"
    CLAIM = "claim"  # the router picked this operator for a call
    RELEASE = "release"  # the claimed call never rang the phone
    RINGING = "ringing"
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    NOT_ANSWERED_PAUSE = "not_answered_pause"  # app_queue's autopause
    CALL_ENDED = "call_ended"
    WRAPUP_DONE = "wrapup_done"
    PHONE_LOST = "phone_lost"
    PHONE_BACK = "phone_back"


S = OperatorState
PAUSE_REASONS = ("break", "lunch", "training", "meeting", "no_answer", "other")

TRANSITIONS: dict[Signal, dict[OperatorState, OperatorState]] = {
    Signal.LOGIN: {S.OFFLINE: S.READY},
    Signal.LOGOUT: {state: S.OFFLINE for state in S if state != S.OFFLINE},
    Signal.PAUSE: {S.READY: S.PAUSED, S.WRAP_UP: S.PAUSED, S.PAUSED: S.PAUSED},
    Signal.READY: {S.PAUSED: S.READY, S.WRAP_UP: S.READY, S.OFFLINE: S.READY},
    Signal.CLAIM: {S.READY: S.RINGING},
    Signal.RELEASE: {S.RINGING: S.READY},
    Signal.RINGING: {S.READY: S.RINGING},
    Signal.ANSWERED: {S.READY: S.ON_CALL, S.RINGING: S.ON_CALL, S.WRAP_UP: S.ON_CALL},
    Signal.NOT_ANSWERED: {S.RINGING: S.READY},
    Signal.NOT_ANSWERED_PAUSE: {S.RINGING: S.PAUSED},
    # READY too: an outbound call placed from the phone never made them ON_CALL.
    Signal.CALL_ENDED: {S.ON_CALL: S.WRAP_UP, S.READY: S.WRAP_UP},
    Signal.WRAPUP_DONE: {S.WRAP_UP: S.READY},
    Signal.PHONE_LOST: {
        S.READY: S.UNAVAILABLE,
        S.RINGING: S.UNAVAILABLE,
        S.PAUSED: S.UNAVAILABLE,
        S.WRAP_UP: S.UNAVAILABLE,
    },
    # Ready unless the operator had chosen otherwise before the gap: back_from_gap.
    Signal.PHONE_BACK: {S.UNAVAILABLE: S.READY},
}


def next_state(current: OperatorState, signal: Signal) -> OperatorState | None:
    """The state after ``signal``, or None when the signal does not apply."""
    return TRANSITIONS[signal].get(current)


def resume_after(current: OperatorState, reason: str) -> tuple[OperatorState, str]:
    """What to remember when the phone is lost in ``current``: the state and pause reason.

    A pause keeps its reason (an operator at lunch whose phone reboots is still at
    lunch: ``live/live_reregister_while_paused``); after-call work stays after-call
    work; ready and a ring that the lost phone can no longer take mean ready.
    """
    if current == S.PAUSED:
        return S.PAUSED, reason
    if current == S.WRAP_UP:
        return S.WRAP_UP, ""
    return S.READY, ""


def back_from_gap(
    resume_state: str | None, resume_reason: str, wrapup_until: datetime | None, now: datetime
) -> tuple[OperatorState, str]:
    """The state (and pause reason) when the phone comes back (pure).

    What :func:`resume_after` remembered; nothing remembered (an older row) means
    ready. After-call work whose deadline passed during the gap is over: ready.
    """
    state = OperatorState(resume_state) if resume_state else S.READY
    if state == S.WRAP_UP and (wrapup_until is None or wrapup_until <= now):
        return S.READY, ""
    return state, resume_reason if state == S.PAUSED else ""
