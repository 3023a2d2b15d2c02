"""The simulator as the real Asterisk 22 is (issue #15 point 11): ``CoreShowChannels``
lists the channels its calls have open, and a phone that stopped ringing is NOT_INUSE
again before the dialplan's next step, as the recorded traces show.

Before, the simulator answered ``CoreShowChannels`` with no channel at all, so calls
still going when callagent reconnected were closed by the resync (``no_answer``), and
after a no-answer with nobody free it hung up the caller without the phone's
``DeviceStateChange`` NOT_INUSE, leaving the phone RINGING in callagent's device table.
"""

from __future__ import annotations

import asyncio
from typing import Any

from callagent.sim.ami_server import trace_body
from callagent.sim.channels import ChannelTable
from tests.conftest import TRACES, RunningService, running_service, trace_bytes, wait_for
from tests.resync_traces import frames, messages
from tests.test_routing import add_operators, agi_port, set_ready
from tests.test_simulator import Recording

SPEED = 20.0


def test_the_channel_table_gives_the_recorded_listing() -> None:
    """Fed the events a real Asterisk sent before it answered ``CoreShowChannels``, the
    table lists exactly what it listed (coreshowchannels_midcall.ami): the same
    channels, newest first, with the same headers in the same order and values."""
    body = trace_body(trace_bytes("coreshowchannels_midcall"))
    start = body.index(b"Response: Success\r\nActionID: resync-1")
    recorded = [m for m in messages(body[start:]) if m.event == "CoreShowChannel"]
    assert len(recorded) == 2
    table = ChannelTable()
    for message in messages(body[:start]):
        table.apply(message)
    # Asked between the last event before the answer and the first after it; the whole
    # seconds of Duration say when: 3.2 s after the newest channel was created.
    stamps = [float(m.get("Timestamp")) for m in messages(body) if m.get("Timestamp")]
    newest = max(
        float(m.get("Timestamp")) for m in messages(body[:start]) if m.event == "Newchannel"
    )
    asked = newest + 3.2
    before = [t for t in stamps if t < asked]
    assert before and max(before) < asked < min(t for t in stamps if t > max(before))
    listed = table.listing(asked)
    assert len(listed) == len(recorded)
    for ours, theirs in zip(listed, recorded, strict=True):
        expected = {k: v for k, v in theirs.headers.items() if k not in ("Event", "ActionID")}
        assert list(ours) == list(expected)
        assert ours == expected  # AppDial for the dialled phone, Duration 00:00:03, BridgeId


async def test_a_call_going_at_a_reconnect_is_listed_and_ends_abandoned(db_url: str) -> None:
    """Callers waiting for an operator while callagent's AMI link drops: the simulator's
    listing keeps their calls open, and they end as what they were, abandoned."""
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = Recording(
            service.pbx,
            TRACES,
            agi_port=agi_port(service),
            speed=SPEED,
            route_wait=1.0,
            max_route_tries=40,  # held about 2 s (40 waits of 1 s at speed 20)
        )
        calls = [asyncio.create_task(sim.play("answered", f"7916111220{n}")) for n in range(3)]
        await wait_for(lambda: len(service.monitor.tracker.calls) == 3)
        listed = service.pbx.live_channels  # old simulator: none
        assert {c["Linkedid"] for c in listed} == {p.linkedid for p in sim.played}
        first = service.pbx.connections[0]
        resyncs = service.monitor.resyncs
        first.writer.close()  # callagent's AMI link drops, it logs in again and resyncs
        await wait_for(lambda: service.monitor.resyncs > resyncs)
        assert service.monitor.resync_closed == 0  # old simulator: all three closed
        assert len(service.monitor.tracker.calls) == 3
        played = await asyncio.gather(*calls)
        assert not any(p.routed for p in played)  # nobody to answer: they gave up

        async def records() -> list[dict[str, Any]]:
            page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
            items: list[dict[str, Any]] = page["items"]
            return items if len(items) == 3 else []

        await wait_for(records)
        for record in await records():
            assert record["disposition"] == "abandoned", record
            assert record["closed_by_resync"] is False
        assert service.pbx.live_channels == []  # every channel hung up


def _device_states(data: bytes, device: str) -> list[str]:
    return [
        m.get("State")
        for m in messages(data)
        if m.event == "DeviceStateChange" and m.get("Device") == device
    ]


async def _one_operator(service: RunningService) -> tuple[int, Recording]:
    (op,) = add_operators(service, 1)
    await set_ready(service, [op])
    await wait_for(lambda: service.monitor.clients[0].connected)
    sim = Recording(
        service.pbx,
        TRACES,
        agi_port=agi_port(service),
        speed=SPEED,
        route_wait=1.0,
        max_route_tries=10,
    )
    await sim.register_phones(["PJSIP/op1001"])
    sim.sent = b""
    return op, sim


async def test_a_phone_that_was_not_answered_is_free_again_with_nobody_else(
    db_url: str,
) -> None:
    """inbound_no_answer_then_next with only op1001: it rings out (NOANSWER), nobody else
    is free, the caller hangs up; op1001's phone goes RINGING then NOT_INUSE as in the
    recording, before the caller's Hangup, and callagent's device table says so."""
    real = trace_body(trace_bytes("inbound_no_answer_then_next"))
    real_states = _device_states(real, "PJSIP/op1001")
    assert real_states == ["RINGING", "NOT_INUSE"]
    async with running_service(db_url, dial_timeout=5) as service:
        _, sim = await _one_operator(service)
        played = await sim.play("no_answer_then_next", "79161112233")
        assert played.rang == ["PJSIP/op1001"] and not played.routed
        assert _device_states(sim.sent, "PJSIP/op1001") == real_states  # old: RINGING only
        # in the recording's order: the phone's channel hangs up, the phone is free, then
        # (here) the caller hangs up
        sent = frames(sim.sent)
        free = next(
            i for i, f in enumerate(sent) if b"Device: PJSIP/op1001\r\nState: NOT_INUSE" in f
        )
        hangups = [i for i, f in enumerate(sent) if f.startswith(b"Event: Hangup\r\n")]
        phone_hangup, caller_hangup = hangups
        assert phone_hangup < free < caller_hangup
        # app_queue's member status follows, as recorded
        assert sent[free + 1].startswith(b"Event: QueueMemberStatus\r\n")

        async def device() -> str:
            rows = (await service.client.get("/api/v1/devices")).json()
            return next((r["state"] for r in rows if r["device"] == "PJSIP/op1001"), "")

        await wait_for(lambda: device())
        await service.monitor.writer.drain()

        async def idle() -> bool:
            return await device() == "NOT_INUSE"  # old simulator: RINGING for good

        await wait_for(idle)
