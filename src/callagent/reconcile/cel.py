"""Channel Event Logging (CEL) rows of one call -> the tracker's state of that call.

Pure: no IO, no clock (the shape of wazo-call-logd's CEL interpreter). Each
``eventtype`` has one handler that folds a row into a :class:`CallState`; the
record itself is then derived by :func:`callagent.tracker.records.build_record`,
the same code that derives the records of calls followed live, so a call rebuilt
from CEL and the same call followed over AMI come out alike.

What CEL (``cel.conf``: the events and ``apps`` that ``dialplan/cel.conf``
enables) tells about a call:

- ``CHAN_START`` / ``CHAN_END``: each channel (leg) and when it existed; the first
  channel (uniqueid = linkedid) is the start of the call;
- ``ANSWER``: a leg answered (the operator's leg: the call was answered);
- ``APP_START`` of ``Queue`` (the queue name), ``MixMonitor`` (the recording's file
  name) and ``Dial`` (the dial string of the legs it creates);
- ``BRIDGE_ENTER``: the leg talks (answered, even when an ``ANSWER`` row is missing);
- ``HANGUP``: the Q.850 cause, and ``hangupsource`` (the channel that hung up) in
  its JSON ``extra``;
- ``BLINDTRANSFER`` / ``ATTENDEDTRANSFER``; ``LINKEDID_END``: the call is over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callagent.tracker.state import Attempt, CallState, Leg
from callagent.tracker.tracker import endpoint_of, outcome_from_cause

Classify = Callable[[str], str]
MONITOR_DIR = "/var/spool/asterisk/monitor"  # Asterisk's default astspooldir + /monitor

# Asterisk's ast_cause2str() for the Q.850 causes a contact centre sees; the live
# tracker takes the same text from Hangup's Cause-txt.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    47: "Resource unavailable, unspecified",
    127: "Interworking, unspecified",
}


@dataclass(slots=True)
class CelRow:
    """One CEL event as a backend stored it (column names told apart by the reader)."""

    eventtype: str
    eventtime: float
    channel: str
    uniqueid: str
    linkedid: str
    cid_num: str = ""
    cid_name: str = ""
    exten: str = ""
    context: str = ""
    appname: str = ""
    appdata: str = ""
    peer: str = ""
    userdeftype: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # the store's row order: rows of the same microsecond keep it


def parse_eventtime(value: Any) -> float | None:
    """A CEL ``eventtime`` as epoch seconds.

    Backends store it as ``<seconds>.<microseconds>`` (cel.conf's default
    ``dateformat``: the recorded ``cel_sqlite3_custom`` file), as a timestamp
    column (``cel_pgsql``, ``cel_odbc``) or as ``%F %T`` text; a time without an
    offset is UTC (``usegmtime = yes`` in ``dialplan/cel_pgsql.conf``).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return stamp.timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parse_eventtime(parsed)


def parse_extra(value: Any) -> dict[str, Any]:
    """The JSON object of ``extra`` / ``eventextra`` ({} when empty or not JSON)."""
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        data = json.loads(str(value))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def is_complete(rows: Iterable[CelRow]) -> bool:
    """True when the call is over: ``LINKEDID_END``, or every channel has ended."""
    started: set[str] = set()
    ended: set[str] = set()
    for row in rows:
        if row.eventtype == "LINKEDID_END":
            return True
        if row.eventtype == "CHAN_START":
            started.add(row.uniqueid)
        elif row.eventtype == "CHAN_END":
            ended.add(row.uniqueid)
    return bool(started) and started <= ended


def _first_arg(appdata: str) -> str:
    return appdata.split(",", 1)[0].strip()


class _Fold:
    """The state of one interpretation: the call, plus what only the fold needs."""

    def __init__(self, call: CallState, classify: Classify) -> None:
        self.call = call
        self.classify = classify
        self.in_queue = False
        self.dial_string = ""


Handler = Callable[[_Fold, CelRow], None]


def _leg(fold: _Fold, row: CelRow) -> Leg | None:
    return fold.call.legs.get(row.uniqueid)


