"""Feature codes on a real Asterisk 22 (``live/live_feature_codes``), replayed over TCP.

op1001, offline, dialled ``*51``, ``*531``, ``*54`` and ``*52``. The AMI stream is sent
byte for byte to the service, and each code's FastAGI dialogue is played from its
recording (Asterisk's side) at the point of the stream where Asterisk ran ``AGI``.
A feature-code dial is not a contact: no call record, no wrap-up, and no state change
beyond what the code says (issue #11, point 2).
"""

from __future__ import annotations

import json
from typing import Any

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.routing.driver import StateDriver
from callagent.sim.agi_client import replay_recorded
from callagent.sim.ami_server import trace_body
from callagent.sim.pbx import Played
from callagent.sim.scenarios import Behaviour, Dist
from callagent.tracker.events import CallEnded
from callagent.tracker.records import build_record
from callagent.tracker.tracker import Tracker
from tests.conftest import LIVE_TRACES, RunningService, running_service, wait_for
from tests.test_live_replay import play
from tests.test_routing import add_operators, agi_port
from tests.test_sim_scenarios import history, start
from tests.test_simulator import NOT_COMPARED, channel_of, significant

NAME = "live_feature_codes"


def trace() -> bytes:
    return (LIVE_TRACES / f"{NAME}.ami").read_bytes()


def agi_dialogues() -> list[list[dict[str, Any]]]:
    """The recorded FastAGI connections, in the order Asterisk opened them."""
    lines = [json.loads(line) for line in (LIVE_TRACES / f"{NAME}.agi.jsonl").open()]
    conns = sorted({line["conn"] for line in lines})
    return [[line for line in lines if line["conn"] == conn] for conn in conns]


def split_at_agi(body: bytes) -> list[bytes]:
    """The stream cut after each ``Newexten`` that starts ``AGI``: n + 1 pieces."""
    pieces: list[bytes] = []
    start = 0
    cuts = [
        end
        for begin, end in _frames(body)
        if body[begin:end].startswith(b"Event: Newexten\r\n")
        and b"\r\nApplication: AGI\r\n" in body[begin:end]
    ]
    for cut in cuts:
        pieces.append(body[start:cut])
        start = cut
    pieces.append(body[start:])
    return pieces


def _frames(body: bytes) -> list[tuple[int, int]]:
    """(start, end) of every frame; a frame ends after its blank line."""
    out = []
    start = 0
    while start < len(body):
        end = body.find(b"\r\n\r\n", start)
        if end < 0:
            break
        out.append((start, end + 4))
        start = end + 4
    return out


def _driver(service: RunningService) -> StateDriver:
    owners = [getattr(s, "__self__", None) for s in service.monitor.subscribers]
    return next(owner for owner in owners if isinstance(owner, StateDriver))


async def settle(service: RunningService) -> None:
    """Everything played so far is stored and has moved the operators' states."""
    await service.monitor.writer.drain()
    await _driver(service).queue.join()


def test_the_pure_tracker_stores_no_feature_code_call() -> None:
    tracker = Tracker(trunk_endpoints=("PJSIP/trunk", "PJSIP/trunk-dead"))
    ended: list[CallEnded] = []
    for item in AmiParser().feed(trace()):
        if isinstance(item, AmiMessage):
            ended += [e for e in tracker.feed("pbx1", item, 0.0) if isinstance(e, CallEnded)]
    assert len(ended) == 4  # the four dials were seen to their end...
    assert all(event.operators == () for event in ended)  # ...and nobody talked on them
    assert tracker.dirty_calls == set() and tracker.calls == {}
    assert [tracker.finished_call(key) for key in tracker._finished] == [None] * 4


def test_an_operator_call_becomes_a_contact_when_someone_else_joins() -> None:
    """The same first channel as *51, then a trunk leg: the call is stored as before."""
    events = [i for i in AmiParser().feed(trace()) if isinstance(i, AmiMessage)]
    first = next(e for e in events if e.event == "Newchannel")
    trunk = AmiMessage(
        {
            **first.headers,
            "Channel": "PJSIP/trunk-00000009",
            "ChannelStateDesc": "Down",
            "Uniqueid": "1796324406.9",
            "Exten": "s",
        }
    )
    tracker = Tracker()
    tracker.feed("pbx1", first, 0.0)
    assert tracker.dirty_calls == set()  # only the operator's phone and the dialplan
    tracker.feed("pbx1", trunk, 0.0)
    assert tracker.dirty_calls == {("pbx1", "1796324406.0")}
    record = build_record(tracker.calls[("pbx1", "1796324406.0")])
    assert record.direction == "outbound"
    assert len(record.legs) == 2


