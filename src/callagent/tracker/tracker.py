"""The tracker: a pure state machine from AMI events to calls and devices.

``Tracker.feed(node, message, received_at)`` folds one event into the state of
its call, keyed by (PBX node, Linkedid), and returns the domain events it
caused. No IO and no clock: the time of an event is its ``Timestamp`` header
when Asterisk sends one, else the ``received_at`` the caller passes in.
Changed calls and devices are collected in ``dirty_calls`` / ``dirty_devices``
for the writer to drain.

Rules that real Asterisk traffic taught us (``shared/pbx-traces/README.md``):
- every leg of a call, retries and transfer targets included, shares the Linkedid;
  a channel bridged with another call takes that call's Linkedid (the oldest wins)
  and so joins it, and an attended or blonde transfer joins the consultation call into
  the transferred one: one call, one record (cacofonisk's recordings,
  ``tests/fixtures/cacofonisk``);
- ``HangupRequest`` marks the leg whose far end hung up; ``SoftHangupRequest``
  says nothing about who did;
- a call is final when its last channel is gone (no CEL needed);
- events may be duplicated, reordered, or seen from the middle of a call;
- a call that an operator's phone places into the dialplan and that no other party
  ever joins (the feature codes ``*51``..``*54``, a voicemail check) is not a contact:
  it is never stored as a call record, makes no wrap-up, and its end names no operator
  (``live/live_feature_codes``). What the feature code did is in the operator's state
  history (cause ``feature_code``); Asterisk's own CDR keeps the dial if one needs it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from callagent.ami.parser import AmiMessage
from callagent.tracker.channels import endpoint_of as endpoint_of  # also its old home
from callagent.tracker.events import (
    AttemptEnded,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallStarted,
    DeviceChanged,
    DomainEvent,
    NodeRestarted,
    OperatorRinging,
    OriginateResult,
)
from callagent.tracker.state import Attempt, CallKey, CallState, DeviceState, Leg
from callagent.tracker.transfers import CallJoins

Handler = Callable[[str, AmiMessage, float], None]

_DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CANCEL": "caller_gone",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
    "DONTCALL": "rejected",
    "TORTURE": "rejected",
    "INVALIDARGS": "failed",
}
# Channels that are not part of any call.
_PSEUDO_CHANNELS = ("OutgoingSpoolFailed", "Message/", "Announcer/", "Recorder/", "CBAnn/")


def outcome_from_cause(call: CallState, leg: Leg) -> str:
    """An ended attempt's outcome from its leg: answered, busy, rejected, caller gone, no answer."""
    if leg.answered_at is not None:
        return "answered"
    if leg.cause == 17:
        return "busy"
    if leg.cause == 21:
        return "rejected"
    applicant_gone = any(
        other.role == "trunk" and other.ended_at is not None for other in call.legs.values()
    )
    if applicant_gone or call.hangup_by == "applicant":
        return "caller_gone"
    return "no_answer"


