"""A phone that rang for a caller who hung up is free again (issue #17, item 3).

The real trace ``inbound_abandoned`` (Asterisk 22) ends with the ringing phone's
``DeviceStateChange`` NOT_INUSE; the simulator must say the same, and callagent must not
keep an operator out of routing on a device state that went stale.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.db.models import Device
from callagent.sim.ami_server import frame
from callagent.sim.scenarios import Behaviour, Dist
from callagent.stale_devices import StaleRinging
from tests.conftest import TRACES, RunningService, running_service, wait_for
from tests.test_sim_scenarios import CALLER, start


def device_state(service: RunningService, endpoint: str) -> str:
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        return str(db.scalar(select(Device.state).where(Device.device == endpoint)) or "")


def recorded_end_states() -> dict[str, str]:
    """The last DeviceStateChange of every phone in the real abandoned-while-ringing call."""
    frames = AmiParser(expect_banner=True).feed((TRACES / "inbound_abandoned.ami").read_bytes())
    states: dict[str, str] = {}
    for item in frames:
        if isinstance(item, AmiMessage) and item.event == "DeviceStateChange":
            states[item.get("Device")] = item.get("State")
    return states


async def test_the_phone_is_free_after_the_caller_hangs_up_during_the_ring(db_url: str) -> None:
    assert recorded_end_states()["PJSIP/op1001"] == "NOT_INUSE"  # what Asterisk says
    people = Behaviour(answer_delay=Dist.fixed(8.0), patience=Dist.fixed(2.0))
    async with running_service(db_url) as service:
        _, sim = await start(service, people)
        played = await sim.play("answered", CALLER)
        assert played.abandoned_early
        (rang,) = set(played.rang)
        await wait_for(lambda: device_state(service, rang) == "NOT_INUSE", timeout=5)


def test_a_phone_ringing_past_the_threshold_is_asked_about_once() -> None:
    watch = StaleRinging(threshold=10.0)
    ringing = [("pbx1", "PJSIP/op1001", "RINGING"), ("pbx1", "PJSIP/op1002", "NOT_INUSE")]
    assert watch.sample(ringing, 0.0) == {}
    assert watch.sample(ringing, 9.9) == {}
    assert watch.sample(ringing, 10.0) == {"pbx1": ["PJSIP/op1001"]}
    assert watch.sample(ringing, 12.0) == {}  # asked: not again before the threshold
    assert watch.sample(ringing, 20.0) == {"pbx1": ["PJSIP/op1001"]}  # still ringing
    # it stopped ringing, then rings again: a new ringing counts from its start
    watch.sample([("pbx1", "PJSIP/op1001", "NOT_INUSE")], 21.0)
    assert watch.sample(ringing, 22.0) == {}
    assert watch.sample(ringing, 31.9) == {}
    assert watch.sample(ringing, 32.0) == {"pbx1": ["PJSIP/op1001"]}


async def test_a_lost_not_inuse_is_put_right_by_asking_the_pbx(db_url: str) -> None:
    async with running_service(db_url, dial_timeout=5) as service:
        await start(service)
        phone = "PJSIP/op1001"
        await wait_for(lambda: device_state(service, phone) == "NOT_INUSE")
        # the phone rang, and the PBX's NOT_INUSE after it never reached callagent
        await service.pbx.broadcast(
            frame(("Event", "DeviceStateChange"), ("Device", phone), ("State", "RINGING"))
        )
        await wait_for(lambda: device_state(service, phone) == "RINGING")
        service.pbx.device_states[phone] = "NOT_INUSE"  # what the PBX knows
        asked = len([a for a in service.pbx.actions if a.action == "DeviceStateList"])
        loop = asyncio.get_running_loop()
        began = loop.time()
        await wait_for(lambda: device_state(service, phone) == "NOT_INUSE", timeout=20)
        # not before the dial timeout (5 s) and the margin (5 s); soon after (2 s samples)
        assert 10.0 - 2.0 <= loop.time() - began <= 10.0 + 4.0
        assert len([a for a in service.pbx.actions if a.action == "DeviceStateList"]) == asked + 1
