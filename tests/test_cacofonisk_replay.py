"""cacofonisk's recorded transfers, pickups and groups: one record per call (issue #18).

The AMI byte streams in ``tests/fixtures/cacofonisk/<category>/<name>.ami`` are
VoIPGRID/cacofonisk's recordings (MIT, see that folder's README), headers in their
recorded alphabetical order. Each is replayed into the pure tracker and, over TCP, into
the service on SQLite and PostgreSQL; the record must tell what cacofonisk's own tests
assert for the recording (its ``on_up`` target is who took the call, ``on_b_dial_end``
reasons are the attempts' outcomes, ``on_*_transfer`` the transfers list). Where
callagent's vocabulary differs (a 603/cause-21 decline is ``rejected``, not ``busy``; a
blind transfer whose target never answered is still listed, with
``target_answered: False``), the fixtures' README says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.tracker.tracker import Tracker
from tests.conftest import running_service, wait_for
from tests.test_live_replay import fetch_records, play
from tests.test_tracker_traces import records_of

FIXTURES = Path(__file__).parent / "fixtures" / "cacofonisk"
TRUNK = "SIP/voipgrid-siproute-docker"
P1, P2, P3, P4 = (f"SIP/15001000{n}" for n in (1, 2, 3, 4))

Attempts = list[tuple[str, str, str]]  # (phone, outcome, via)
Transfers = list[tuple[str, str, str | None, bool]]  # (kind, by, who took it, answered)

# name: (the operator who answered first, disposition, attempts, transfers)
EXPECTED: dict[str, tuple[str | None, str, Attempts, Transfers]] = {
    # Attended: the consultation's answer belongs to the call (issue point 1).
    "queue/queue_attn_xfer": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P2, "answered", "transfer")],
        [("attended", P1, P2, True)],
    ),
    "xfer_attended/xfer_abacbc": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("attended", P1, P3, True)],
    ),
    "xfer_attended/xfer_abbcac": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("attended", P2, P3, True)],
    ),
    "xfer_attended/xfer_abbcac_anon": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P3, "answered", "transfer")],
        [("attended", P1, P3, True)],
    ),
    # B and C both call A; A joins them: the first call stays, the second joins it.
    "xfer_attended/xfer_abcbac": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P1, "answered", "dial")],
        [("attended", P1, P2, True)],
    ),
    "originate/ctd-account-account-xfer-attn-abbcac": (
        P2,
        "answered",
        [(P1, "answered", "dial"), (P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("attended", P2, P3, True)],
    ),
    "originate/ctd-account-world-xfer-attn-abacbc": (
        P3,
        "answered",
        [(P1, "answered", "dial"), (P3, "answered", "transfer")],
        [("attended", P1, P3, True)],
    ),
    # Blind.
    "queue/queue_blind_xfer": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P2, "answered", "transfer")],
        [("blind", P1, P2, True)],
    ),
    "xfer_blind/xfer_blind_abacbc": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("blind", P1, P3, True)],
    ),
    "xfer_blind/xfer_blind_abbcac": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("blind", P2, P3, True)],
    ),
    "xfer_blind/xfer_blind_a_no_answer": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "busy", "transfer")],
        [("blind", P1, P3, False)],
    ),
    "xfer_blind/xfer_blind_b_no_answer": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "busy", "transfer")],
        [("blind", P2, P3, False)],
    ),
    "xfer_blind/xfer_blind_reject": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "rejected", "transfer")],
        [("blind", P2, P3, False)],
    ),
    # To a ring group: the target is the member who answered (issue point 3).
    "xfer_blind/xfer_blind_group": (
        P1,
        "answered",
        [
            (P1, "answered", "dial"),
            (P2, "answered_elsewhere", "transfer"),
            (P3, "answered", "transfer"),
        ],
        [("blind", P1, P3, True)],
    ),
    "xfer_blind/xfer_blind_group_no_answer": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P4, "busy", "transfer")],
        [("blind", P1, P4, False)],
    ),
    # Blonde: completed while the target still rang (issue point 2).
    "xfer_blonde/xfer_blonde_abacbc": (
        P2,
        "answered",
        [(P2, "answered", "dial"), (P3, "answered", "transfer")],
        [("blonde", P1, P3, True)],
    ),
    "xfer_blonde/xfer_blonde_abbcac": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P2, "answered", "transfer")],
        [("blonde", P1, P2, True)],
    ),
    "xfer_blonde/xfer_blonde_group_a": (
        P2,
        "answered",
        [(P2, "answered", "transfer"), (P3, "answered_elsewhere", "transfer")],
        [("blonde", P1, P2, True)],
    ),
    "xfer_blonde/xfer_blonde_group_b": (
        P1,
        "answered",
        [
            (P1, "answered", "dial"),
            (P2, "answered", "transfer"),
            (P3, "answered_elsewhere", "transfer"),
        ],
        [("blonde", P1, P2, True)],
    ),
    "xfer_blonde/xfer_blonde_reject": (
        P1,
        "answered",
        [(P1, "answered", "dial"), (P2, "busy", "transfer")],
        [("blonde", P1, P2, False)],
    ),
    # Groups and forwarding.
    "queue/queue_group": (
        P2,
        "answered",
        [(P3, "answered_elsewhere", "dial"), (P2, "answered", "dial")],
        [],
    ),
    "simple/ab_callgroup": (
        P2,
        "answered",
        [(P3, "answered_elsewhere", "dial"), (P2, "answered", "dial")],
        [],
    ),
    "simple/ab_callgroup_no_answer": (
        None,
        "no_answer",
        [(P3, "rejected", "dial"), (P2, "busy", "dial")],
        [],
    ),
    "xfer_misc/call_forwarding": (
        P2,
        "answered",
        [(P1, "forwarded", "dial"), (P2, "answered", "dial")],
        [],
    ),
    "xfer_misc/call_forwarding_to_group": (
        P3,
        "answered",
        [
            (P1, "forwarded", "dial"),
            (P2, "answered_elsewhere", "dial"),
            (P3, "answered", "dial"),
        ],
        [],
    ),
    # Pickup: the picking phone joins the ringing call (issue point 4).
    "xfer_misc/sip_pickup": (
        P3,
        "answered",
        [(P2, "picked_up_elsewhere", "dial"), (P3, "answered", "pickup")],
        [],
    ),
    "xfer_misc/star_pickup": (
        P3,
        "answered",
        [(P2, "picked_up_elsewhere", "dial"), (P3, "answered", "pickup")],
        [],
    ),
}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.ami").read_bytes()


def events(name: str) -> list[AmiMessage]:
    items = AmiParser().feed(fixture_bytes(name))
    assert all(isinstance(i, AmiMessage) for i in items), "the recordings parse without errors"
    return [i for i in items if isinstance(i, AmiMessage)]


def replay(events: list[AmiMessage]) -> list[dict[str, Any]]:
    """The records the pure tracker gives; event n arrives at 1000 + n/10 s (no Timestamp)."""
    tracker = Tracker(trunk_endpoints=(TRUNK,))
    for n, event in enumerate(events):
        tracker.feed("pbx1", event, 1_000.0 + n / 10)
    return records_of(tracker)


def outcome(record: dict[str, Any]) -> tuple[str | None, str, Attempts, Transfers]:
    return (
        record["operator_endpoint"],
        record["disposition"],
        [(a["endpoint"], a["outcome"], a["via"]) for a in record["attempts"]],
        [
            (t["kind"], t["by_endpoint"], t["target_endpoint"], t["target_answered"])
            for t in record["transfers"]
        ],
    )


def test_every_converted_fixture_has_an_expectation() -> None:
    on_disk = {str(p.relative_to(FIXTURES))[: -len(".ami")] for p in FIXTURES.rglob("*.ami")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_record_per_call_with_cacofonisks_outcome(name: str) -> None:
    (record,) = replay(events(name))
    assert record["final"]
    assert outcome(record) == EXPECTED[name]
    # Never a Local channel where a phone is meant.
    phones = [a["endpoint"] for a in record["attempts"]] + [record["operator_endpoint"] or ""]
    phones += [t["by_endpoint"] for t in record["transfers"]]
    phones += [t["target_endpoint"] or "" for t in record["transfers"]]
    assert not any(phone.startswith("Local/") for phone in phones)


@pytest.mark.parametrize(
    "name", [n for n in sorted(EXPECTED) if EXPECTED[n][3]]
)  # the ones with a transfer
def test_a_transfer_is_dated_by_its_event(name: str) -> None:
    recorded = events(name)
    index = next(
        n for n, e in enumerate(recorded) if e.event in ("AttendedTransfer", "BlindTransfer")
    )
    (record,) = replay(recorded)
    (transfer,) = record["transfers"]
    assert transfer["at"] == pytest.approx(1_000.0 + index / 10)


def test_pickup_moves_the_picking_phone_into_the_ringing_call() -> None:
    """The picking phone's channel began its own call (Linkedid = its Uniqueid)."""
    recorded = events("xfer_misc/sip_pickup")
    picker = next(e for e in recorded if e.event == "Newchannel" and e["Channel"].startswith(P3))
    assert picker["Linkedid"] == picker["Uniqueid"]
    (record,) = replay(recorded)
    assert record["linkedid"] != picker["Linkedid"]
    assert picker["Uniqueid"] in {leg["uniqueid"] for leg in record["legs"]}
    assert record["answered_at"] is not None


