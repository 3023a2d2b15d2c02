"""What came of a notification call: AMI events in, attempt result and entry update out.

Pure: no IO, no clock (times are passed in). Real Asterisk answers a failed async
Originate with ``Reason: 0`` and ``Uniqueid: <unknown>`` for a 486 and a 503 alike
(``shared/pbx-traces/README.md``); the true cause is the ``Hangup`` cause of the
dialled channel, whose Uniqueid we chose (the Originate's ``ChannelId``). So an
attempt is settled when both the OriginateResponse and that Hangup are seen, or
a short grace after a failed OriginateResponse when no channel was ever made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callagent.ami.parser import AmiMessage

# Q.850 causes (Asterisk's Hangup Cause) -> attempt result; anything else is "failed".
_CAUSES = {
    16: "answered",  # only when the channel was answered; see result_of()
    17: "busy",
    18: "no_answer",  # no user responding
    19: "no_answer",  # user alerting, no answer
    20: "no_answer",  # subscriber absent
    21: "rejected",
    34: "congestion",  # circuit/channel congestion (SIP 503)
    42: "congestion",  # switching equipment congestion
    44: "congestion",  # requested channel not available
}
# OriginateResponse Reason (Asterisk's control frame) when no Hangup cause is known.
_REASONS = {"3": "no_answer", "5": "busy", "8": "congestion", "4": "answered"}
DIGIT_VARIABLES = ("CALLAGENT_NOTIFY_DIGIT", "NOTIFY_DIGIT")
# Set by Asterisk's AMD() (app_amd) in dialplan/extensions.conf's notify-out.
AMD_VARIABLE = "AMDSTATUS"
# Set by the notify script; "prompt_missing": the PBX lacks a sound file of the message.
STATUS_VARIABLE = "CALLAGENT_NOTIFY_STATUS"
PROMPT_MISSING = "prompt_missing"


def result_of(*, response: str, reason: str, cause: int | None, answered: bool) -> str:
    """The attempt result from the OriginateResponse and the dialled channel's Hangup cause."""
    if answered or response == "Success":
        return "answered"
    if cause is not None and cause != 16 and cause in _CAUSES:
        return _CAUSES[cause]
    if cause is not None and cause not in (0, 16):
        return "failed"
    return _REASONS.get(reason, "failed")


@dataclass
class Watched:
    """One Originate whose outcome is awaited."""

    action_id: str
    channel_id: str
    response: str = ""  # OriginateResponse: Success / Failure
    reason: str = ""
    responded_at: float | None = None
    channel_seen: bool = False
    answered: bool = False
    cause: int | None = None
    hung_up: bool = False
    digit: str = ""
    operator_answered: bool = False  # digit 2: an operator took the call
    dial_status: str = ""  # the Dial this channel made (digit 2; operator mode: the applicant)
    machine: bool = False  # AMD() heard an answering machine: nothing was said to anyone
    prompt_missing: bool = False  # the notify script could not play the message

    @property
    def result(self) -> str:
        """The result as far as known now."""
        if self.machine:
            return "answering_machine"
        if self.prompt_missing and self.answered:
            return PROMPT_MISSING
        return result_of(
            response=self.response, reason=self.reason, cause=self.cause, answered=self.answered
        )


@dataclass
class OutcomeBook:
    """Follows the AMI events of the Originates in flight and says when each is settled.

    ``failure_grace``: seconds to wait for the dialled channel's Hangup after a failed
    OriginateResponse (when Asterisk never created the channel, none comes).
    """

    failure_grace: float = 2.0
    _by_action: dict[str, Watched] = field(default_factory=dict)
    _by_channel: dict[str, Watched] = field(default_factory=dict)

    def watch(self, action_id: str, channel_id: str) -> Watched:
        """Start following one Originate (before it is sent)."""
        item = Watched(action_id, channel_id)
        self._by_action[action_id] = item
        self._by_channel[channel_id] = item
        return item

    def forget(self, action_id: str) -> Watched | None:
        """Stop following an Originate (settled, refused or timed out)."""
        item = self._by_action.pop(action_id, None)
        if item is not None:
            self._by_channel.pop(item.channel_id, None)
        return item

    def __len__(self) -> int:
        return len(self._by_action)

    def feed(self, message: AmiMessage, now: float) -> list[Watched]:
        """Apply one AMI event; the Originates it settled (still to be forgotten)."""
        h = message.headers
        event = h.get("Event", "")
        if event == "OriginateResponse":
            item = self._by_action.get(h.get("ActionID", ""))
            if item is None:
                return []
            item.response = h.get("Response", "")
            item.reason = h.get("Reason", "")
            item.responded_at = now
            if item.response == "Success":
                item.answered = True
            return [item] if self._settled(item, now) else []
        if event == "DialEnd":
            # the applicant's channel (Uniqueid) put through to an operator (digit 2)
            item = self._by_channel.get(h.get("Uniqueid", ""))
            if item is not None:
                item.dial_status = h.get("DialStatus", "")
                item.operator_answered = item.dial_status == "ANSWER"
            return []
        item = self._by_channel.get(h.get("Uniqueid", ""))
        if item is None:
            return []
        if event == "Newchannel":
            item.channel_seen = True
        elif event == "Newstate" and h.get("ChannelStateDesc") == "Up":
            item.answered = True
        elif event == "VarSet" and h.get("Variable") in DIGIT_VARIABLES:
            item.digit = h.get("Value", "")[:1]
        elif event == "VarSet" and h.get("Variable") == AMD_VARIABLE:
            item.machine = h.get("Value") == "MACHINE"
        elif event == "VarSet" and h.get("Variable") == STATUS_VARIABLE:
            item.prompt_missing = h.get("Value") == PROMPT_MISSING
        elif event == "UserEvent" and h.get("UserEvent") == "CallagentNotifyResult":
            item.digit = item.digit or h.get("Digit", "")[:1]
            item.machine = item.machine or h.get("Amd") == "MACHINE"
            item.prompt_missing = item.prompt_missing or h.get("Status") == PROMPT_MISSING
        elif event == "Hangup":
            item.hung_up = True
            try:
                item.cause = int(h.get("Cause", ""))
            except ValueError:
                item.cause = None
        return [item] if self._settled(item, now) else []

    def expire(self, now: float) -> list[Watched]:
        """Failed Originates whose channel never came within the grace: settled now."""
        return [
            item
            for item in self._by_action.values()
            if item.response
            and item.response != "Success"
            and not item.hung_up
            and item.responded_at is not None
            and now - item.responded_at >= self.failure_grace
        ]

    @staticmethod
    def _settled(item: Watched, now: float) -> bool:
        if item.hung_up and item.response:
            return True
        # A failure without any channel: nothing more will come (see expire()).
        return bool(item.response) and item.response != "Success" and not item.channel_seen


