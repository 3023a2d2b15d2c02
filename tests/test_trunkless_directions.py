"""Directions without configuring trunks (issue #18, last paragraph).

With ``CALLAGENT_TRUNK_ENDPOINTS`` left at its default, an endpoint that is no
operator's phone (and no Local channel) is the applicant's side: a notification call
through a second trunk, ``PJSIP/trunk-dead`` of the shared PBX configuration, is
``outbound`` to the number its dial string names, not ``internal`` to ``s``. A list
set by the administrator stays an override. The call is the recorded
``live/live_notify_missing_prompts`` (Asterisk 22, through ``PJSIP/trunk``) with its
channel, device and dial string renamed to ``trunk-dead``.
"""

from __future__ import annotations

from typing import Any

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import trace_body
from callagent.tracker.tracker import Tracker
from tests.conftest import running_service, trace_bytes, wait_for
from tests.test_live_replay import fetch_records, play
from tests.test_routing import add_operators
from tests.test_tracker_traces import records_of

TRACE = "live/live_notify_missing_prompts"
PHONES = frozenset({"PJSIP/op1001", "PJSIP/op1002", "PJSIP/op1003"})


def through_trunk_dead(body: bytes) -> bytes:
    return (
        body.replace(b"PJSIP/trunk-00000008", b"PJSIP/trunk-dead-00000008")
        .replace(b"DialString: 79161234567@trunk\r\n", b"DialString: 79161234567@trunk-dead\r\n")
        .replace(b"Device: PJSIP/trunk\r\n", b"Device: PJSIP/trunk-dead\r\n")
    )


def replay(body: bytes, tracker: Tracker) -> dict[str, Any]:
    for item in AmiParser().feed(body):
        if isinstance(item, AmiMessage):
            tracker.feed("pbx1", item, 1_000.0)
    (record,) = records_of(tracker)
    return record


def summary(record: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        record["direction"],
        record["dialled_number"],
        record["applicant_number"],
        record["disposition"],
    )


def by_phones(phones: frozenset[str] = PHONES) -> Tracker:
    """A tracker with the default trunk setting that knows the operators' phones."""
    tracker = Tracker(trunks_override=False)
    tracker.operator_endpoints = phones
    return tracker


def test_the_renamed_trace_is_the_recorded_call() -> None:
    body = through_trunk_dead(trace_bytes(TRACE))
    assert body.count(b"trunk-dead") > 70 and b"PJSIP/trunk-0" not in body
    assert summary(replay(trace_bytes(TRACE), Tracker())) == (
        "outbound",
        "79161234567",
        "79161234567",
        "answered",
    )


def test_a_second_trunk_needs_no_setting_when_the_phones_are_known() -> None:
    body = through_trunk_dead(trace_bytes(TRACE))
    expected = summary(replay(trace_bytes(TRACE), Tracker()))
    record = replay(body, by_phones())
    assert summary(record) == expected
    assert {leg["endpoint"]: leg["role"] for leg in record["legs"]} == {"PJSIP/trunk-dead": "trunk"}


def test_a_configured_list_is_an_override() -> None:
    body = through_trunk_dead(trace_bytes(TRACE))
    overridden = Tracker(trunk_endpoints=("PJSIP/trunk",), trunks_override=True)
    overridden.operator_endpoints = PHONES
    assert replay(body, overridden)["direction"] == "internal"  # the list says so
    listed = Tracker(trunk_endpoints=("PJSIP/trunk", "PJSIP/trunk-dead"))
    assert summary(replay(body, listed)) == summary(replay(body, by_phones()))


def test_without_known_phones_every_endpoint_but_the_trunks_is_an_operators() -> None:
    record = replay(through_trunk_dead(trace_bytes(TRACE)), by_phones(frozenset()))
    assert (record["direction"], record["dialled_number"]) == ("internal", "s")


def test_the_number_comes_from_the_originate_when_no_dial_named_it() -> None:
    body = through_trunk_dead(trace_bytes(TRACE))
    frames = body.split(b"\r\n\r\n")
    kept = [f for f in frames if b"Event: DialBegin" not in f]
    assert len(kept) == len(frames) - 1
    originate = next(i for i, f in enumerate(kept) if b"Event: OriginateResponse" in f)
    kept[originate] = kept[originate].replace(
        b"Channel: PJSIP/trunk-dead-00000008", b"Channel: PJSIP/79161234567@trunk-dead"
    )
    record = replay(b"\r\n\r\n".join(kept), by_phones())
    assert summary(record)[:3] == ("outbound", "79161234567", "79161234567")


async def test_the_service_tells_trunks_by_the_operators_phones(db_url: str) -> None:
    body = through_trunk_dead(trace_body(trace_bytes(TRACE)))
    async with running_service(db_url) as service:  # CALLAGENT_TRUNK_ENDPOINTS: default
        await wait_for(lambda: service.monitor.clients[0].connected)
        add_operators(service, 3)
        await service.monitor.read_operator_phones()
        assert service.monitor.tracker.operator_endpoints == PHONES
        await play(service, body)
        (record,) = await fetch_records(service)
    assert summary(record) == ("outbound", "79161234567", "79161234567", "answered")