def with_hangup_requests(recorded: list[AmiMessage], channels: list[str]) -> list[AmiMessage]:
    """The recording with a ``HangupRequest`` before the ``Hangup`` of each of ``channels``.

    cacofonisk's recordings hold no ``HangupRequest``; Asterisk emits one for the
    channel whose side sent BYE, which is how callagent tells who ended the call.
    """
    out: list[AmiMessage] = []
    for event in recorded:
        if event.event == "Hangup" and event["Channel"] in channels:
            out.append(AmiMessage({**event.headers, "Event": "HangupRequest"}))
        out.append(event)
    return out


def test_hangup_by_is_the_applicant_not_the_operator_completing_the_transfer() -> None:
    """xfer_abbcac_anon: the applicant talks with 201, 201 consults 203 and hands over."""
    recorded = events("xfer_attended/xfer_abbcac_anon")
    transferer_first = "SIP/150010001-00000028"
    transferer_second = "SIP/150010001-00000029"
    applicant = "SIP/voipgrid-siproute-docker-00000027"
    (record,) = replay(
        with_hangup_requests(recorded, [transferer_first, transferer_second, applicant])
    )
    assert record["hangup_by"] == "applicant"
    (record,) = replay(
        with_hangup_requests(recorded, [transferer_second, "SIP/150010003-0000002a"])
    )
    assert record["hangup_by"] == "operator"  # the operator who took the call hung up
    (record,) = replay(recorded)
    assert record["hangup_by"] == "system"  # no HangupRequest at all: nobody's doing


