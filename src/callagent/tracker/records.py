"""Call records derived from tracker state: what is stored, served and replayed.

A record is a pure function of a :class:`CallState`; the same events always
give the same record, which is what makes processing idempotent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from callagent.tracker.state import Attempt, CallState, Leg

# Q.850 cause codes as Asterisk reports them in Hangup's Cause.
_BUSY = {17}
_REJECTED = {21}
_NO_ANSWER = {0, 16, 18, 19, 20}
_CONGESTION = {34, 38, 41, 42, 44, 47}


@dataclass(frozen=True, slots=True)
class LegRecord:
    """One channel of a call, as stored."""

    uniqueid: str
    channel: str
    endpoint: str
    role: str
    created_at: float
    answered_at: float | None
    ended_at: float | None
    cause: int | None
    cause_text: str
    hangup_requested: bool
    closed_by_resync: bool


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One ring of an operator's phone, as stored."""

    seq: int
    endpoint: str
    uniqueid: str
    channel: str
    via: str
    rang_from: float
    rang_to: float | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The call record (карточка звонка): one per Linkedid, however many legs rang."""

    node: str
    linkedid: str
    direction: str
    caller_number: str
    caller_name: str
    dialled_number: str
    applicant_number: str
    started_at: float
    queue_entered_at: float | None
    first_ring_at: float | None
    answered_at: float | None
    ended_at: float | None
    wait_seconds: float | None
    ring_seconds: float | None
    talk_seconds: float | None
    hold_seconds: float
    operator_endpoint: str | None
    disposition: str
    hangup_by: str | None
    hangup_cause: int | None
    hangup_cause_text: str
    queue_name: str
    recording_file: str
    final: bool
    partial: bool
    closed_by_resync: bool
    variables: dict[str, str] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    originate: dict[str, str] = field(default_factory=dict)
    legs: list[LegRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    reconstructed: bool = False  # built from the PBX's CEL store, not followed live

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the field names of the HTTP API."""
        return asdict(self)


def _round(value: float | None) -> float | None:
    return None if value is None else round(max(value, 0.0), 3)


def _first_leg(call: CallState) -> Leg | None:
    legs = [leg for leg in call.legs.values() if leg.role != "local"]
    if not legs:
        return None
    own = call.legs.get(call.linkedid)
    if own is not None and own.role != "local":
        return own
    return min(legs, key=lambda leg: leg.created_at)


def _direction(call: CallState, first: Leg | None) -> str:
    if first is None:
        return "internal"
    if first.role == "trunk":
        return "outbound" if first.initial_state == "Down" else "inbound"
    if any(leg.role == "trunk" for leg in call.legs.values()):
        return "outbound"
    return "internal"


def _number_from_dial_string(dial_string: str) -> str:
    # "79161234567@trunk", "PJSIP/79161234567@trunk", "trunk/79161234567"
    target = dial_string.split("&", 1)[0]
    if "@" in target:
        target = target.split("@", 1)[0]
        return target.rsplit("/", 1)[-1]
    return target.rsplit("/", 1)[-1]


def _operator_leg(call: CallState, direction: str, first: Leg | None) -> Leg | None:
    answered = [
        leg
        for leg in call.legs.values()
        if leg.role == "operator" and leg.answered_at is not None and leg is not first
    ]
    if answered:
        return min(answered, key=lambda leg: leg.answered_at or 0.0)
    if direction == "outbound" and first is not None and first.role == "operator":
        return first
    return None


def _applicant_leg(call: CallState, first: Leg | None) -> Leg | None:
    if first is not None and first.role == "trunk":
        return first
    trunks = [leg for leg in call.legs.values() if leg.role == "trunk"]
    return min(trunks, key=lambda leg: leg.created_at) if trunks else None


def _disposition(
    call: CallState,
    direction: str,
    applicant: Leg | None,
    answered_at: float | None,
    operator: Leg | None,
) -> str:
    if direction == "inbound":
        if operator is not None:
            return "answered"
        if not call.final:
            return "in_progress"
        if call.hangup_by == "applicant" or call.queue_abandoned:
            return "abandoned"
        return "no_answer"
    if answered_at is not None:
        return "answered"
    if not call.final:
        return "in_progress"
    cause = applicant.cause if applicant is not None else None
    if cause in _BUSY:
        return "busy"
    if cause in _REJECTED:
        return "rejected"
    if cause in _CONGESTION:
        return "congestion"
    if cause is None or cause in _NO_ANSWER:
        return "no_answer"
    return "failed"


