"""The pure tracker against every real Asterisk trace: records, idempotency, partial replay."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.tracker.records import build_record
from callagent.tracker.tracker import Tracker
from tests.conftest import ALL_TRACES, trace_bytes
from tests.trace_expectations import check_records


def events_of(name: str) -> list[AmiMessage]:
    items = AmiParser().feed(trace_bytes(name))
    assert all(isinstance(i, AmiMessage) for i in items), "real traces parse without errors"
    return [i for i in items if isinstance(i, AmiMessage)]


def records_of(tracker: Tracker) -> list[dict[str, Any]]:
    states = [tracker.finished_call(k) for k in tracker._finished] + list(tracker.calls.values())
    return [build_record(s).to_dict() for s in states if s is not None]


def run(events: list[AmiMessage], tracker: Tracker | None = None) -> Tracker:
    tracker = tracker or Tracker()
    for event in events:
        tracker.feed("pbx1", event, 1_000.0)
    return tracker


@pytest.mark.parametrize("name", ALL_TRACES)
def test_trace_gives_the_records_the_readme_states(name: str) -> None:
    check_records(name, records_of(run(events_of(name))))


@pytest.mark.parametrize("name", ALL_TRACES)
def test_replaying_a_trace_twice_changes_nothing(name: str) -> None:
    events = events_of(name)
    once = records_of(run(events))
    tracker = run(events)
    run(events, tracker)  # the same events again, into the same tracker
    assert records_of(tracker) == once
    assert tracker.calls == {} or name == "queue_pause_unpause"


@pytest.mark.parametrize("name", ALL_TRACES)
def test_duplicated_events_change_nothing(name: str) -> None:
    events = events_of(name)
    doubled = [e for event in events for e in (event, event)]
    assert records_of(run(doubled)) == records_of(run(events))


@pytest.mark.parametrize(
    "name", ["inbound_answered_caller_hangs_up", "inbound_no_answer_then_next"]
)
def test_cdr_before_hangup_gives_the_same_record(name: str) -> None:
    events = events_of(name)
    cdrs = [e for e in events if e.event == "Cdr"]
    rest = [e for e in events if e.event != "Cdr"]
    first_hangup = next(i for i, e in enumerate(rest) if e.event == "Hangup")
    reordered = rest[:first_hangup] + cdrs + rest[first_hangup:]
    assert records_of(run(reordered)) == records_of(run(events))


@pytest.mark.parametrize("name", ALL_TRACES)
def test_attaching_mid_call_never_crashes(name: str) -> None:
    """cacofonisk's partial replay: drop the first k events, for every k."""
    events = events_of(name)
    step = 1 if len(events) < 400 else 37  # load_50_calls: every 37th k keeps it quick
    for k in range(0, len(events), step):
        tracker = run(events[k:])
        for record in records_of(tracker):
            assert record["node"] == "pbx1"
            assert record["disposition"]
            if record["final"]:
                assert record["ended_at"] is not None
                assert record["ended_at"] >= record["started_at"] - 1e-6


def test_attaching_mid_call_gives_the_best_record_it_can() -> None:
    events = events_of("inbound_answered_caller_hangs_up")
    bridged = next(i for i, e in enumerate(events) if e.event == "BridgeEnter")
    (record,) = records_of(run(events[bridged:]))
    assert record["partial"] is True
    assert record["final"] is True
    assert record["operator_endpoint"] == "PJSIP/op1001"
    assert record["hangup_by"] == "applicant"
    assert record["applicant_number"] == "79031234567"


def test_tracker_emits_domain_events_for_routing() -> None:
    from callagent.tracker.events import AttemptEnded, CallAnswered, CallEnded, OperatorRinging

    tracker = Tracker()
    seen = []
    for event in events_of("inbound_no_answer_then_next"):
        seen.extend(tracker.feed("pbx1", event, 0.0))
    kinds = [
        (type(e).__name__, getattr(e, "endpoint", None))
        for e in seen
        if isinstance(e, OperatorRinging | CallAnswered | AttemptEnded | CallEnded)
    ]
    assert kinds == [
        ("OperatorRinging", "PJSIP/op1001"),
        ("AttemptEnded", "PJSIP/op1001"),
        ("OperatorRinging", "PJSIP/op1002"),
        ("CallAnswered", "PJSIP/op1002"),
        ("CallEnded", None),
    ]


