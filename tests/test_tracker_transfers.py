"""Transfers through Local channels: who took the call, and who hung up (issue #11, point 8).

Real AMI events from cacofonisk (``tests/fixtures/cacofonisk``, MIT: phones reached
through Local channel pairs, attended and blind transfers), replayed into the pure
tracker and over TCP into the service (SQLite and PostgreSQL), and the shape of
Asterisk 22's AMI ``Atxfer``: the PBX dials ``Local/1002@from-operators`` for the
operator, and the first operator's hang-up is what completes the transfer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import trace_body
from callagent.tracker.events import CallEnded
from callagent.tracker.tracker import Tracker
from tests.conftest import running_service, trace_bytes, wait_for
from tests.test_live_replay import fetch_records, play
from tests.test_tracker_traces import events_of, records_of

FIXTURES = Path(__file__).parent / "fixtures" / "cacofonisk"
TRUNK = "SIP/voipgrid-siproute-docker"


_CATEGORY = {
    "queue_attn_xfer": "queue",
    "queue_blind_xfer": "queue",
    "xfer_abbcac": "xfer_attended",
}


def cacofonisk_bytes(name: str) -> bytes:
    """A cacofonisk recording as AMI bytes (``convert.py`` beside the fixtures made them)."""
    return (FIXTURES / _CATEGORY[name] / f"{name}.ami").read_bytes()


def cacofonisk_records(name: str) -> dict[str, dict[str, Any]]:
    tracker = Tracker(trunk_endpoints=(TRUNK,))
    items = AmiParser(expect_banner=False).feed(cacofonisk_bytes(name))
    for n, item in enumerate(items):
        assert isinstance(item, AmiMessage)
        tracker.feed("pbx1", item, 1_000.0 + n / 10)  # no Timestamp in these recordings
    return {r["linkedid"]: r for r in records_of(tracker)}


# name: (the applicant's call, transfer kind, by, the phone that took it, phones rung)
CASES = {
    "queue_attn_xfer": (
        "f29ea68048f6-1530022819.2433",
        "attended",
        "SIP/150010001",
        "SIP/150010002",
        [("SIP/150010001", "answered", "dial"), ("SIP/150010002", "answered", "transfer")],
    ),
    "queue_blind_xfer": (
        "f29ea68048f6-1530023464.2539",
        "blind",
        "SIP/150010001",
        "SIP/150010002",
        [("SIP/150010001", "answered", "dial"), ("SIP/150010002", "answered", "transfer")],
    ),
    # 201 calls 202, 202 calls 203 and hands 201 over to 203 from the phone (REFER): the
    # event names neither the transferee nor the target.
    "xfer_abbcac": (
        "195176c06ab8-1529941338.663",
        "attended",
        "SIP/150010002",
        "SIP/150010003",
        [("SIP/150010002", "answered", "dial"), ("SIP/150010003", "answered", "transfer")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_transfer_names_the_phone_that_took_it(name: str) -> None:
    linkedid, kind, by, target, attempts = CASES[name]
    records = cacofonisk_records(name)
    call = records[linkedid]
    (transfer,) = call["transfers"]
    assert (transfer["kind"], transfer["by_endpoint"], transfer["target_endpoint"]) == (
        kind,
        by,
        target,
    )
    assert [(a["endpoint"], a["outcome"], a["via"]) for a in call["attempts"]] == attempts
    for record in records.values():  # never a Local channel where a phone is meant
        assert not any(a["endpoint"].startswith("Local/") for a in record["attempts"])
        assert not (record["operator_endpoint"] or "").startswith("Local/")
        for t in record["transfers"]:
            assert not (t["target_endpoint"] or "").startswith("Local/")
            assert not t["by_endpoint"].startswith("Local/")


async def test_a_transfer_over_tcp_is_stored_with_the_phone(db_url: str) -> None:
    linkedid, _, by, target, attempts = CASES["queue_attn_xfer"]
    body = cacofonisk_bytes("queue_attn_xfer")
    async with running_service(db_url, trunk_endpoints=[TRUNK]) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        await play(service, body)
        records = {r["linkedid"]: r for r in await fetch_records(service)}
    (transfer,) = records[linkedid]["transfers"]
    assert (transfer["by_endpoint"], transfer["target_endpoint"]) == (by, target)
    stored = [(a["endpoint"], a["outcome"], a["via"]) for a in records[linkedid]["attempts"]]
    assert stored == attempts


def _leg(
    prefix: str, channel: str, uniqueid: str, linkedid: str, state: str = "Up"
) -> dict[str, str]:
    return {
        f"{prefix}Channel": channel,
        f"{prefix}ChannelStateDesc": state,
        f"{prefix}CallerIDNum": "",
        f"{prefix}Uniqueid": uniqueid,
        f"{prefix}Linkedid": linkedid,
    }


def test_atxfer_through_a_local_channel_ends_when_the_applicant_hangs_up() -> None:
    """AMI ``Atxfer`` on Asterisk 22: one Linkedid, a Local channel to ``1002@from-operators``.

    op1001 talks with the applicant, Atxfer dials ``Local/1002@from-operators``, whose
    ``;2`` half runs the dialplan's ``Dial(PJSIP/op1002)``. op1001 hangs up (its phone's
    BYE: ``HangupRequest``), which completes the transfer; the applicant talks with op1002
    and hangs up later. Shaped on the recorded ``inbound_answered_caller_hangs_up`` (its
    first 80 % as recorded), with the transfer's events in Asterisk 22's header layout.
    """
    events = events_of("inbound_answered_caller_hangs_up")
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    call = "1795353447.0"
    trunk = _leg("", "PJSIP/trunk-00000000", call, call)
    op1 = _leg("", "PJSIP/op1001-00000001", "1795353447.1", call)
    local1 = _leg("", "Local/1002@from-operators-00000000;1", "1795353452.2", call, "Down")
    local2 = _leg("", "Local/1002@from-operators-00000000;2", "1795353452.3", call, "Ring")
    op2 = _leg("", "PJSIP/op1002-00000002", "1795353452.4", call, "Down")
    hangup = {"Cause": "16", "Cause-txt": "Normal Clearing"}
    dest2 = _leg("Dest", "PJSIP/op1002-00000002", "1795353452.4", call, "Down")
    extra = [
        {"Event": "Newchannel", "Exten": "1002", **local1},
        {"Event": "Newchannel", "Exten": "1002", **local2},
        {"Event": "DialBegin", "DialString": "op1002", **local2, **dest2},
        {"Event": "Newchannel", **op2},
        {"Event": "Newstate", **{**op2, "ChannelStateDesc": "Up"}},
        {"Event": "DialEnd", "DialStatus": "ANSWER", **local2, **dest2},
        {"Event": "HangupRequest", "Cause": "16", **op1},  # op1001 hangs up: the transfer
        {
            "Event": "AttendedTransfer",
            "Result": "Success",
            "DestType": "Bridge",
            **_leg("OrigTransferer", "PJSIP/op1001-00000001", "1795353447.1", call),
            **_leg("SecondTransferer", "PJSIP/op1001-00000001", "1795353447.1", call),
            **_leg("Transferee", "PJSIP/trunk-00000000", call, call),
            **_leg("TransferTarget", local1["Channel"], "1795353452.2", call),
        },
        {"Event": "Hangup", **hangup, **op1},
        {"Event": "Hangup", **hangup, **local1},
        {"Event": "Hangup", **hangup, **local2},
        {"Event": "HangupRequest", "Cause": "16", **trunk},  # the applicant, 6 s later
        {"Event": "Hangup", **hangup, **trunk},
        {"Event": "Hangup", **hangup, **op2},
    ]
    tracker = Tracker()
    clock = 1795353451.0
    for event in events[:cut]:
        tracker.feed("pbx1", event, clock)
    ended: list[CallEnded] = []
    for headers in extra:
        clock += 1.0
        out = tracker.feed("pbx1", AmiMessage(headers), clock)
        ended += [e for e in out if isinstance(e, CallEnded)]
    (record,) = records_of(tracker)
    assert record["final"] and record["hangup_by"] == "applicant"
    (transfer,) = record["transfers"]
    assert (transfer["kind"], transfer["by_endpoint"], transfer["target_endpoint"]) == (
        "attended",
        "PJSIP/op1001",
        "PJSIP/op1002",
    )
    assert [(a["endpoint"], a["outcome"], a["via"]) for a in record["attempts"]] == [
        ("PJSIP/op1001", "answered", "dial"),
        ("PJSIP/op1002", "answered", "transfer"),
    ]
    (end,) = ended
    assert set(end.operators) == {"PJSIP/op1001", "PJSIP/op1002"}  # both talked: wrap-ups


def test_the_transferers_hangup_after_the_transfer_does_not_end_the_call() -> None:
    """Blind transfer from the phone, and a late HangupRequest of the transferer's leg."""
    body = trace_body(trace_bytes("inbound_answered_operator_hangs_up"))
    events = [e for e in AmiParser(expect_banner=False).feed(body) if isinstance(e, AmiMessage)]
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    head = events[:cut]
    trunk_uid = next(e.get("Uniqueid") for e in head if e.event == "Newchannel")
    op_event = next(
        e for e in head if e.event == "Newchannel" and e.get("Channel").startswith("PJSIP/op")
    )
    op = {k: v for k, v in op_event.headers.items() if k != "Event"}
    trunk = next(
        {k: v for k, v in e.headers.items() if k != "Event"}
        for e in head
        if e.event == "Newchannel" and e.get("Uniqueid") == trunk_uid
    )
    tail = [
        {
            "Event": "BlindTransfer",
            "Result": "Success",
            "Extension": "1002",
            "Context": "from-operators",
            **{f"Transferer{k}": v for k, v in op.items()},
            **{f"Transferee{k}": v for k, v in trunk.items()},
        },
        {"Event": "HangupRequest", "Cause": "16", **op},
        {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **op},
        {"Event": "HangupRequest", "Cause": "16", **trunk},
        {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **trunk},
    ]
    tracker = Tracker()
    for event in head:
        tracker.feed("pbx1", event, 0.0)
    for n, headers in enumerate(tail):
        tracker.feed("pbx1", AmiMessage(headers), 1_795_360_000.0 + n)
    (record,) = records_of(tracker)
    assert record["final"] and record["hangup_by"] == "applicant"


def test_a_target_phone_never_seen_is_still_named() -> None:
    """Attached mid-call: the event's target channel is all there is to go by."""
    events = events_of("inbound_answered_caller_hangs_up")
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    call = "1795353447.0"
    tracker = Tracker()
    for event in events[:cut]:
        tracker.feed("pbx1", event, 0.0)
    transfer = {
        "Event": "AttendedTransfer",
        "Result": "Success",
        **_leg("OrigTransferer", "PJSIP/op1001-00000001", "1795353447.1", call),
        **_leg("Transferee", "PJSIP/trunk-00000000", call, call),
        **_leg("TransferTarget", "PJSIP/op1002-00000007", "1795353460.7", "1795353460.6"),
    }
    tracker.feed("pbx1", AmiMessage(transfer), 0.0)
    (moved,) = tracker.calls[("pbx1", call)].transfers
    assert moved["target_endpoint"] == "PJSIP/op1002"