def _chan_start(fold: _Fold, row: CelRow) -> None:
    call = fold.call
    if row.uniqueid in call.legs or not row.channel:
        return
    endpoint = endpoint_of(row.channel)
    first = row.uniqueid == call.linkedid
    leg = Leg(
        uniqueid=row.uniqueid,
        channel=row.channel,
        endpoint=endpoint,
        role=fold.classify(endpoint),
        created_at=row.eventtime,
        # "Ring": it called in (the dialplan runs for it); "Down": it was dialled
        initial_state="Ring" if first else "Down",
        caller_number=row.cid_num,
        caller_name=row.cid_name,
        exten=row.exten,
    )
    call.legs[row.uniqueid] = leg
    if first:
        call.partial = False
        call.started_at = row.eventtime
        # An operator's phone calling into the dialplan (a feature code such as *53):
        # a contact only once another party joins, as the live tracker decides.
        call.contact = leg.role != "operator"
    elif leg.role != "local":
        call.contact = True
    call.note(row.eventtime, "channel_created", channel=leg.channel, endpoint=leg.endpoint)
    if not first and leg.role == "trunk":
        leg.dial_string = fold.dial_string
    if not first and leg.role == "operator" and call.attempt_for(leg.uniqueid) is None:
        call.attempts.append(
            Attempt(
                endpoint=endpoint,
                uniqueid=leg.uniqueid,
                channel=leg.channel,
                rang_from=row.eventtime,
                via="queue" if fold.in_queue else "dial",
            )
        )
        for transfer in call.transfers:
            if transfer.get("target_endpoint") is None:
                transfer["target_endpoint"] = endpoint
        call.note(row.eventtime, "ringing", endpoint=endpoint)


def _answer(fold: _Fold, row: CelRow) -> None:
    leg = _leg(fold, row)
    if leg is None or leg.answered_at is not None:
        return
    leg.answered_at = row.eventtime
    call = fold.call
    if leg.uniqueid == call.linkedid and not row.appname:
        # Answered before any dialplan application ran: an Originate placed it.
        leg.initial_state = "Down"
    attempt = call.attempt_for(leg.uniqueid)
    if attempt is not None and attempt.outcome is None:
        attempt.outcome = "answered"
        attempt.rang_to = row.eventtime
        call.note(row.eventtime, "answered", endpoint=leg.endpoint)


def _app_start(fold: _Fold, row: CelRow) -> None:
    call = fold.call
    app = row.appname.lower()
    if app == "queue":
        fold.in_queue = True
        if call.queue_entered_at is None:
            call.queue_name = _first_arg(row.appdata)
            call.queue_entered_at = row.eventtime
            call.note(row.eventtime, "queued", queue=call.queue_name)
    elif app == "mixmonitor" and not call.recording_file:
        name = _first_arg(row.appdata)
        # MixMonitor puts a relative name in Asterisk's monitor folder; the live tracker
        # stores MIXMONITOR_FILENAME, the full path: the same here
        call.recording_file = name if name.startswith("/") else f"{MONITOR_DIR}/{name}"
        call.recording_started_at = row.eventtime
        call.note(row.eventtime, "recording_started", endpoint=endpoint_of(row.channel))
    elif app == "dial":
        fold.dial_string = _first_arg(row.appdata)


def _app_end(fold: _Fold, row: CelRow) -> None:
    if row.appname.lower() == "queue":
        fold.in_queue = False
        call = fold.call
        if call.queue_left_at is None and call.queue_entered_at is not None:
            call.queue_left_at = row.eventtime
            call.note(row.eventtime, "left_queue", queue=call.queue_name)


def _bridge_enter(fold: _Fold, row: CelRow) -> None:
    leg = _leg(fold, row)
    if leg is not None and leg.answered_at is None:
        _answer(fold, row)


def _hangup(fold: _Fold, row: CelRow) -> None:
    leg = _leg(fold, row)
    if leg is None:
        return
    call = fold.call
    cause = row.extra.get("hangupcause")
    leg.cause = cause if isinstance(cause, int) else None
    leg.cause_text = CAUSE_TEXT.get(leg.cause, "") if leg.cause is not None else ""
    source = str(row.extra.get("hangupsource") or "")
    # "dialplan/builtin": the dialplan's Hangup() ended it (an overflow message, a
    # feature code): no party hung up, the call is left to end as "system"
    if source and not source.startswith("dialplan/") and call.hangup_by is None:
        source_leg = next((x for x in call.legs.values() if x.channel == source), None)
        role = source_leg.role if source_leg is not None else fold.classify(endpoint_of(source))
        if role == "trunk":
            call.hangup_by = "applicant"
        elif role == "operator" and (source_leg is None or source_leg.answered_at is not None):
            call.hangup_by = "operator"  # a ringing phone that refused does not end a call
    attempt = call.attempt_for(leg.uniqueid)
    if attempt is not None and attempt.outcome is None:
        attempt.rang_to = row.eventtime
        attempt.outcome = _outcome(call, leg)
    call.note(row.eventtime, "hangup", endpoint=leg.endpoint, cause=leg.cause)


def _outcome(call: CallState, leg: Leg) -> str:
    # CEL has no DialEnd: a phone that stopped ringing because another answered is told here.
    outcome = outcome_from_cause(call, leg)
    if outcome in ("caller_gone", "no_answer") and any(
        a.outcome == "answered" and a.uniqueid != leg.uniqueid for a in call.attempts
    ):
        return "answered_elsewhere"
    return outcome


def _chan_end(fold: _Fold, row: CelRow) -> None:
    leg = _leg(fold, row)
    if leg is not None and leg.ended_at is None:
        leg.ended_at = row.eventtime