def reported(
    action_id: str,
    channel_id: str,
    *,
    digit: str,
    missing_prompt: str,
    answered: bool,
    cause: int | None,
    variables: dict[str, Any],
    operator_answered: bool,
) -> Watched:
    """What the PBX reported of an attempt whose run is gone, as if its run had watched it.

    From what the service stored while the call went on: the digit the FastAGI notify
    script heard (on the attempt), the tracker's call record (answered, the hang-up
    cause, the ``CALLAGENT_*`` variables the dialplan set). A stored digit means the
    applicant answered: it is never a ``timeout``.
    """
    item = Watched(action_id, channel_id, hung_up=True, cause=cause)
    item.digit = digit[:1] or str(variables.get("CALLAGENT_NOTIFY_DIGIT", ""))[:1]
    item.answered = answered or bool(item.digit) or bool(missing_prompt)
    item.prompt_missing = bool(missing_prompt) or (variables.get(STATUS_VARIABLE) == PROMPT_MISSING)
    item.operator_answered = operator_answered
    return item


@dataclass(frozen=True)
class EntryUpdate:
    """What an attempt's result does to its registry entry."""

    status: str
    last_result: str
    next_attempt_at: datetime | None
    confirmation_digit: str
    do_not_call: bool = False
    attempt_counted: bool = True  # False: the entry's attempts go back by one


def entry_update(
    *,
    result: str,
    digit: str,
    operator_answered: bool,
    attempts: int,
    max_attempts: int,
    retry_delays: dict[str, Any],
    mode: str,
    now: datetime,
) -> EntryUpdate:
    """The entry's new state after an attempt (``attempts`` already counts this one).

    DTMF 1 -> notified; 9 -> do_not_call; 2 -> notified once an operator answered;
    answered without a digit -> retried as ``answered_no_confirmation``; attempts
    exhausted -> not_notified. Operator mode: an answered call waits for the
    operator's wrap-up (status stays ``in_progress``). ``prompt_missing`` (the PBX
    could not play the message) is the PBX's fault, not the applicant's: the attempt
    is not counted and the entry is due again at once; the dialer pauses the campaign
    until the administrator installs the prompts and starts it again.
    """
    if result == PROMPT_MISSING:
        return EntryUpdate("pending", PROMPT_MISSING, now, "", attempt_counted=False)
    if result == "answered":
        if mode == "operator":
            return EntryUpdate("in_progress", "answered", None, "")
        if digit == "1":
            return EntryUpdate("notified", "answered", None, "1")
        if digit == "9":
            return EntryUpdate("do_not_call", "answered", None, "9", do_not_call=True)
        if digit == "2" and operator_answered:
            return EntryUpdate("notified", "answered_operator", None, "2")
        last = "operator_not_reached" if digit == "2" else "answered_no_confirmation"
    else:
        last = result
    if attempts >= max_attempts:
        return EntryUpdate("not_notified", last, None, digit)
    return EntryUpdate(
        "pending", last, now + timedelta(seconds=retry_delay(retry_delays, last)), digit
    )


def retry_delay(retry_delays: Mapping[str, Any], last_result: str) -> float:
    """Seconds before an entry whose last attempt gave ``last_result`` is dialled again."""
    fallback = retry_delays.get(_DELAY_FALLBACK.get(last_result, last_result), 1800)
    return float(retry_delays.get(last_result, fallback))


_DELAY_FALLBACK = {
    "answered_no_confirmation": "no_answer",
    "operator_not_reached": "no_answer",
    "timeout": "failed",
}
