"""Transfers, pickups and calls that join another: one call, one record.

The part of the tracker (:class:`callagent.tracker.tracker.Tracker` inherits it) that
moves channels between calls. Asterisk gives a channel bridged with another call that
call's Linkedid (the oldest wins), an attended or blonde transfer leaves the
consultation call's parties in the transferred one, and a pickup puts the picking
phone's channel in the ringing call: each time the legs (with the attempts that rang
them) move, and a call left with no party of its own joins the other one and has no
record (cacofonisk's recordings, ``tests/fixtures/cacofonisk``, and Asterisk 22's
``Atxfer`` shape, ``tests/test_tracker_transfers.py``). No IO, like the rest of the
tracker.
"""

from __future__ import annotations

from collections import OrderedDict

from callagent.ami.parser import AmiMessage
from callagent.tracker.channels import endpoint_of
from callagent.tracker.events import (
    AttemptEnded,
    CallAnswered,
    CallEnded,
    CallTransferred,
    DomainEvent,
)
from callagent.tracker.state import Attempt, CallKey, CallState, Leg


class CallJoins:
    """Transfer and pickup handlers, and the moves of legs between calls."""

    # The tracker's state these methods work on (set by Tracker.__init__).
    calls: dict[CallKey, CallState]
    dirty_calls: set[CallKey]
    merged_calls: set[CallKey]
    finished_memory: int
    _by_uniqueid: dict[tuple[str, str], CallKey]
    _merged: OrderedDict[CallKey, CallKey]
    _out: list[DomainEvent]

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
        raise NotImplementedError  # Tracker's

    def _maybe_finish(self, call: CallState, at: float) -> None:
        raise NotImplementedError  # Tracker's

    # ----------------------------------------------------------- lookups

    def _touch(self, call: CallState) -> None:
        # A call that is not (yet) a contact is never handed to the writer.
        if call.contact:
            self.dirty_calls.add(call.key)

    def _leg(self, node: str, uniqueid: str) -> Leg | None:
        key = self._by_uniqueid.get((node, uniqueid))
        call = self.calls.get(key) if key is not None else None
        return call.legs.get(uniqueid) if call is not None else None

    def _call_of(self, node: str, uniqueid: str) -> CallState | None:
        """The followed call a channel is part of, if any."""
        key = self._by_uniqueid.get((node, uniqueid)) if uniqueid else None
        call = self.calls.get(key) if key is not None else None
        return call if call is not None and uniqueid in call.legs else None

    # ------------------------------------------------- legs between calls

    def _resolve(self, key: CallKey) -> CallKey:
        """The call a Linkedid stands for now: the one it was joined into, if any."""
        for _ in range(32):  # a chain of joins; bounded in case of a cycle
            joined = self._merged.get(key)
            if joined is None:
                break
            key = joined
        return key

    def _follow_linkedid(self, call: CallState, leg: Leg, linkedid: str, at: float) -> CallState:
        """A channel whose events carry another call's Linkedid has joined that call.

        Asterisk gives every channel in a bridge the Linkedid of the oldest call in it:
        the picking phone after a pickup (``xfer_misc/sip_pickup``), the parties an
        attended transfer joins. A Linkedid callagent follows no call of changes nothing.
        """
        if not linkedid or linkedid == call.linkedid:
            return call
        target = self.calls.get(self._resolve((call.node, linkedid)))
        if target is None or target is call:
            return call
        self._move_leg(call, target, leg, at)
        self._after_move(call, target, at)
        return target

    def _move_leg(self, old: CallState, call: CallState, leg: Leg, at: float) -> None:
        """Move one leg, with the attempt that rang it, from ``old`` into ``call``."""
        old.legs.pop(leg.uniqueid, None)
        call.legs[leg.uniqueid] = leg
        self._by_uniqueid[(call.node, leg.uniqueid)] = call.key
        call.contact = call.contact or leg.role != "local"
        attempt = old.attempt_for(leg.uniqueid)
        if attempt is not None:
            old.attempts.remove(attempt)
            call.attempts.append(attempt)
        old.note(at, "leg_transferred", channel=leg.channel, to_call=call.linkedid)
        call.note(at, "leg_joined", channel=leg.channel, from_call=old.linkedid)
        self._touch(old)
        self._touch(call)

    def _after_move(self, old: CallState, call: CallState, at: float) -> None:
        """``old`` lost a leg to ``call``: with no party of its own left, it joins ``call``."""
        if any(leg.role != "local" for leg in old.legs.values()):
            self._maybe_finish(old, at)
        else:
            self._merge(old, call, at)

    def _merge(self, old: CallState, call: CallState, at: float) -> None:
        """Join every leg and attempt of ``old`` into ``call``; ``old`` has no record.

        A consultation call after an attended or blonde transfer, a picked-up phone's
        own call: the same conversation goes on in ``call``. The writer deletes a
        record of ``old`` stored while it was in progress (``merged_calls``).
        """
        for leg in list(old.legs.values()):
            self._move_leg(old, call, leg, at)
        call.attempts.extend(old.attempts)
        old.attempts = []
        call.recording_file = call.recording_file or old.recording_file
        old.merged_into = call.linkedid
        call.note(at, "call_joined", from_call=old.linkedid)
        self.calls.pop(old.key, None)
        self._merged[old.key] = call.key
        while len(self._merged) > self.finished_memory:
            self._merged.popitem(last=False)
        self.dirty_calls.discard(old.key)
        if old.contact:
            self.merged_calls.add(old.key)
        self._out.append(CallEnded(old.key, ()))  # nothing of its own to wrap up
        self._touch(call)

    def _adopt(self, node: str, uniqueid: str, call: CallState, at: float) -> None:
        """Move a leg (and its ring attempt) from another call into ``call``."""
        old = self._call_of(node, uniqueid)
        if old is None or old is call:
            return
        leg = old.legs[uniqueid]
        self._move_leg(old, call, leg, at)
        attempt = call.attempt_for(uniqueid)
        if attempt is not None:
            attempt.via = "transfer"
        elif leg.role == "operator":
            call.attempts.append(
                Attempt(
                    endpoint=leg.endpoint,
                    uniqueid=uniqueid,
                    channel=leg.channel,
                    rang_from=leg.created_at,
                    via="transfer",
                    rang_to=leg.answered_at,
                    outcome="answered" if leg.answered_at is not None else None,
                )
            )
        self._after_move(old, call, at)

    # --------------------------------------------------------- transfers

    def _endpoint_behind(self, node: str, channel: str) -> str:
        """The device of ``channel``; for a Local channel, the phone behind it if known."""
        if channel.startswith("Local/"):
            leg = self._behind_local(node, channel)
            if leg is not None:
                return leg.endpoint
        return endpoint_of(channel)

    def _behind_local(self, node: str, channel: str) -> Leg | None:
        """The real channel a Local channel leads to: ``;1`` -> its ``;2`` -> what that dialled.

        Rarely needed (transfers), so the legs are searched rather than indexed; a
        chain of Local channels is followed to its end.
        """
        seen: set[str] = set()
        while channel.startswith("Local/") and channel not in seen:
            seen.add(channel)
            second_half = channel.rpartition(";")[0] + ";2"
            dialled = [
                leg
                for call in self.calls.values()
                if call.node == node
                for leg in call.legs.values()
                if leg.dialled_from == second_half
            ]
            if not dialled:
                return None
            # The one that answered and is still up, else the latest one rung.
            best = max(
                dialled,
                key=lambda leg: (
                    leg.answered_at is not None and leg.ended_at is None,
                    leg.answered_at is not None,
                    leg.created_at,
                ),
            )
            if not best.channel.startswith("Local/"):
                return best
            channel = best.channel
        return None

    def _transfer_target(self, node: str, h: dict[str, str], channel: str) -> Leg | None:
        """The phone that takes an attended transfer.

        Asterisk names a Local channel when it dialled one (AMI Atxfer dials
        ``Local/1002@from-operators``): the phone is what its other half dialled. A
        transfer done by the phone itself may name no target at all: it is then the
        other party of the transferer's second (consultation) call.
        """
        if channel:
            leg = self._leg(node, h.get("TransferTargetUniqueid", ""))
            if channel.startswith("Local/"):
                return self._behind_local(node, channel)
            return leg
        second = h.get("SecondTransfererUniqueid", "")
        key = self._by_uniqueid.get((node, second))
        consultation = self.calls.get(key) if key is not None else None
        if consultation is None:
            return None
        others = [
            leg
            for leg in consultation.legs.values()
            if leg.uniqueid != second and leg.role != "local" and leg.ended_at is None
        ]
        return max(others, key=lambda leg: leg.answered_at or 0.0) if others else None

    def _handed_on(self, call: CallState, transferers: list[Leg]) -> None:
        """The transferring operator's hang-up completes a transfer: it does not end the call."""
        for leg in transferers:
            leg.transferer = True
            if call.hangup_leg == leg.uniqueid:
                call.hangup_by = None  # who ends the call is yet to come
                call.hangup_leg = ""

    def _settle_transfer(self, call: CallState, attempt: Attempt) -> None:
        """A phone rung for an open transfer answered: it is the one who took the call."""
        index = call.open_transfer
        if not 0 <= index < len(call.transfers):
            return
        transfer = call.transfers[index]
        if attempt.via == "transfer" or (
            attempt.via == "queue" and attempt.rang_from >= transfer.get("at", 0.0)
        ):
            transfer["target_endpoint"] = attempt.endpoint
            transfer["target_answered"] = True
            call.open_transfer = -1

    def _on_blindtransfer(self, node: str, m: AmiMessage, at: float) -> None:
        found = self._call_for(node, m, at, prefix="Transferer")
        if found is None:
            return
        call, leg = found
        h = m.headers
        target = f"{h.get('Extension', '')}@{h.get('Context', '')}"
        if h.get("Result", "Success") != "Success":
            call.note(at, "transfer_failed", kind="blind", by_endpoint=leg.endpoint)
            self._touch(call)
            return
        if _seen_transfer(call, h, ("TransfererUniqueid", "Extension", "Context")):
            return
        by_endpoint = self._endpoint_behind(node, leg.channel)
        self._handed_on(call, [leg])
        call.transfers.append(
            {
                "kind": "blind",
                "at": at,
                "by_endpoint": by_endpoint,
                "target": target,
                # The first phone the next Dial rings, until one of them answers.
                "target_endpoint": None,
                "target_answered": False,
            }
        )
        call.open_transfer = len(call.transfers) - 1
        call.note(at, "transfer", kind="blind", by_endpoint=by_endpoint, target=target)
        self._out.append(CallTransferred(call.key, "blind", by_endpoint, target))
        self._touch(call)

    def _on_attendedtransfer(self, node: str, m: AmiMessage, at: float) -> None:
        # The transferee (applicant) stays in the original call; the consultation call
        # (its own Linkedid, or the same one when the PBX dialled a Local channel for
        # AMI Atxfer) is joined into it: one call, one record.
        found = self._call_for(node, m, at, prefix="Transferee")
        if found is None:
            found = self._call_for(node, m, at, prefix="OrigTransferer")
        if found is None:
            return
        call, _ = found
        h = m.headers
        # DestType App: completed while the target still rang (a blonde transfer), the
        # target's Dial goes on for the transferee; Bridge/Link: the target answered.
        kind = "blonde" if h.get("DestType") == "App" else "attended"
        by_channel = h.get("OrigTransfererChannel", "")
        by_endpoint = self._endpoint_behind(node, by_channel) if by_channel else ""
        if h.get("Result", "Success") != "Success":
            call.note(at, "transfer_failed", kind=kind, by_endpoint=by_endpoint)
            self._touch(call)
            return
        if _seen_transfer(call, h, _ATTENDED_KEYS):
            return
        target_channel = h.get("TransferTargetChannel", "") or h.get("DestTransfererChannel", "")
        target = self._transfer_target(node, h, target_channel)
        consultation = self._call_of(node, h.get("SecondTransfererUniqueid", ""))
        rung = list(consultation.attempts) if consultation not in (None, call) else []
        for prefix in ("SecondTransferer", "TransferTarget", "OrigTransferer"):
            other = self._call_of(node, h.get(prefix + "Uniqueid", ""))
            if other is not None and other is not call:
                self._merge(other, call, at)
        for rang in rung:
            rang.via = "transfer"  # the phones the consultation rang
        target_uid = h.get("TransferTargetUniqueid", "")
        if target_uid:
            self._adopt(node, target_uid, call, at)
        if target is not None:
            self._adopt(node, target.uniqueid, call, at)
            attempt = call.attempt_for(target.uniqueid)
            if attempt is not None:
                attempt.via = "transfer"
        if target is not None:
            target_endpoint: str | None = target.endpoint
            answered = target.answered_at is not None
        elif target_channel and not target_channel.startswith("Local/"):
            target_endpoint = endpoint_of(target_channel)  # a phone we never saw a leg of
            answered = kind == "attended"
        else:
            target_endpoint = None  # the next Dial names it (a Local that has not dialled yet)
            answered = False
        if kind == "blonde":
            took = next((a for a in rung if a.outcome == "answered"), None)
            ringing = next((a for a in rung if a.outcome is None), None)
            named = took or ringing
            if named is not None:
                target_endpoint = named.endpoint
            answered = took is not None
        transferers = [
            leg
            for uid in (h.get("OrigTransfererUniqueid", ""), h.get("SecondTransfererUniqueid", ""))
            if (leg := self._leg(node, uid)) is not None
        ]
        self._handed_on(call, transferers)
        call.transfers.append(
            {
                "kind": kind,
                "at": at,
                "by_endpoint": by_endpoint,
                "target": target_channel or (target.channel if target is not None else ""),
                # The phone that took the call, not the Local channel the PBX dialled.
                "target_endpoint": target_endpoint,
                "target_answered": answered,
            }
        )
        if not answered:
            call.open_transfer = len(call.transfers) - 1
        call.note(at, "transfer", kind=kind, by_endpoint=by_endpoint, target=target_channel)
        self._out.append(CallTransferred(call.key, kind, by_endpoint, target_channel))
        self._touch(call)

    # ------------------------------------------------------------ pickup

    def _on_pickup(self, node: str, m: AmiMessage, at: float) -> None:
        # Asterisk's Pickup event (main/pickup.c): Channel is the picking phone (as it
        # was before it took the ringing channel's place), Target* the ringing channel.
        found = self._call_for(node, m, at)
        target = self._call_for(node, m, at, prefix="Target", create=False)
        if found is None or target is None:
            return
        own, picker = found
        call, ringing = target
        if own is not call:
            self._move_leg(own, call, picker, at)
            self._after_move(own, call, at)
        attempt = call.attempt_for(picker.uniqueid)
        if attempt is not None:
            attempt.via = "pickup"
        elif picker.role == "operator":
            picker.answered_at = picker.answered_at or at
            call.attempts.append(
                Attempt(
                    endpoint=picker.endpoint,
                    uniqueid=picker.uniqueid,
                    channel=picker.channel,
                    rang_from=at,
                    via="pickup",
                    rang_to=at,
                    outcome="answered",
                )
            )
            self._out.append(CallAnswered(call.key, picker.endpoint))
        rung = call.attempt_for(ringing.uniqueid)
        if rung is not None and rung.outcome in (None, "caller_gone", "answered_elsewhere"):
            if rung.outcome is None:
                rung.rang_to = at
                self._out.append(AttemptEnded(call.key, rung.endpoint, "picked_up_elsewhere"))
            rung.outcome = "picked_up_elsewhere"
        call.note(at, "picked_up", endpoint=picker.endpoint)
        self._touch(call)

    def _picked_up(
        self, node: str, call: CallState, dest: Leg, caller_uid: str, at: float
    ) -> CallState | None:
        """Call pickup: the call the picking phone joins, or None for any other dial.

        Asterisk publishes a pickup (``*8``, a directed pickup, SIP ``Replaces``) as a
        dial from the ringing call's dialling channel to the picking phone, whose own
        channel began a call of its own (``xfer_misc/sip_pickup`` in
        tests/fixtures/cacofonisk). The phone's channel joins the ringing call there
        and then (its later events carry that call's Linkedid), and the phones that
        rang for that dialling channel were picked up elsewhere.
        """
        caller_key = self._by_uniqueid.get((node, caller_uid))
        if caller_key is None or caller_key == call.key or dest.role != "operator":
            return None
        target = self.calls.get(caller_key)
        if target is None or dest.uniqueid != call.linkedid:
            return None
        self._move_leg(call, target, dest, at)
        self._after_move(call, target, at)
        for attempt in target.attempts:
            leg = target.legs.get(attempt.uniqueid)
            if (
                leg is not None
                and leg.dialled_from == dest.dialled_from
                and attempt.outcome in ("caller_gone", "answered_elsewhere")
            ):
                attempt.outcome = "picked_up_elsewhere"
        target.note(at, "picked_up", endpoint=dest.endpoint)
        return target


_ATTENDED_KEYS = (
    "OrigTransfererUniqueid",
    "SecondTransfererUniqueid",
    "TransferTargetUniqueid",
    "DestType",
)


def _seen_transfer(call: CallState, h: dict[str, str], keys: tuple[str, ...]) -> bool:
    """True when this transfer event was applied already (events may come twice)."""
    mark = "|".join([h.get("Event", ""), *(h.get(key, "") for key in keys)])
    if mark in call.seen_transfers:
        return True
    call.seen_transfers.append(mark)
    return False