def build_record(call: CallState) -> CallRecord:
    """Derive the call record from the tracker's state of one call."""
    first = _first_leg(call)
    direction = _direction(call, first)
    applicant = _applicant_leg(call, first)
    operator = _operator_leg(call, direction, first)

    caller_number = caller_name = dialled = ""
    if first is not None:
        caller_number, caller_name = first.caller_number, first.caller_name
    if direction == "inbound" and first is not None:
        dialled = first.exten
        applicant_number = caller_number
    elif direction == "outbound":
        if applicant is not None and applicant.dial_string:
            dialled = _number_from_dial_string(applicant.dial_string)
        elif first is not None and first.role == "operator":
            dialled = first.exten
        applicant_number = dialled
    else:
        dialled = first.exten if first is not None else ""
        applicant_number = ""
    if not caller_number:
        caller_number = call.cdr_source
    if not dialled:
        dialled = call.cdr_destination

    rings = [a.rang_from for a in call.attempts]
    first_ring_at = min(rings) if rings else None
    if direction == "inbound" or applicant is None:
        answered_at = operator.answered_at if operator is not None else None
    else:
        answered_at = applicant.answered_at  # outbound: when the applicant picked up
    if direction == "outbound" and applicant is not None and applicant.ringing_at is not None:
        first_ring_at = (
            applicant.ringing_at
            if first_ring_at is None
            else min(first_ring_at, applicant.ringing_at)
        )

    end = call.ended_at
    hold = sum(leg.hold_seconds for leg in call.legs.values())
    wait = ring = talk = None
    if direction == "inbound":
        until = answered_at if answered_at is not None else end
        wait = None if until is None else until - call.started_at
        if first_ring_at is not None:
            ring_end = answered_at if answered_at is not None else end
            ring = None if ring_end is None else ring_end - first_ring_at
    elif first_ring_at is not None:
        ring_end = answered_at if answered_at is not None else end
        ring = None if ring_end is None else ring_end - first_ring_at
    if answered_at is not None and end is not None:
        talk = end - answered_at - hold

    cause_leg = applicant or first
    record_legs = [
        LegRecord(
            uniqueid=leg.uniqueid,
            channel=leg.channel,
            endpoint=leg.endpoint,
            role=leg.role,
            created_at=leg.created_at,
            answered_at=leg.answered_at,
            ended_at=leg.ended_at,
            cause=leg.cause,
            cause_text=leg.cause_text,
            hangup_requested=leg.hangup_requested_at is not None,
            closed_by_resync=leg.closed_by_resync,
        )
        for leg in call.legs.values()
    ]
    return CallRecord(
        node=call.node,
        linkedid=call.linkedid,
        direction=direction,
        caller_number=caller_number,
        caller_name=caller_name,
        dialled_number=dialled,
        applicant_number=applicant_number,
        started_at=call.started_at,
        queue_entered_at=call.queue_entered_at,
        first_ring_at=first_ring_at,
        answered_at=answered_at,
        ended_at=end,
        wait_seconds=_round(wait),
        ring_seconds=_round(ring),
        talk_seconds=_round(talk),
        hold_seconds=round(hold, 3),
        operator_endpoint=operator.endpoint if operator is not None else None,
        disposition=_disposition(call, direction, applicant, answered_at, operator),
        hangup_by=call.hangup_by if call.final else None,
        hangup_cause=cause_leg.cause if cause_leg is not None else None,
        hangup_cause_text=cause_leg.cause_text if cause_leg is not None else "",
        queue_name=call.queue_name,
        recording_file=call.recording_file,
        final=call.final,
        partial=call.partial,
        closed_by_resync=call.closed_by_resync,
        variables=dict(call.variables),
        transfers=[dict(t) for t in call.transfers],
        originate=dict(call.originate),
        legs=record_legs,
        attempts=[_attempt_record(seq, a) for seq, a in enumerate(call.attempts, start=1)],
        timeline=[dict(entry) for entry in call.timeline],
        reconstructed=call.reconstructed,
    )


def _attempt_record(seq: int, attempt: Attempt) -> AttemptRecord:
    return AttemptRecord(
        seq=seq,
        endpoint=attempt.endpoint,
        uniqueid=attempt.uniqueid,
        channel=attempt.channel,
        via=attempt.via,
        rang_from=attempt.rang_from,
        rang_to=attempt.rang_to,
        outcome=attempt.outcome,
    )