def project(records: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {r["linkedid"]: outcome(r) for r in records}


async def test_every_fixture_over_tcp_into_the_database(db_url: str) -> None:
    expected = {}
    for name in EXPECTED:
        (record,) = replay(events(name))
        expected[record["linkedid"]] = EXPECTED[name]
    async with running_service(db_url, trunk_endpoints=[TRUNK]) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        for name in sorted(EXPECTED):
            await play(service, fixture_bytes(name))
        stored = await fetch_records(service)
        assert service.monitor.clients[0].events_malformed == 0
    assert project(stored) == expected  # one record per call, nothing else


async def test_a_consultation_stored_in_progress_is_deleted_when_it_joins(db_url: str) -> None:
    """The consultation call was written while it ran; after the transfer it is gone."""
    body = fixture_bytes("xfer_attended/xfer_abbcac_anon")
    cut = body.index(b"Event: AttendedTransfer")
    cut = body.rindex(b"\r\n\r\n", 0, cut) + 4  # the frame before the transfer's
    async with running_service(db_url, trunk_endpoints=[TRUNK]) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        await play(service, body[:cut])
        before = await fetch_records(service)
        assert len(before) == 2 and not any(r["final"] for r in before)
        await play(service, body[cut:])
        (after,) = await fetch_records(service)
    assert outcome(after) == EXPECTED["xfer_attended/xfer_abbcac_anon"]
    assert after["linkedid"] in {r["linkedid"] for r in before}


def with_pickup_event(recorded: list[AmiMessage], *, keep_dial: bool) -> list[AmiMessage]:
    """sip_pickup with the ``Pickup`` event Asterisk 12+ sends (main/pickup.c).

    Its ``Channel`` is the picking phone as it was before the pickup, ``Target*`` the
    ringing channel; it is placed where the ringing phone's Dial is cancelled. Without
    ``keep_dial`` the dial Asterisk 13 published to the picking phone is left out, so only
    ``Pickup`` and the Linkedid change tell what happened.
    """
    picker = next(e for e in recorded if e.event == "Newchannel" and e["Channel"].startswith(P3))
    ringing = next(e for e in recorded if e.event == "Newchannel" and e["Channel"].startswith(P2))
    pickup = AmiMessage(
        {
            **{k: v for k, v in picker.headers.items() if k != "Event"},
            "Event": "Pickup",
            **{f"Target{k}": v for k, v in ringing.headers.items() if k != "Event"},
        }
    )
    out: list[AmiMessage] = []
    for event in recorded:
        dest = event.get("DestChannel")
        if event.event == "DialEnd" and dest == ringing["Channel"]:
            out.append(pickup)
        if not keep_dial and event.event in ("DialBegin", "DialEnd") and dest.startswith(P3):
            continue
        out.append(event)
    return out


@pytest.mark.parametrize("keep_dial", [False, True])
def test_the_pickup_event_names_who_picked_up(keep_dial: bool) -> None:
    recorded = with_pickup_event(events("xfer_misc/sip_pickup"), keep_dial=keep_dial)
    (record,) = replay(recorded)
    assert outcome(record) == EXPECTED["xfer_misc/sip_pickup"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attaching_mid_call_never_crashes(name: str) -> None:
    """cacofonisk's test_partial: drop the first k events, for every k."""
    recorded = events(name)
    for k in range(len(recorded)):
        for record in replay(recorded[k:]):
            assert record["disposition"]
            assert not (record["operator_endpoint"] or "").startswith("Local/")
            if record["final"]:
                assert record["ended_at"] is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_duplicated_events_change_nothing(name: str) -> None:
    recorded = events(name)
    (record,) = replay([e for event in recorded for e in (event, event)])
    assert outcome(record) == EXPECTED[name]