def test_device_and_contact_states() -> None:
    tracker = run(events_of("operator_phone_unreachable"))
    device = tracker.devices[("pbx1", "PJSIP/op1003")]
    assert device.state == "UNAVAILABLE"
    assert device.contact_status == "Removed"
    assert device.reachable is False
    assert device.registered is False
    tracker = Tracker()
    events = events_of("operator_phone_unreachable")
    reachable_at = next(i for i, e in enumerate(events) if e.get("ContactStatus") == "Reachable")
    run(events[: reachable_at + 2], tracker)
    device = tracker.devices[("pbx1", "PJSIP/op1003")]
    assert device.registered is True
    assert device.roundtrip_usec == 1139
    assert ("pbx1", "Queue:support_avail") not in tracker.devices


def test_timestamp_header_is_not_needed() -> None:
    events = events_of("hold_unhold")
    tracker = Tracker()
    clock = 100.0
    for event in events:
        headers = {k: v for k, v in event.headers.items() if k != "Timestamp"}
        clock += 0.01
        tracker.feed("pbx1", AmiMessage(headers), clock)
    (record,) = records_of(tracker)
    assert record["disposition"] == "answered"
    assert record["hold_seconds"] > 0
    assert record["started_at"] == pytest.approx(100.01, abs=0.2)


def test_resync_closes_calls_that_ended_while_disconnected() -> None:
    events = events_of("inbound_answered_caller_hangs_up")
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    tracker = run(events[:cut])
    (call,) = tracker.active_calls("pbx1")
    last_seen = call.last_event_at
    tracker.resync("pbx1", [], at=last_seen + 60)
    (record,) = records_of(tracker)
    assert record["final"] is True
    assert record["closed_by_resync"] is True
    assert record["ended_at"] == last_seen  # the best-known end, not the resync time
    assert record["disposition"] == "answered"
    assert all(leg["closed_by_resync"] for leg in record["legs"])


def test_resync_keeps_live_calls_and_attaches_unknown_ones() -> None:
    events = events_of("coreshowchannels_midcall")
    listing = [e for e in events if e.event == "CoreShowChannel"]
    cut = next(i for i, e in enumerate(events) if e.event == "BridgeEnter")
    tracker = run(events[:cut])
    tracker.resync("pbx1", listing, at=2e9)
    assert len(tracker.active_calls("pbx1")) == 1
    assert not tracker.active_calls()[0].closed_by_resync
    fresh = Tracker()
    fresh.resync("pbx1", listing, at=2e9)
    (call,) = fresh.active_calls("pbx1")
    assert call.partial and set(call.legs) == {"1795354157.15", "1795354157.16"}


def _channel(prefix: str, channel: str, uniqueid: str, state: str = "Up") -> dict[str, str]:
    return {
        f"{prefix}Channel": channel,
        f"{prefix}ChannelStateDesc": state,
        f"{prefix}CallerIDNum": "1002" if "op1002" in channel else "79031234567",
        f"{prefix}Uniqueid": uniqueid,
        f"{prefix}Linkedid": "1795353447.0",
    }