def _blind_transfer(fold: _Fold, row: CelRow) -> None:
    call = fold.call
    target = f"{row.extra.get('extension', '')}@{row.extra.get('context', '')}"
    by_endpoint = endpoint_of(row.channel)
    call.transfers.append(
        {
            "kind": "blind",
            "at": row.eventtime,
            "by_endpoint": by_endpoint,
            "target": target,
            "target_endpoint": None,
        }
    )
    call.note(row.eventtime, "transfer", kind="blind", by_endpoint=by_endpoint, target=target)


def _attended_transfer(fold: _Fold, row: CelRow) -> None:
    call = fold.call
    target = str(row.extra.get("transfer_target_channel_name", ""))
    by_endpoint = endpoint_of(row.channel)
    call.transfers.append(
        {
            "kind": "attended",
            "at": row.eventtime,
            "by_endpoint": by_endpoint,
            "target": target,
            "target_endpoint": endpoint_of(target) if target else None,
        }
    )
    call.note(row.eventtime, "transfer", kind="attended", by_endpoint=by_endpoint, target=target)


def _linkedid_end(fold: _Fold, row: CelRow) -> None:
    fold.call.ended_at = row.eventtime


HANDLERS: dict[str, Handler] = {
    "CHAN_START": _chan_start,
    "ANSWER": _answer,
    "APP_START": _app_start,
    "APP_END": _app_end,
    "BRIDGE_ENTER": _bridge_enter,
    "HANGUP": _hangup,
    "CHAN_END": _chan_end,
    "BLINDTRANSFER": _blind_transfer,
    "ATTENDEDTRANSFER": _attended_transfer,
    "LINKEDID_END": _linkedid_end,
}


def interpret(
    node: str, linkedid: str, rows: Sequence[CelRow], classify: Classify
) -> CallState | None:
    """The tracker state of call ``linkedid`` as its CEL rows tell it.

    The state is ``reconstructed``; it is final when the rows say the call is over
    (``LINKEDID_END``, or every channel ended). ``None`` when no row names a channel.
    """
    ordered = sorted(rows, key=lambda r: (r.eventtime, r.seq))
    if not ordered:
        return None
    call = CallState(node=node, linkedid=linkedid, started_at=ordered[0].eventtime, partial=True)
    call.reconstructed = True
    fold = _Fold(call, classify)
    for row in ordered:
        handler = HANDLERS.get(row.eventtype)
        if handler is not None:
            handler(fold, row)
    if not call.legs:
        return None
    if call.ended_at is None and all(leg.ended_at is not None for leg in call.legs.values()):
        call.ended_at = max(leg.ended_at or 0.0 for leg in call.legs.values())
    if call.final:
        if call.hangup_by is None:
            call.hangup_by = "system"
        for attempt in call.attempts:
            if attempt.outcome is None:
                attempt.outcome = "unknown"
                attempt.rang_to = call.ended_at
        call.note(call.ended_at or call.started_at, "ended")
    call.timeline.sort(key=lambda entry: entry["at"])
    call.last_event_at = ordered[-1].eventtime
    return call


def restore_from_cel(call: CallState, cel: CallState) -> bool:
    """Give a call attached mid-call (a resync) what CEL saw before callagent did.

    The real start, each known leg's creation and answer, the ring attempts' start,
    the queue and the recording; what callagent follows live from now on (hang-ups,
    the end) is left to the tracker. Returns True when anything changed.
    """
    if not call.partial or cel.partial:
        return False
    call.started_at = cel.started_at
    call.partial = False
    call.reconstructed = True
    for uniqueid, leg in call.legs.items():
        known = cel.legs.get(uniqueid)
        if known is None:
            continue
        leg.created_at = known.created_at
        leg.initial_state = known.initial_state
        if known.answered_at is not None:
            leg.answered_at = known.answered_at
        if not leg.dial_string:
            leg.dial_string = known.dial_string
    for attempt in call.attempts:
        before = cel.attempt_for(attempt.uniqueid)
        if before is None:
            continue
        attempt.rang_from = before.rang_from
        attempt.via = before.via
        if before.outcome == "answered":
            attempt.outcome = "answered"
            attempt.rang_to = before.rang_to
    if not call.queue_name and cel.queue_name:
        call.queue_name = cel.queue_name
    if cel.queue_entered_at is not None:
        call.queue_entered_at = cel.queue_entered_at
        call.queue_left_at = call.queue_left_at or cel.queue_left_at
    if not call.recording_file and cel.recording_file:
        call.recording_file = cel.recording_file
        call.recording_started_at = cel.recording_started_at
    seen = [
        entry
        for entry in cel.timeline
        if entry["at"] < (call.timeline[0]["at"] if call.timeline else float("inf"))
    ]
    call.timeline = [*seen, {"at": cel.last_event_at, "event": "restored_from_cel"}, *call.timeline]
    return True
