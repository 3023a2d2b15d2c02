"""The PBX simulator: faithful to the real traces, and routed by callagent for real.

For every recorded scenario the simulator plays a call (or a phone's life) to a
running callagent, and what it sent is compared, channel by channel, with the
recording: the call-significant events in the same order, with the same header
names, and the same values except ids and times (the ids through the
simulator's own mapping, so that they must be consistent too). Then the
call-record assertions of ``tests/trace_expectations.py`` that pass on the real
trace are run on the simulated twin's records, with its ids, its people and
its times (divided by the speed).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import trace_body
from callagent.sim.pbx import Played, SimulatedPbx
from callagent.sim.scenarios import CALL_SCENARIOS, DERIVED, PHONE_SCENARIOS, SCENARIOS
from tests import trace_expectations
from tests.conftest import TRACES, RunningService, running_service, trace_bytes, wait_for
from tests.test_live_replay import as_epoch, fetch_records
from tests.test_routing import add_operators, agi_port, set_ready

SPEED = 20.0
SIGNIFICANT = frozenset(
    {
        "Newchannel",
        "Newstate",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "Hold",
        "Unhold",
        "HangupRequest",
        "Hangup",
        "OriginateResponse",
        "MixMonitorStart",
        "Cdr",
        "DeviceStateChange",
        "ContactStatus",
        "PeerStatus",
    }
)
# Times (and what the fallback queue's pause mirror changes) are not compared;
# every other value must be the recording's, its ids mapped to the simulated call's.
NOT_COMPARED = frozenset(
    {
        "Timestamp",
        "EventTime",
        "StartTime",
        "AnswerTime",
        "EndTime",
        "Duration",
        "BillableSeconds",
        "HoldTime",
        "RingTime",
        "TalkTime",
        "LastCall",
        "LastPause",
        "LoginTime",
        "RoundtripUsec",
        "Paused",  # callagent's QueuePause, played back by the simulated app_queue
        "PausedReason",
    }
)
RECORDED_CALLS = [name for name in CALL_SCENARIOS if name not in DERIVED]
TIME_FIELDS = ("ring_seconds", "talk_seconds", "wait_seconds", "hold_seconds")


def significant(data: bytes) -> list[AmiMessage]:
    """The call-significant events of an AMI byte stream (Queue* and Agent* included)."""
    items = AmiParser(expect_banner=False).feed(data)
    return [
        i
        for i in items
        if isinstance(i, AmiMessage)
        and (i.event in SIGNIFICANT or i.event.startswith(("Queue", "Agent")))
    ]


def channel_of(message: AmiMessage) -> str:
    """What an event is about: its channel, device, queue member or contact."""
    for key in ("Channel", "Device", "Interface", "Peer", "AOR"):
        if message.get(key):
            return message.get(key)
    return ""


def by_channel(messages: list[AmiMessage]) -> dict[str, list[AmiMessage]]:
    out: dict[str, list[AmiMessage]] = defaultdict(list)
    for message in messages:
        out[channel_of(message)].append(message)
    return out


def assert_faithful(sent: bytes, trace: str, played: Played) -> None:
    """The simulated events match the recording, channel by channel."""
    real = significant(trace_body(trace_bytes(trace)))
    ours = significant(sent)
    assert [m.event for m in ours] == [m.event for m in real]  # and in the same order overall
    real_channels = by_channel(real)
    our_channels = by_channel(ours)
    assert set(our_channels) == {played.rewrite(c) for c in real_channels}
    for channel, theirs in real_channels.items():
        mine = our_channels[played.rewrite(channel)]
        assert [m.event for m in mine] == [m.event for m in theirs], channel
        for our, their in zip(mine, theirs, strict=True):
            assert list(our.headers) == list(their.headers), (channel, our.event)
            for key, value in their.headers.items():
                if key in NOT_COMPARED:
                    continue
                assert our.get(key) == played.rewrite(value), (channel, our.event, key)


def translate(value: Any, played: Played, key: str = "") -> Any:
    """An expectation of the real trace, said of the simulated twin."""
    if isinstance(value, str):
        return played.rewrite(value)
    if isinstance(value, float) and (key.endswith("~") or key in TIME_FIELDS):
        return value / SPEED
    if isinstance(value, dict):
        return {k: translate(v, played, k) for k, v in value.items()}
    if isinstance(value, list):
        return [translate(v, played, key) for v in value]
    if isinstance(value, tuple):
        if key == "legs":  # (channel, cause, seconds up)
            channel, cause, up = value
            return (played.rewrite(channel), cause, None if up is None else up / SPEED)
        return tuple(translate(v, played, key) for v in value)
    return value


async def ready_service(service: RunningService, phones: int = 2) -> tuple[list[int], Recording]:
    ops = add_operators(service, phones)
    await set_ready(service, ops)
    await wait_for(lambda: service.monitor.clients[0].connected)
    sim = Recording(service.pbx, TRACES, agi_port=agi_port(service), speed=SPEED)
    await sim.register_phones([f"PJSIP/op{1001 + n}" for n in range(phones)])
    sim.sent = b""
    return ops, sim


class Recording(SimulatedPbx):
    """The simulator, keeping every byte it sent."""

    sent = b""

    async def send(self, data: bytes) -> None:
        self.sent += data
        await super().send(data)


async def final_records(service: RunningService, count: int = 1) -> list[dict[str, Any]]:
    async def final() -> bool:
        page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
        return len(page["items"]) >= count

    await wait_for(final)
    await service.monitor.writer.drain()
    return [as_epoch(r) for r in await fetch_records(service)]


@pytest.mark.parametrize("scenario", RECORDED_CALLS)
async def test_simulated_calls_match_the_real_traces(
    db_url: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = SCENARIOS[scenario][0]
    # dial_timeout 5: the Dial timeout of the dialplan the traces were recorded with
    async with running_service(db_url, dial_timeout=5) as service:
        ops, sim = await ready_service(service)
        played = await sim.play(scenario, "79161112233")
        assert played.routed
        assert_faithful(sim.sent, trace, played)

        records = await final_records(service)
        expected = translate(trace_expectations.EXPECTED[trace], played)
        monkeypatch.setitem(trace_expectations.EXPECTED, trace, expected)
        trace_expectations.check_records(trace, records)
        (record,) = records
        for key, value in trace_expectations.EXPECTED[trace][0].items():
            if key.endswith("~"):  # tighter than the README's 0.3 s, scaled by the speed
                assert abs(record[key[:-1]] - value) <= 0.3 / SPEED, (key, record[key[:-1]])
        assert record["applicant_number"] == "79161112233"
        assert set(played.rang) <= {"PJSIP/op1001", "PJSIP/op1002"}
        if record["operator_endpoint"]:
            assert record["operator_id"] in ops  # the endpoint is mapped to the operator
            assert record["operator_login"] == record["operator_endpoint"].split("/")[1]
        if scenario == "no_answer_then_next":
            assert len(set(played.rang)) == 2  # the second try went to the other operator


@pytest.mark.parametrize("scenario", PHONE_SCENARIOS)
async def test_simulated_phones_match_the_real_traces(db_url: str, scenario: str) -> None:
    """A phone's registration, loss and return drive its operator's state."""
    async with running_service(db_url) as service:
        ops, sim = await ready_service(service)
        sim.speed = 50.0  # operator_phone_unreachable lasts 21 s
        played = await sim.phone(scenario, "PJSIP/op1002")
        assert_faithful(sim.sent, SCENARIOS[scenario][0], played)

        async def history() -> list[dict[str, Any]]:
            url = f"/api/v1/operators/{ops[1]}/state-history"
            return list((await service.client.get(url)).json())

        async def state_is(state: str) -> bool:
            return (await history())[0]["to_state"] == state

        async def device() -> dict[str, Any]:
            devices = (await service.client.get("/api/v1/devices")).json()
            return dict(next(d for d in devices if d["device"] == "PJSIP/op1002"))

        await wait_for(lambda: state_is("unavailable"))
        await wait_for(lambda: device_is(device, "Removed"))
        assert (await device())["registered"] is False
        # The phone registers again: the operator is ready again, without anyone's help.
        await sim.register_phones(["PJSIP/op1002"])
        await wait_for(lambda: state_is("ready"))
        changes = [(h["to_state"], h["cause"]) for h in await history()]
        assert changes[:2] == [("ready", "device"), ("unavailable", "device")]
        if scenario == "operator_phone_unreachable":
            # Unreachable came first (before the contact was removed).
            unreachable = next(
                m
                for m in significant(sim.sent)
                if m.event == "ContactStatus" and m.get("ContactStatus") == "Unreachable"
            )
            assert unreachable.get("AOR") == "op1002"
        # No call records (tests/trace_expectations.py says so of the real trace too).
        trace_expectations.check_records(SCENARIOS[scenario][0], await fetch_records(service))
        # The other operator never noticed.
        other = (await service.client.get(f"/api/v1/operators/{ops[0]}/state-history")).json()
        assert other[0]["to_state"] == "ready"


async def test_a_call_waits_while_nobody_is_free(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = SimulatedPbx(
            service.pbx,
            TRACES,
            agi_port=agi_port(service),
            speed=50.0,
            route_wait=1.0,
            max_route_tries=3,
        )
        assert not await sim.call("answered", "79161112233")  # no operator at all
        assert sim.calls_unrouted == 1

        async def abandoned() -> Any:
            page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
            return [c for c in page["items"] if c["disposition"] == "abandoned"]

        await wait_for(abandoned)


async def test_without_asterisk_the_service_runs_the_simulator(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What `make run` does on a fresh machine: demo operators take simulated calls."""
    caplog.set_level("WARNING", logger="callagent.sim.demo")
    async with running_service(
        db_url, ami_nodes=[], simulator="auto", simulator_call_interval=0.3, simulator_speed=5.0
    ) as service:

        async def answered() -> Any:
            page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
            return [c for c in page["items"] if c["disposition"] == "answered"]

        await wait_for(answered, timeout=30)
        (first, *_) = await answered()
        assert first["operator_endpoint"] in {"PJSIP/op1001", "PJSIP/op1002", "PJSIP/op1003"}
        users = (await service.client.get("/api/v1/operators")).json()
        assert {(u["login"], u["role"]) for u in users} == {
            ("op1001", "operator"),
            ("op1002", "operator"),
            ("op1003", "operator"),
            ("supervisor", "supervisor"),
        }
        # The demo supervisor opens the campaigns (the README's walk-through).
        async with httpx.AsyncClient(base_url=service.base_url) as browser:
            login = await browser.post(
                "/api/v1/auth/login",
                json={"login": "supervisor", "password": "demo-supervisor"},
            )
            assert login.status_code == 200, login.text
            assert (await browser.get("/api/v1/campaigns")).status_code == 200
            assert (await browser.get("/supervisor/campaigns")).status_code == 200
        ready = await service.client.get("/readyz")
        assert ready.status_code == 200
    assert any("PBX simulator is running" in r.getMessage() for r in caplog.records)


async def device_is(device: Any, contact_status: str) -> bool:
    return bool((await device())["contact_status"] == contact_status)


def test_packaged_scenarios_are_the_recorded_traces() -> None:
    from callagent.sim.demo import TRACES as PACKAGED

    for trace, _ in SCENARIOS.values():
        assert (PACKAGED / f"{trace}.ami").read_bytes() == trace_bytes(trace)