def test_blind_transfer_to_another_operator() -> None:
    """Shaped on Asterisk 22's BlindTransfer: the transferred operator leg gets no HangupRequest."""
    events = events_of("inbound_answered_caller_hangs_up")
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    trunk = _channel("", "PJSIP/trunk-00000000", "1795353447.0")
    op2 = "PJSIP/op1002-00000002"
    extra = [
        {
            "Event": "BlindTransfer",
            "Result": "Success",
            "Extension": "1002",
            "Context": "from-operators",
            **_channel("Transferer", "PJSIP/op1001-00000001", "1795353447.1"),
            **_channel("Transferee", "PJSIP/trunk-00000000", "1795353447.0"),
        },
        {
            "Event": "Hangup",
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
            **_channel("", "PJSIP/op1001-00000001", "1795353447.1"),
        },
        {"Event": "Newchannel", **_channel("", op2, "1795353447.2", "Down")},
        {
            "Event": "DialBegin",
            "DialString": "op1002",
            **trunk,
            **_channel("Dest", op2, "1795353447.2", "Down"),
        },
        {"Event": "Newstate", **_channel("", op2, "1795353447.2", "Up")},
        {
            "Event": "DialEnd",
            "DialStatus": "ANSWER",
            **trunk,
            **_channel("Dest", op2, "1795353447.2"),
        },
        {"Event": "HangupRequest", "Cause": "16", **trunk},
        {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **trunk},
        {
            "Event": "Hangup",
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
            **_channel("", op2, "1795353447.2"),
        },
    ]
    tracker = Tracker()
    clock = 1795353451.0
    for event in events[:cut]:
        tracker.feed("pbx1", event, clock)
    for headers in extra:
        clock += 1.0
        tracker.feed("pbx1", AmiMessage(headers), clock)
    (record,) = records_of(tracker)
    assert record["final"]
    (transfer,) = record["transfers"]
    assert transfer["kind"] == "blind"
    assert transfer["by_endpoint"] == "PJSIP/op1001"
    assert transfer["target"] == "1002@from-operators"
    assert transfer["target_endpoint"] == "PJSIP/op1002"
    assert [(a["endpoint"], a["outcome"], a["via"]) for a in record["attempts"]] == [
        ("PJSIP/op1001", "answered", "dial"),
        ("PJSIP/op1002", "answered", "transfer"),
    ]
    assert record["operator_endpoint"] == "PJSIP/op1001"  # who answered the applicant first
    assert record["hangup_by"] == "applicant"
    assert "transfer" in [entry["event"] for entry in record["timeline"]]


_EVENT_NAMES = [*sorted(Tracker()._handlers), "Unknown", ""]
_HEADER_NAMES = [
    "Channel",
    "Uniqueid",
    "Linkedid",
    "DestChannel",
    "DestUniqueid",
    "DestLinkedid",
    "ChannelStateDesc",
    "Cause",
    "DialStatus",
    "Variable",
    "Value",
    "Timestamp",
    "Device",
    "State",
    "AOR",
    "ContactStatus",
    "Peer",
    "PeerStatus",
    "Queue",
    "DialString",
    "TransfererChannel",
    "TransfererUniqueid",
    "TransfereeUniqueid",
    "Result",
]


@settings(max_examples=200, deadline=None)
@given(
    junk=st.lists(
        st.tuples(
            st.integers(0, 80),
            st.sampled_from(_EVENT_NAMES),
            st.dictionaries(st.sampled_from(_HEADER_NAMES), st.text(max_size=12), max_size=8),
        ),
        max_size=12,
    )
)
def test_garbage_events_never_crash_the_tracker_nor_touch_real_calls(
    junk: list[tuple[int, str, dict[str, str]]],
) -> None:
    events = events_of("inbound_abandoned")
    mixed: list[AmiMessage] = list(events)
    for index, name, headers in sorted(junk, key=lambda j: -j[0]):
        for key in (
            "Uniqueid",
            "Linkedid",
            "DestUniqueid",
            "DestLinkedid",
            "TransfererUniqueid",
            "TransfereeUniqueid",
        ):
            if key in headers:
                headers[key] = "junk-" + headers[key]  # never one of the real call's ids
        mixed.insert(min(index, len(mixed)), AmiMessage({"Event": name, **headers}))
    clean = [r for r in records_of(run(events))]
    got = [r for r in records_of(run(mixed)) if r["linkedid"] == "1795353485.7"]
    assert got == clean


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


