"""The PBX simulator: faithful to the real traces, and routed by callagent for real."""

from __future__ import annotations

from typing import Any

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import trace_body
from callagent.sim.pbx import SCENARIOS, SimulatedPbx
from tests.conftest import TRACES, running_service, trace_bytes, wait_for
from tests.test_routing import add_operators, agi_port, set_ready

SIGNIFICANT = (
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
)
# Values compared as they are (everything else is an id, a time, a caller or an operator).
COMPARED = (
    "Event",
    "ChannelState",
    "ChannelStateDesc",
    "Cause",
    "Cause-txt",
    "DialStatus",
    "Disposition",
    "State",
    "Context",
    "Priority",
    "Language",
)


def significant(data: bytes) -> list[AmiMessage]:
    items = AmiParser(expect_banner=False).feed(data)
    return [i for i in items if isinstance(i, AmiMessage) and i.event in SIGNIFICANT]


class Recording(SimulatedPbx):
    """The simulator, keeping every byte it sent."""

    sent = b""

    async def send(self, data: bytes) -> None:
        self.sent += data
        await super().send(data)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_simulated_calls_match_the_real_traces(db_url: str, scenario: str) -> None:
    async with running_service(db_url) as service:
        ops = add_operators(service, 2)
        await set_ready(service, ops)
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = Recording(service.pbx, TRACES, agi_port=agi_port(service), speed=20.0)
        assert await sim.call(scenario, "79161112233")
        real = significant(trace_body(trace_bytes(SCENARIOS[scenario])))
        simulated = significant(sim.sent)
        assert [m.event for m in simulated] == [m.event for m in real]
        for ours, theirs in zip(simulated, real, strict=True):
            assert list(ours.headers) == list(theirs.headers), ours.event
            for key in COMPARED:
                assert ours.get(key) == theirs.get(key), (ours.event, key)

        async def final() -> Any:
            page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
            return page["items"]

        await wait_for(final)
        (record,) = await final()
        expected = {
            "answered": ("answered", "applicant"),
            "operator_hangs_up": ("answered", "operator"),
            "no_answer_then_next": ("answered", "applicant"),
            "abandoned": ("abandoned", "applicant"),
        }[scenario]
        assert (record["disposition"], record["hangup_by"]) == expected
        assert record["applicant_number"] == "79161112233"
        if record["operator_endpoint"]:
            assert record["operator_id"] in ops  # the endpoint is mapped to the operator
            assert record["operator_login"] == record["operator_endpoint"].split("/")[1]
        detail = (await service.client.get(f"/api/v1/calls/{record['id']}")).json()
        rung = [a["endpoint"] for a in detail["attempts"]]
        assert set(rung) <= {"PJSIP/op1001", "PJSIP/op1002"}
        if scenario == "no_answer_then_next":
            assert len(set(rung)) == 2  # the second try went to the other operator
            assert [a["outcome"] for a in detail["attempts"]] == ["no_answer", "answered"]


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


async def test_without_asterisk_the_service_runs_the_simulator(db_url: str) -> None:
    """What `make run` does on a fresh machine: demo operators take simulated calls."""
    async with running_service(
        db_url, ami_nodes=[], simulator="auto", simulator_call_interval=0.3, simulator_speed=5.0
    ) as service:

        async def answered() -> Any:
            page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
            return [c for c in page["items"] if c["disposition"] == "answered"]

        await wait_for(answered, timeout=30)
        (first, *_) = await answered()
        assert first["operator_endpoint"] in {"PJSIP/op1001", "PJSIP/op1002", "PJSIP/op1003"}
        operators = (await service.client.get("/api/v1/operators")).json()
        assert {o["login"] for o in operators} == {"op1001", "op1002", "op1003"}
        ready = await service.client.get("/readyz")
        assert ready.status_code == 200


def test_packaged_scenarios_are_the_recorded_traces() -> None:
    from callagent.sim.demo import TRACES as PACKAGED

    for trace in SCENARIOS.values():
        assert (PACKAGED / f"{trace}.ami").read_bytes() == trace_bytes(trace)
