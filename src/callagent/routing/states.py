"""The operator state machine, as a table (pure: no IO, no clock).

    offline -> ready <-> ringing -> on_call -> wrap_up -> ready
    paused (with a reason) and unavailable (phone unregistered or unreachable)

A signal that does not apply to the current state changes nothing (``None``),
so repeated or late signals are harmless.
"""

from __future__ import annotations

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
    Signal.PHONE_BACK: {S.UNAVAILABLE: S.READY},
}


def next_state(current: OperatorState, signal: Signal) -> OperatorState | None:
    """The state after ``signal``, or None when the signal does not apply."""
    return TRANSITIONS[signal].get(current)