def test_attended_transfer_moves_the_target_into_the_applicants_call() -> None:
    """Shaped on Asterisk 22's AttendedTransfer: the consultation call has its own Linkedid."""
    events = events_of("inbound_answered_caller_hangs_up")
    cut = next(i for i, e in enumerate(events) if e.event == "HangupRequest")
    original = "1795353447.0"
    trunk = _leg("", "PJSIP/trunk-00000000", original, original)
    op1 = _leg("", "PJSIP/op1001-00000001", "1795353447.1", original)
    consult = "1795353452.2"
    op1_second = _leg("", "PJSIP/op1001-00000002", consult, consult)
    op2 = _leg("", "PJSIP/op1002-00000003", "1795353452.3", consult)
    hangup = {"Cause": "16", "Cause-txt": "Normal Clearing"}
    extra = [
        {"Event": "Hold", **op1},
        {"Event": "Newchannel", "Exten": "1002", **{**op1_second, "ChannelStateDesc": "Ring"}},
        {"Event": "Newchannel", **{**op2, "ChannelStateDesc": "Down"}},
        {
            "Event": "DialBegin",
            "DialString": "op1002",
            **op1_second,
            **_leg("Dest", "PJSIP/op1002-00000003", "1795353452.3", consult, "Down"),
        },
        {"Event": "Newstate", **op2},
        {
            "Event": "DialEnd",
            "DialStatus": "ANSWER",
            **op1_second,
            **_leg("Dest", "PJSIP/op1002-00000003", "1795353452.3", consult),
        },
        {
            "Event": "AttendedTransfer",
            "Result": "Success",
            "DestType": "Bridge",
            **_leg("OrigTransferer", "PJSIP/op1001-00000001", "1795353447.1", original),
            **_leg("SecondTransferer", "PJSIP/op1001-00000002", consult, consult),
            **_leg("Transferee", "PJSIP/trunk-00000000", original, original),
            **_leg("TransferTarget", "PJSIP/op1002-00000003", "1795353452.3", consult),
        },
        {"Event": "Hangup", **hangup, **op1},
        {"Event": "Hangup", **hangup, **op1_second},
        {"Event": "HangupRequest", "Cause": "16", **trunk},
        {"Event": "Hangup", **hangup, **trunk},
        {"Event": "Hangup", **hangup, **op2},
    ]
    tracker = Tracker()
    clock = 1795353451.0
    for event in events[:cut]:
        tracker.feed("pbx1", event, clock)
    for headers in extra:
        clock += 1.0
        tracker.feed("pbx1", AmiMessage(headers), clock)
    records = {r["linkedid"]: r for r in records_of(tracker)}
    call = records[original]
    assert call["final"] and call["hangup_by"] == "applicant"
    (transfer,) = call["transfers"]
    assert (transfer["kind"], transfer["by_endpoint"], transfer["target_endpoint"]) == (
        "attended",
        "PJSIP/op1001",
        "PJSIP/op1002",
    )
    assert [(a["endpoint"], a["outcome"], a["via"]) for a in call["attempts"]] == [
        ("PJSIP/op1001", "answered", "dial"),
        ("PJSIP/op1002", "answered", "transfer"),
    ]
    assert {leg["channel"] for leg in call["legs"]} >= {"PJSIP/op1002-00000003"}
    assert call["hold_seconds"] > 0  # the applicant waited on hold during the consultation
    # One call, one record (issue #18): the consultation's leg joined the applicant's call.
    assert consult not in records
    assert "PJSIP/op1001-00000002" in {leg["channel"] for leg in call["legs"]}
    assert transfer["target_answered"] is True


def test_queue_abandon_and_ring_no_answer() -> None:
    events = events_of("queue_answered")
    called = next(i for i, e in enumerate(events) if e.event == "AgentCalled")
    caller = {
        k: v
        for k, v in events[called].headers.items()
        if not k.startswith("Dest") and k not in ("Event", "Queue", "Interface", "MemberName")
    }
    dest = {k: v for k, v in events[called].headers.items() if k.startswith("Dest")}
    tracker = Tracker()
    for event in events[: called + 1]:
        tracker.feed("pbx1", event, 0.0)
    tail = [
        {"Event": "AgentRingNoAnswer", "Queue": "support", "RingTime": "10", **caller, **dest},
        {
            "Event": "Hangup",
            "Cause": "0",
            "Cause-txt": "Unknown",
            **{k.removeprefix("Dest"): v for k, v in dest.items()},
        },
        {"Event": "HangupRequest", "Cause": "16", **caller},
        {
            "Event": "QueueCallerAbandon",
            "Queue": "support",
            "Position": "1",
            "HoldTime": "12",
            **caller,
        },
        {"Event": "QueueCallerLeave", "Queue": "support", "Position": "1", **caller},
        {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", **caller},
    ]
    for headers in tail:
        tracker.feed("pbx1", AmiMessage(headers), 0.0)
    (record,) = records_of(tracker)
    assert record["disposition"] == "abandoned"
    assert record["queue_name"] == "support"
    assert [(a["endpoint"], a["outcome"], a["via"]) for a in record["attempts"]] == [
        ("PJSIP/op1001", "no_answer", "queue")
    ]
    assert "abandoned_in_queue" in [e["event"] for e in record["timeline"]]