async def test_feature_codes_make_no_call_and_no_wrapup(db_url: str) -> None:
    pieces = split_at_agi(trace_body(trace()))
    dialogues = agi_dialogues()
    assert len(pieces) == len(dialogues) + 1 == 5
    async with running_service(
        db_url, trunk_endpoints=["PJSIP/trunk", "PJSIP/trunk-dead"]
    ) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        (op,) = add_operators(service, 1)
        for piece, dialogue in zip(pieces, dialogues, strict=False):
            await play(service, piece)
            await settle(service)
            said = await replay_recorded(dialogue, "127.0.0.1", agi_port(service))
            recorded = [c["data"] for c in dialogue if c["dir"] == ">asterisk"]
            assert said == recorded  # callagent answered Asterisk as it did on the PBX
        await play(service, pieces[-1])
        await settle(service)

        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert [(h["from_state"], h["to_state"], h["reason"], h["cause"]) for h in history][
            ::-1
        ] == [
            ("offline", "ready", "", "feature_code"),
            ("ready", "paused", "break", "feature_code"),
            ("paused", "ready", "", "feature_code"),
            ("ready", "offline", "", "feature_code"),
        ]
        pending = await service.client.get("/api/v1/wrapups/pending", params={"operator_id": op})
        assert pending.status_code == 200 and pending.json() == []
        calls = (await service.client.get("/api/v1/calls")).json()
        assert calls["total"] == 0 and calls["items"] == []

        # The fallback queue follows: unpaused, break, unpaused, and paused offline at *52.
        def pauses() -> list[tuple[str, str]]:
            return [
                (a.get("Paused"), a.get("Reason"))
                for a in service.pbx.actions
                if a.action == "QueuePause" and a.get("Interface") == "PJSIP/op1001"
            ]

        want = [("false", "ready"), ("true", "break"), ("false", "ready"), ("true", "offline")]
        await wait_for(lambda: pauses() == want, timeout=5)


# ------------------------------------------------------------------ the simulator


async def test_the_simulated_star54_is_the_recorded_one(db_url: str) -> None:
    """The simulator's *54 is the live recording's (ids, operator and times its own), and
    after a call it frees the operator without a second wrap-up or a record of its own."""
    people = Behaviour(wrapup=Dist.fixed(20.0))  # 1 s at the tests' speed
    async with running_service(db_url, wrapup_seconds=60) as service:
        ops, sim = await start(service, people, phones=1)
        played = await sim.play("answered", "79161112233")
        assert played.answered_by == "PJSIP/op1001"
        sim.sent = b""  # what follows is the operator's *54

        async def back() -> bool:
            return (await history(service, ops[0]))[0] == ("ready", "feature_code")

        await wait_for(back, timeout=5)
        pressed = next(p for p in sim.played if p.scenario == "feature_code_ready")
        real = _recorded_star54()

        def ours_now() -> list[AmiMessage]:
            return [
                m
                for m in significant(sim.sent)
                if channel_of(m) in _sim_channels(pressed) and not m.event.startswith("Queue")
            ]

        await wait_for(lambda: len(ours_now()) >= len(real))  # the *54 ended, phone idle
        await service.monitor.writer.drain()
        await settle(service)

        # AMI: the recorded *54 frames, channel by channel, in the same order.
        ours = ours_now()
        assert [m.event for m in ours] == [m.event for m in real]
        for our, their in zip(ours, real, strict=True):
            assert list(our.headers) == list(their.headers), our.event
            for key, value in their.headers.items():
                if key not in NOT_COMPARED:
                    assert our.get(key) == pressed.rewrite(value), (our.event, key)

        # callagent: one call, one wrap-up (submitted by *54), nothing after it.
        states = await history(service, ops[0])
        assert states[:3] == [("ready", "feature_code"), ("wrap_up", "call"), ("on_call", "call")]
        calls = (await service.client.get("/api/v1/calls")).json()
        assert calls["total"] == 1
        pending = await service.client.get(
            "/api/v1/wrapups/pending", params={"operator_id": ops[0]}
        )
        assert len(pending.json()) == 1  # the real call's form, still to fill in


def _recorded_star54() -> list[AmiMessage]:
    """The significant events of the *54 call of the recording, with its phone's states."""
    events = significant(trace_body(trace()))
    first = next(i for i, m in enumerate(events) if m.get("Exten") == "*54")
    channel = events[first].get("Channel")
    last = max(i for i, m in enumerate(events) if m.get("Channel") == channel)
    idle = next(
        i
        for i in range(last, len(events))
        if events[i].event == "DeviceStateChange" and events[i].get("Device") == "PJSIP/op1001"
    )
    return [
        m
        for m in events[first : idle + 1]
        if m.get("Channel") == channel
        or (m.event == "DeviceStateChange" and m.get("Device") == "PJSIP/op1001")
    ]


def _sim_channels(pressed: Played) -> set[str]:
    return {pressed.rewrite("PJSIP/op1001-00000002"), pressed.rewrite("PJSIP/op1001")}
