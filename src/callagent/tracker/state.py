"""The tracker's in-memory state: channels (legs), operator attempts, calls.

Plain mutable dataclasses owned by :class:`callagent.tracker.tracker.Tracker`;
what a call *is* (direction, disposition, durations) is derived from them in
:mod:`callagent.tracker.records`, never stored twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CallKey = tuple[str, str]  # (PBX node, Linkedid)


@dataclass(slots=True)
class Leg:
    """One Asterisk channel of a call."""

    uniqueid: str
    channel: str
    endpoint: str
    role: str  # "trunk" (the applicant's side), "operator", "local"
    created_at: float
    initial_state: str = ""  # ChannelStateDesc at Newchannel: "Ring" = it called in
    caller_number: str = ""
    caller_name: str = ""
    exten: str = ""
    ringing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    cause: int | None = None
    cause_text: str = ""
    hangup_requested_at: float | None = None
    on_hold_since: float | None = None
    hold_seconds: float = 0.0
    dial_string: str = ""
    dialled: bool = False  # a DialBegin created or rang this leg
    dialled_from: str = ""  # the channel whose Dial rang this leg (finds who is behind a Local)
    transferer: bool = False  # handed its call on (transfer): its hang-up does not end the call
    closed_by_resync: bool = False


@dataclass(slots=True)
class Attempt:
    """One time an operator's phone was rung for this call."""

    endpoint: str
    uniqueid: str
    channel: str
    rang_from: float
    via: str = "dial"  # "dial", "queue", "originate", "transfer"
    rang_to: float | None = None
    outcome: str | None = None  # answered, no_answer, busy, rejected, caller_gone, ...


@dataclass(slots=True)
class CallState:
    """Everything the tracker knows of one call (one Linkedid on one node)."""

    node: str
    linkedid: str
    started_at: float
    partial: bool = False  # attached mid-call: the start was not seen
    legs: dict[str, Leg] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    queue_name: str = ""
    queue_entered_at: float | None = None
    queue_left_at: float | None = None
    queue_abandoned: bool = False
    hangup_by: str | None = None
    hangup_leg: str = ""  # the uniqueid whose HangupRequest set hangup_by
    recording_file: str = ""
    recording_started_at: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    originate: dict[str, str] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    cdr_source: str = ""
    cdr_destination: str = ""
    last_event_at: float = 0.0
    last_seq: int = 0  # the tracker's event counter when this call last changed
    ended_at: float | None = None
    closed_by_resync: bool = False
    # False while the call is only an operator's phone talking to the dialplan (a feature
    # code such as *51, voicemail): such a call is not a contact and is never stored. It
    # becomes one (for good) as soon as a channel of another party joins it.
    contact: bool = True
    # Built after the fact from the PBX's CEL store (callagent was away for all or
    # part of the call), not followed live: callagent/reconcile.
    reconstructed: bool = False
    # The transfer (index in ``transfers``) whose target has not answered yet: the
    # phones rung next are its attempts, and the first of them to answer took it.
    open_transfer: int = -1
    # Set when this call was joined into another one (a consultation call after an
    # attended or blonde transfer, a picked-up phone's own call): it has no record.
    merged_into: str = ""
    # The transfer events already applied (their channels and target): a duplicated
    # event is not a second transfer.
    seen_transfers: list[str] = field(default_factory=list)

    @property
    def key(self) -> CallKey:
        """(node, linkedid): the call's identity."""
        return (self.node, self.linkedid)

    @property
    def final(self) -> bool:
        """True once the last channel of the call is gone."""
        return self.ended_at is not None

    def note(self, at: float, event: str, **detail: Any) -> None:
        """Append a line to the call's timeline."""
        entry: dict[str, Any] = {"at": at, "event": event}
        entry.update(detail)
        self.timeline.append(entry)

    def attempt_for(self, uniqueid: str) -> Attempt | None:
        """The attempt that rang the channel ``uniqueid``, if any."""
        for attempt in self.attempts:
            if attempt.uniqueid == uniqueid:
                return attempt
        return None


@dataclass(slots=True)
class DeviceState:
    """What the PBX last said about one endpoint (phone, headset, trunk)."""

    node: str
    device: str
    state: str = "UNKNOWN"  # DeviceStateChange: NOT_INUSE, INUSE, RINGING, UNAVAILABLE...
    contact_status: str = ""  # ContactStatus: Created, NonQualified, Reachable, Removed...
    reachable: bool | None = None  # PeerStatus Reachable / Unreachable
    contact_uri: str = ""
    roundtrip_usec: int | None = None
    updated_at: float = 0.0

    @property
    def registered(self) -> bool:
        """True when the endpoint can take a call as far as the PBX knows."""
        if self.contact_status in ("Removed", "Unreachable") or self.reachable is False:
            return False
        if self.contact_status in ("Created", "NonQualified", "Reachable", "Updated"):
            return True
        return self.state not in ("UNAVAILABLE", "INVALID", "UNKNOWN")


def state_to_json(call: CallState) -> dict[str, Any]:
    """Everything the tracker knows of a call, as JSON (kept with unfinished calls so that
    a restarted callagent carries on where it stopped)."""
    return asdict(call)


def state_from_json(data: dict[str, Any]) -> CallState:
    """The inverse of :func:`state_to_json`."""
    values = dict(data)
    legs = {uid: Leg(**leg) for uid, leg in values.pop("legs").items()}
    attempts = [Attempt(**attempt) for attempt in values.pop("attempts")]
    call = CallState(**values)
    call.legs = legs
    call.attempts = attempts
    return call