def _cause(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


class Tracker(CallJoins):
    """Folds AMI events of one or more PBX nodes into calls and device states.

    Transfers, pickups and the moves of channels between calls are in
    :mod:`callagent.tracker.transfers`.
    """

    def __init__(
        self,
        trunk_endpoints: Iterable[str] = ("PJSIP/trunk",),
        finished_memory: int = 20_000,
        *,
        trunks_override: bool = True,
    ) -> None:
        self.trunk_endpoints = tuple(trunk_endpoints)
        # False when CALLAGENT_TRUNK_ENDPOINTS is left at its default: then a phone that
        # belongs to no operator is the applicant's side too (see classify).
        self.trunks_override = trunks_override
        # Every operator's phone, as the service last read them (empty: not known).
        self.operator_endpoints: frozenset[str] = frozenset()
        self.finished_memory = finished_memory
        self.calls: dict[CallKey, CallState] = {}
        self.devices: dict[tuple[str, str], DeviceState] = {}
        self.dirty_calls: set[CallKey] = set()
        self.dirty_devices: set[tuple[str, str]] = set()
        self.events_seen = 0
        self.events_ignored_late = 0
        self._by_uniqueid: dict[tuple[str, str], CallKey] = {}
        self._finished: OrderedDict[CallKey, float] = OrderedDict()
        self._finished_records: dict[CallKey, CallState] = {}
        # A call joined into another (see _merge) -> the call it joined, for events
        # that still carry its Linkedid; bounded like _finished.
        self._merged: OrderedDict[CallKey, CallKey] = OrderedDict()
        # Calls joined into another since the writer last looked: a record it may
        # have stored while they were in progress is deleted.
        self.merged_calls: set[CallKey] = set()
        self._out: list[DomainEvent] = []
        self._handlers: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_newcallerid,
            "NewConnectedLine": self._on_touch,
            "VarSet": self._on_varset,
            "DialBegin": self._on_dialbegin,
            "DialEnd": self._on_dialend,
            "BridgeEnter": self._on_bridgeenter,
            "BridgeLeave": self._on_touch,
            "Hold": self._on_hold,
            "Unhold": self._on_unhold,
            "BlindTransfer": self._on_blindtransfer,
            "AttendedTransfer": self._on_attendedtransfer,
            "Pickup": self._on_pickup,
            "HangupRequest": self._on_hanguprequest,
            "Hangup": self._on_hangup,
            "Cdr": self._on_cdr,
            "MixMonitorStart": self._on_mixmonitorstart,
            "QueueCallerJoin": self._on_queuecallerjoin,
            "QueueCallerLeave": self._on_queuecallerleave,
            "QueueCallerAbandon": self._on_queuecallerabandon,
            "AgentCalled": self._on_agentcalled,
            "AgentConnect": self._on_agentconnect,
            "AgentComplete": self._on_touch,
            "AgentRingNoAnswer": self._on_agentringnoanswer,
            "OriginateResponse": self._on_originateresponse,
            "DeviceStateChange": self._on_devicestatechange,
            "ContactStatus": self._on_contactstatus,
            "ContactList": self._on_contactlist,
            "PeerStatus": self._on_peerstatus,
            "FullyBooted": self._on_fullybooted,
            "Shutdown": self._on_shutdown,
            "CoreShowChannel": self._on_coreshowchannel,
        }

    # ----------------------------------------------------------------- entry

    def feed(self, node: str, message: AmiMessage, received_at: float) -> list[DomainEvent]:
        """Apply one AMI event; return the domain events it caused."""
        handler = self._handlers.get(message.headers.get("Event", ""))
        if handler is None:
            return []
        self.events_seen += 1
        stamp = message.headers.get("Timestamp")
        at = received_at
        if stamp:
            try:
                at = float(stamp)
            except ValueError:
                at = received_at
        self._out = []
        handler(node, message, at)
        return self._out

    def classify(self, endpoint: str) -> str:
        """The role of a device in a call: trunk (applicant side), operator, local.

        The configured trunks are the applicant's side. With the setting left at its
        default and the operators' phones known, so is every other endpoint that is no
        operator's phone (a second trunk such as ``PJSIP/trunk-dead`` needs no setting);
        a configured list is an override: every endpoint not on it is an operator's.
        """
        if endpoint.startswith("Local/"):
            return "local"
        for trunk in self.trunk_endpoints:
            if endpoint == trunk or endpoint.startswith(trunk + "/"):
                return "trunk"
        phones = self.operator_endpoints
        if phones and not self.trunks_override and endpoint not in phones:
            return "trunk"
        return "operator"

    def restore(self, call: CallState) -> None:
        """Carry on following a call saved by an earlier run (the resync then decides)."""
        if call.key in self.calls or call.final:
            return
        call.last_seq = 0  # an earlier run's counter means nothing to this one
        self.calls[call.key] = call
        for uniqueid in call.legs:
            self._by_uniqueid[(call.node, uniqueid)] = call.key

    def forget_node(self, node: str) -> None:
        """Drop everything known of ``node`` (another callagent instance follows it now:
        what it stores wins, and this tracker takes the node up again from the database)."""
        for key in [k for k in self.calls if k[0] == node]:
            del self.calls[key]
        for ids in (self._by_uniqueid, self.devices):
            for key in [k for k in ids if k[0] == node]:
                del ids[key]
        for keys in (self._finished, self._finished_records, self._merged):
            for key in [k for k in keys if k[0] == node]:
                del keys[key]
        for marks in (self.dirty_calls, self.dirty_devices, self.merged_calls):
            for key in [k for k in marks if k[0] == node]:
                marks.discard(key)

    def active_calls(self, node: str | None = None) -> list[CallState]:
        """Calls not yet final, of one node or of all."""
        return [c for c in self.calls.values() if node is None or c.node == node]

    def finished_call(self, key: CallKey) -> CallState | None:
        """A call that ended recently (kept for the writer until it drains it)."""
        return self._finished_records.get(key)

    def release_finished(self, key: CallKey) -> None:
        """Forget the full state of a finished call once it is stored."""
        self._finished_records.pop(key, None)

    # ------------------------------------------------------------- lookups

    def _call_for(
        self,
        node: str,
        m: AmiMessage,
        at: float,
        *,
        prefix: str = "",
        create: bool = True,
        activity: bool = True,
    ) -> tuple[CallState, Leg] | None:
        """The call and leg an event is about, attaching mid-call when unknown.

        ``activity=False`` (resync listings) does not count as news of the call.
        """
        h = m.headers
        uniqueid = h.get(prefix + "Uniqueid", "")
        channel = h.get(prefix + "Channel", "")
        if not uniqueid or not channel or channel.startswith(_PSEUDO_CHANNELS):
            return None
        key = self._by_uniqueid.get((node, uniqueid))
        if key is not None:
            call = self.calls.get(key)
            if call is not None:
                leg = call.legs.get(uniqueid)
                if leg is not None:
                    if not prefix:  # a channel's own event, not a snapshot in another's
                        call = self._follow_linkedid(call, leg, h.get("Linkedid", ""), at)
                    if activity:
                        call.last_event_at = max(call.last_event_at, at)
                        call.last_seq = self.events_seen
                    return call, leg
        linkedid = h.get(prefix + "Linkedid", "") or uniqueid
        key = self._resolve((node, linkedid))
        if key in self._finished:
            self.events_ignored_late += 1
            return None
        if not create:
            return None
        call = self.calls.get(key)
        if call is None:
            call = CallState(node=node, linkedid=key[1], started_at=at, partial=True)
            self.calls[key] = call
            call.note(at, "attached", channel=channel)
            self._out.append(CallStarted(key))
        leg = self._new_leg(call, h, prefix, at)
        if activity:
            call.last_event_at = max(call.last_event_at, at)
            call.last_seq = self.events_seen
        return call, leg

    def _new_leg(self, call: CallState, h: dict[str, str], prefix: str, at: float) -> Leg:
        channel = h[prefix + "Channel"]
        uniqueid = h[prefix + "Uniqueid"]
        endpoint = endpoint_of(channel)
        leg = Leg(
            uniqueid=uniqueid,
            channel=channel,
            endpoint=endpoint,
            role=self.classify(endpoint),
            created_at=at,
            initial_state=h.get(prefix + "ChannelStateDesc", ""),
            caller_number=_known(h.get(prefix + "CallerIDNum", "")),
            caller_name=_known(h.get(prefix + "CallerIDName", "")),
            exten=h.get(prefix + "Exten", ""),
        )
        if leg.initial_state == "Up" and call.partial:
            leg.answered_at = at
        call.legs[uniqueid] = leg
        self._by_uniqueid[(call.node, uniqueid)] = call.key
        if not call.contact and leg.role != "local" and uniqueid != call.linkedid:
            call.contact = True  # another party joined the operator's call
        self._touch(call)
        return leg

    def _dials_in_from_phone(self, h: dict[str, str]) -> bool:
        """True when a Newchannel is an operator's phone calling into the dialplan."""
        role = self.classify(endpoint_of(h.get("Channel", "")))
        return role == "operator" and h.get("ChannelStateDesc", "") == "Ring"

    # ------------------------------------------------------------ channels

    def _on_newchannel(self, node: str, m: AmiMessage, at: float) -> None:
        h = m.headers
        uniqueid = h.get("Uniqueid", "")
        channel = h.get("Channel", "")
        if not uniqueid or not channel or channel.startswith(_PSEUDO_CHANNELS):
            return
        if (node, uniqueid) in self._by_uniqueid:
            return  # a duplicate Newchannel
        linkedid = h.get("Linkedid", "") or uniqueid
        key = self._resolve((node, linkedid))
        if key in self._finished:
            self.events_ignored_late += 1
            return
        call = self.calls.get(key)
        if call is None:
            call = CallState(node=node, linkedid=linkedid, started_at=at)
            # The first channel of a call placed by an operator's phone: a contact only
            # once somebody else joins (see the module's rules).
            call.contact = uniqueid != linkedid or not self._dials_in_from_phone(h)
            self.calls[key] = call
            self._out.append(CallStarted(key))
        leg = self._new_leg(call, h, "", at)
        if uniqueid == call.linkedid:
            call.partial = False
            call.started_at = min(call.started_at, at)
        call.last_event_at = max(call.last_event_at, at)
        call.last_seq = self.events_seen
        call.note(at, "channel_created", channel=leg.channel, endpoint=leg.endpoint)

    def _on_newstate(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        state = m.headers.get("ChannelStateDesc", "")
        if state == "Ringing" and leg.ringing_at is None:
            leg.ringing_at = at
            if leg.role == "trunk" and leg.initial_state == "Down":
                call.note(at, "applicant_ringing", endpoint=leg.endpoint)
        elif state == "Up" and leg.answered_at is None:
            leg.answered_at = at
            self._leg_answered(call, leg, at)
        self._touch(call)

    def _leg_answered(self, call: CallState, leg: Leg, at: float) -> None:
        attempt = call.attempt_for(leg.uniqueid)
        if attempt is not None and attempt.outcome is None:
            attempt.outcome = "answered"
            attempt.rang_to = at
            self._settle_transfer(call, attempt)
        if leg.role == "operator" and attempt is not None:
            call.note(at, "answered", endpoint=leg.endpoint)
            self._out.append(CallAnswered(call.key, leg.endpoint))
        elif leg.role == "trunk" and leg.initial_state == "Down":
            call.note(at, "applicant_answered", endpoint=leg.endpoint)

    def _on_newcallerid(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        if not leg.caller_number:
            leg.caller_number = _known(m.headers.get("CallerIDNum", ""))
            leg.caller_name = _known(m.headers.get("CallerIDName", ""))
        self._touch(call)

    def _on_touch(self, node: str, m: AmiMessage, at: float) -> None:
        self._call_for(node, m, at)

    def _on_varset(self, node: str, m: AmiMessage, at: float) -> None:
        name = m.headers.get("Variable", "")
        if not (name.startswith("CALLAGENT_") or name == "MIXMONITOR_FILENAME"):
            return  # half of all AMI traffic: leave it as fast as possible
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, _ = found
        _keep_variable(call, name, m.headers.get("Value", ""))
        self._touch(call)

    # ---------------------------------------------------------------- dial

    def _on_dialbegin(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Dest")
        if found is None:
            return
        call, dest = found
        if dest.dialled:
            return  # a duplicate DialBegin
        dest.dialled = True
        dest.dial_string = m.headers.get("DialString", "")
        caller = m.headers.get("Channel")
        dest.dialled_from = caller or ""
        via = "dial" if caller else "originate"
        if call.open_transfer >= 0 or any(t.get("target_endpoint") is None for t in call.transfers):
            via = "transfer"  # the dial that follows a blind transfer
        picked_up = self._picked_up(node, call, dest, m.headers.get("Uniqueid", ""), at)
        if picked_up is not None:
            call, via = picked_up, "pickup"
        if dest.role == "operator" and call.attempt_for(dest.uniqueid) is None:
            call.attempts.append(
                Attempt(
                    endpoint=dest.endpoint,
                    uniqueid=dest.uniqueid,
                    channel=dest.channel,
                    rang_from=at,
                    via=via,
                )
            )
            for transfer in call.transfers:
                if transfer.get("target_endpoint") is None:
                    transfer["target_endpoint"] = dest.endpoint
            call.note(at, "ringing", endpoint=dest.endpoint)
            self._out.append(OperatorRinging(call.key, dest.endpoint, dest.uniqueid))
        elif dest.role == "trunk":
            call.note(at, "dialling_applicant", endpoint=dest.endpoint)
        self._touch(call)

    def _on_dialend(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Dest")
        if found is None:
            return
        call, dest = found
        status = m.headers.get("DialStatus", "")
        attempt = call.attempt_for(dest.uniqueid)
        if attempt is not None and attempt.outcome is None:
            outcome = _DIAL_OUTCOMES.get(status, "failed")
            if m.headers.get("Forward"):
                outcome = "forwarded"  # the phone sent the call on (302): the next Dial follows
            elif outcome == "caller_gone" and any(a.via == "pickup" for a in call.attempts):
                outcome = "picked_up_elsewhere"
            elif outcome == "caller_gone" and self._answered_elsewhere(call, dest):
                outcome = "answered_elsewhere"
            attempt.outcome = outcome
            attempt.rang_to = at
            if outcome == "answered":
                if dest.answered_at is None:
                    dest.answered_at = at
                call.note(at, "answered", endpoint=dest.endpoint)
                self._out.append(CallAnswered(call.key, dest.endpoint))
                self._settle_transfer(call, attempt)
            else:
                call.note(at, "not_answered", endpoint=dest.endpoint, outcome=outcome)
                self._out.append(AttemptEnded(call.key, dest.endpoint, outcome))
        elif status == "ANSWER" and dest.answered_at is None:
            dest.answered_at = at
            self._leg_answered(call, dest, at)
        self._touch(call)

    @staticmethod
    def _answered_elsewhere(call: CallState, dest: Leg) -> bool:
        return any(a.outcome == "answered" and a.uniqueid != dest.uniqueid for a in call.attempts)

    def _on_bridgeenter(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        # Attached mid-call: an operator leg in a bridge has answered.
        if leg.answered_at is None and call.partial:
            leg.answered_at = at
        self._touch(call)

    # ---------------------------------------------------------------- hold

    def _on_hold(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        if leg.on_hold_since is None:
            leg.on_hold_since = at
            call.note(at, "hold", endpoint=leg.endpoint)
            self._out.append(CallHeld(call.key, leg.endpoint, held=True))
            self._touch(call)

    def _on_unhold(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        self._end_hold(call, leg, at)

    def _end_hold(self, call: CallState, leg: Leg, at: float) -> None:
        if leg.on_hold_since is not None:
            leg.hold_seconds += max(at - leg.on_hold_since, 0.0)
            leg.on_hold_since = None
            call.note(at, "unhold", endpoint=leg.endpoint)
            self._out.append(CallHeld(call.key, leg.endpoint, held=False))
            self._touch(call)

    # -------------------------------------------------------------- hangup

    def _on_hanguprequest(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        if leg.hangup_requested_at is None:
            leg.hangup_requested_at = at
        if call.hangup_by is None and not leg.transferer:
            if leg.role == "trunk":
                call.hangup_by = "applicant"
            elif leg.role == "operator" and (
                leg.answered_at is not None or call.attempt_for(leg.uniqueid) is None
            ):
                # A ringing operator leg that refuses (486) is not the end of the call.
                attempt = call.attempt_for(leg.uniqueid)
                if attempt is None or attempt.outcome in (None, "answered"):
                    call.hangup_by = "operator"
            if call.hangup_by is not None:
                call.hangup_leg = leg.uniqueid
        self._touch(call)

    def _on_hangup(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        if leg.ended_at is not None:
            return  # a duplicate Hangup
        leg.ended_at = at
        leg.cause = _cause(m.headers.get("Cause", ""))
        leg.cause_text = m.headers.get("Cause-txt", "")
        self._end_hold(call, leg, at)
        attempt = call.attempt_for(leg.uniqueid)
        if attempt is not None and attempt.outcome is None:
            attempt.rang_to = at
            attempt.outcome = outcome_from_cause(call, leg)
            self._out.append(AttemptEnded(call.key, leg.endpoint, attempt.outcome))
        elif attempt is not None and attempt.outcome in ("busy", "failed") and leg.cause == 21:
            attempt.outcome = "rejected"
        call.note(at, "hangup", endpoint=leg.endpoint, cause=leg.cause, cause_text=leg.cause_text)
        self._touch(call)
        self._maybe_finish(call, at)

    def _maybe_finish(self, call: CallState, at: float) -> None:
        if call.final or any(leg.ended_at is None for leg in call.legs.values()):
            return
        if not call.legs:
            # Every leg moved away (attended transfer): nothing of its own is left.
            call.ended_at = at
        else:
            call.ended_at = max(leg.ended_at or at for leg in call.legs.values())
        if call.hangup_by is None:
            call.hangup_by = "system"
        call.note(call.ended_at, "ended")
        self._finish(call)

    def _finish(self, call: CallState) -> None:
        key = call.key
        self.calls.pop(key, None)
        for uniqueid in call.legs:
            self._by_uniqueid.pop((call.node, uniqueid), None)
        self._finished[key] = call.ended_at or 0.0  # late events of it are ignored
        while len(self._finished) > self.finished_memory:
            old_key, _ = self._finished.popitem(last=False)
            self._finished_records.pop(old_key, None)
        if not call.contact:
            # A feature code or another dial that reached nobody: no record, and nobody
            # talked (the dialplan answered the phone to play a prompt): no wrap-up.
            self._out.append(CallEnded(key, ()))
            return
        self._finished_records[key] = call
        self.dirty_calls.add(key)
        talked = tuple(
            dict.fromkeys(
                leg.endpoint
                for leg in call.legs.values()
                if leg.role == "operator" and leg.answered_at is not None
            )
        )
        self._out.append(CallEnded(key, talked))

    # ------------------------------------------------------------ the rest

    def _on_cdr(self, node: str, m: AmiMessage, at: float) -> None:
        # A Cdr comes per dial attempt, often after the last Hangup; it only fills
        # what a call attached mid-call could not see.
        h = m.headers
        key = self._by_uniqueid.get((node, h.get("UniqueID", "")))
        call = self.calls.get(key) if key else None
        if call is None:
            return
        if call.partial:
            call.cdr_source = call.cdr_source or h.get("Source", "")
            call.cdr_destination = call.cdr_destination or h.get("Destination", "")
            self._touch(call)

    def _on_mixmonitorstart(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, leg = found
        if call.recording_started_at is None:
            call.recording_started_at = at
            call.note(at, "recording_started", endpoint=leg.endpoint)
        self._touch(call)

    def _on_queuecallerjoin(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, _ = found
        if call.queue_entered_at is None:
            call.queue_entered_at = at
            call.queue_name = m.headers.get("Queue", "")
            call.note(at, "queued", queue=call.queue_name)
        self._touch(call)

    def _on_queuecallerleave(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, _ = found
        if call.queue_left_at is None:
            call.queue_left_at = at
            call.note(at, "left_queue", queue=m.headers.get("Queue", ""))
        self._touch(call)

    def _on_queuecallerabandon(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at)
        if found is None:
            return
        call, _ = found
        if not call.queue_abandoned:
            call.queue_abandoned = True
            call.note(at, "abandoned_in_queue", queue=m.headers.get("Queue", ""))
        self._touch(call)

    def _on_agentcalled(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Dest")
        if found is None:
            return
        call, dest = found
        if call.attempt_for(dest.uniqueid) is None and dest.role == "operator":
            call.attempts.append(
                Attempt(
                    endpoint=dest.endpoint,
                    uniqueid=dest.uniqueid,
                    channel=dest.channel,
                    rang_from=at,
                    via="queue",
                )
            )
            call.note(at, "ringing", endpoint=dest.endpoint, queue=m.headers.get("Queue", ""))
            self._out.append(OperatorRinging(call.key, dest.endpoint, dest.uniqueid))
        else:
            attempt = call.attempt_for(dest.uniqueid)
            if attempt is not None:
                attempt.via = "queue"
        self._touch(call)

    def _on_agentconnect(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Dest")
        if found is None:
            return
        call, dest = found
        if dest.answered_at is None:
            dest.answered_at = at
            self._leg_answered(call, dest, at)
        self._touch(call)

    def _on_agentringnoanswer(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Dest")
        if found is None:
            return
        call, dest = found
        attempt = call.attempt_for(dest.uniqueid)
        if attempt is not None and attempt.outcome is None:
            attempt.outcome = "no_answer"
            attempt.rang_to = at
            self._out.append(AttemptEnded(call.key, dest.endpoint, "no_answer"))
        self._touch(call)

    def _on_originateresponse(self, node: str, m: AmiMessage, at: float) -> None:
        h = m.headers
        uniqueid = h.get("Uniqueid", "")
        info = {
            "action_id": h.get("ActionID", ""),
            "response": h.get("Response", ""),
            "reason": h.get("Reason", ""),
        }
        key = self._by_uniqueid.get((node, uniqueid))
        call = self.calls.get(key) if key else None
        if call is None and key is not None:
            call = self._finished_records.get(key)
        if call is not None and not call.originate:
            call.originate = info
            call.note(at, "originate_response", **info)
            leg = call.legs.get(uniqueid)
            channel = h.get("Channel", "")
            if leg is not None and not leg.dial_string and "@" in channel:
                # The Originate's own dial string (PJSIP/79161234567@trunk-dead): the
                # number when no DialBegin named it.
                leg.dial_string = channel
            self._touch(call)
        self._out.append(
            OriginateResult(node, info["action_id"], info["response"], info["reason"], uniqueid)
        )

    # ------------------------------------------------------------- devices

    def _device(self, node: str, device: str, at: float) -> DeviceState:
        key = (node, device)
        state = self.devices.get(key)
        if state is None:
            state = self.devices[key] = DeviceState(node=node, device=device)
        state.updated_at = max(state.updated_at, at)
        self.dirty_devices.add(key)
        self._out.append(DeviceChanged(node, device))
        return state

    def _on_devicestatechange(self, node: str, m: AmiMessage, at: float) -> None:
        device = m.headers.get("Device", "")
        if "/" not in device or device.startswith(("Queue:", "Custom:")):
            return
        self._device(node, device, at).state = m.headers.get("State", "UNKNOWN")

    def _on_contactstatus(self, node: str, m: AmiMessage, at: float) -> None:
        h = m.headers
        aor = h.get("AOR", "") or h.get("EndpointName", "")
        if not aor:
            return
        state = self._device(node, f"PJSIP/{aor}", at)
        state.contact_status = h.get("ContactStatus", "")
        state.contact_uri = h.get("URI", state.contact_uri)
        roundtrip = h.get("RoundtripUsec", "")
        state.roundtrip_usec = int(roundtrip) if roundtrip.isdigit() else None
        if state.contact_status == "Reachable":
            state.reachable = True
        elif state.contact_status in ("Unreachable", "Removed"):
            state.reachable = False
        elif state.contact_status in ("Created", "NonQualified"):
            state.reachable = None

    def _on_contactlist(self, node: str, m: AmiMessage, at: float) -> None:
        h = m.headers
        endpoint = h.get("Endpoint", "") or h.get("Aor", "")
        if not endpoint:
            return
        state = self._device(node, f"PJSIP/{endpoint}", at)
        state.contact_status = h.get("Status", state.contact_status)
        state.contact_uri = h.get("Uri", state.contact_uri)

    def _on_peerstatus(self, node: str, m: AmiMessage, at: float) -> None:
        peer = m.headers.get("Peer", "")
        if "/" not in peer:
            return
        status = m.headers.get("PeerStatus", "")
        state = self._device(node, peer, at)
        if status in ("Reachable", "Registered"):
            state.reachable = True
        elif status in ("Unreachable", "Unregistered", "Rejected"):
            state.reachable = False

    def _on_fullybooted(self, node: str, m: AmiMessage, at: float) -> None:
        self._out.append(NodeRestarted(node, shutdown=False))

    def _on_shutdown(self, node: str, m: AmiMessage, at: float) -> None:
        self._out.append(NodeRestarted(node, shutdown=True))

    # -------------------------------------------------------------- resync

    def _on_coreshowchannel(self, node: str, m: AmiMessage, at: float) -> None:
        # A channel listed by CoreShowChannels: attach to it if it is new to us, and
        # take from the listing what the events we missed would have told.
        h = m.headers
        seen_before = (node, h.get("Uniqueid", "")) in self._by_uniqueid
        found = self._call_for(node, m, at, activity=False)
        if found is None:
            return
        call, leg = found
        if seen_before or not call.partial:
            return  # followed from its start (or restored): the listing adds nothing
        self._attach_listed(call, leg, h, at)

    def _attach_listed(self, call: CallState, leg: Leg, h: dict[str, str], at: float) -> None:
        """A leg first met in a resync listing: its age, its answer, its operator.

        ``Duration`` (whole seconds) dates the channel; a leg that is up was answered,
        at a moment the listing does not give: its creation is taken (a ring of a
        second or two counts as talk; the CEL store, when configured, has the real
        moment: callagent/reconcile). An operator's leg dialled by ``Dial`` or
        ``Queue`` is an attempt of the call, and that operator is on it now.
        """
        created = at - _duration(h.get("Duration", ""))
        leg.created_at = created
        call.started_at = min(call.started_at, created)
        application = h.get("Application", "")
        if application == "Queue" and not call.queue_name:
            call.queue_name = h.get("ApplicationData", "").split(",", 1)[0]
        up = h.get("ChannelStateDesc") == "Up"
        if up:
            leg.answered_at = created
        if leg.role != "operator" or leg.uniqueid == call.linkedid:
            return
        attempt = call.attempt_for(leg.uniqueid)
        if attempt is None:
            attempt = Attempt(
                endpoint=leg.endpoint,
                uniqueid=leg.uniqueid,
                channel=leg.channel,
                rang_from=created,
                via="queue" if application == "AppQueue" else "dial",
            )
            call.attempts.append(attempt)
        if up:
            attempt.outcome = "answered"
            attempt.rang_to = created
            call.note(at, "answered", endpoint=leg.endpoint, estimated=True)
            self._out.append(CallAnswered(call.key, leg.endpoint))
        elif h.get("ChannelStateDesc") == "Ringing":
            call.note(at, "ringing", endpoint=leg.endpoint)
            self._out.append(OperatorRinging(call.key, leg.endpoint, leg.uniqueid))
        self._touch(call)

    def listed_variables(self, key: CallKey, variables: dict[str, str]) -> bool:
        """Variables of a call read back from its channel (AMI ``Status``) after a resync:
        what its unseen ``VarSet`` events said. True when the call took any."""
        call = self.calls.get(key)
        if call is None:
            return False
        kept = [_keep_variable(call, name, value) for name, value in variables.items()]
        if any(kept):
            self._touch(call)
        return any(kept)

    def knows(self, key: CallKey) -> bool:
        """True while the tracker follows the call, or saw it end not long ago."""
        return key in self.calls or key in self._finished

    def resync(
        self,
        node: str,
        live_channels: Iterable[AmiMessage],
        at: float,
        *,
        asked_at_seq: int | None = None,
    ) -> list[DomainEvent]:
        """Reconcile a node's calls with what ``CoreShowChannels`` lists as live.

        Channels we did not know are attached; legs we think are up but the PBX no
        longer has are closed at the last moment we heard of their call, flagged
        ``closed_by_resync``; calls left with no live leg become final. Calls that
        changed after the list was asked for (``asked_at_seq``, a value of
        ``events_seen``) are left alone: the list cannot know them.
        """
        out: list[DomainEvent] = []
        live: set[str] = set()
        for message in live_channels:
            live.add(message.get("Uniqueid"))
            out.extend(self.feed(node, message, at))
        self._out = out
        for call in [c for c in self.calls.values() if c.node == node]:
            if asked_at_seq is not None and call.last_seq > asked_at_seq:
                continue
            closed_any = False
            for leg in call.legs.values():
                if leg.ended_at is None and leg.uniqueid not in live:
                    leg.ended_at = call.last_event_at or at
                    leg.closed_by_resync = True
                    closed_any = True
                    attempt = call.attempt_for(leg.uniqueid)
                    if attempt is not None and attempt.outcome is None:
                        attempt.outcome = "unknown"
                        attempt.rang_to = leg.ended_at
            if closed_any:
                call.closed_by_resync = True
                call.note(at, "closed_by_resync")
                self._touch(call)
                self._maybe_finish(call, call.last_event_at or at)
        return out


def _known(value: str) -> str:
    return "" if value == "<unknown>" else value


def _keep_variable(call: CallState, name: str, value: str) -> bool:
    """Keep a channel variable callagent reads (``CALLAGENT_*``, the recording's file)."""
    if name == "MIXMONITOR_FILENAME":
        call.recording_file = value
    elif name.startswith("CALLAGENT_"):
        call.variables[name] = value
    else:
        return False
    return True


def _duration(value: str) -> float:
    """CoreShowChannel's ``Duration`` (``HH:MM:SS``) in seconds; 0 when unreadable."""
    try:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)
