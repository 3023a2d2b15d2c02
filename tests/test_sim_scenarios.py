"""The simulator's people and its derived scenario: busy phones, answer delays, talk,
hold, patience, after-call work, app_queue's pauses, and make run's mix of calls."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.config import AmiNode
from callagent.db.models import Device
from callagent.routing.operators import phones_down
from callagent.sim.ami_server import AmiServer
from callagent.sim.demo import TRACES as PACKAGED
from callagent.sim.pbx import Rewriter, SimulatedPbx
from callagent.sim.scenarios import (
    CALL_SCENARIOS,
    DEMO_BEHAVIOUR,
    DEMO_WEIGHTS,
    Behaviour,
    Dist,
    derive_busy,
    load_template,
    load_templates,
    warp,
)
from tests.conftest import TRACES, RunningService, running_service, wait_for
from tests.test_routing import add_operators, agi_port, set_ready
from tests.test_simulator import Recording, final_records, significant

SPEED = 20.0
CALLER = "79161112233"


# --------------------------------------------------------------- pure parts


def test_the_busy_operator_is_derived_from_no_answer_as_a_486_ends() -> None:
    source = load_template(PACKAGED / "inbound_no_answer_then_next.ami", "no_answer_then_next")
    busy = derive_busy(source)
    assert busy.derived and not source.derived
    first = source.legs[0].channel  # PJSIP/op1001-00000005
    assert [leg.outcome for leg in busy.legs] == ["BUSY", "answered"]

    def events(frames: list[Any]) -> list[tuple[str, str, str]]:
        keys = ("Cause", "DialStatus", "Disposition")
        return [
            (
                f.event,
                f.get("Channel") or f.get("Device"),
                next((f.get(k) for k in keys if f.get(k)), ""),
            )
            for f in frames
            if f.event not in ("VarSet", "CEL", "Newexten", "AGIExecStart", "AGIExecEnd")
        ]

    ours, theirs = events(busy.frames), events(source.frames)
    request = ("HangupRequest", first, "17")
    assert ours.count(request) == 1  # the 486 leg's far end asked for the hangup
    assert ours.index(request) == ours.index(("DialEnd", "PJSIP/trunk-00000004", "BUSY")) - 1
    expected = [
        {
            ("DialEnd", "PJSIP/trunk-00000004", "NOANSWER"): (
                "DialEnd",
                "PJSIP/trunk-00000004",
                "BUSY",
            ),
            ("Hangup", first, "0"): ("Hangup", first, "17"),
        }.get(e, e)
        for e in theirs
    ]
    expected.insert(ours.index(request), request)
    cdrs = [f.get("Disposition") for f in busy.frames if f.event == "Cdr"]
    assert cdrs == ["BUSY", "ANSWERED"]
    assert [e for e in ours if e[0] != "Cdr"] == [e for e in expected if e[0] != "Cdr"]
    hangup = next(f for f in busy.frames if f.event == "Hangup" and f.get("Channel") == first)
    assert hangup.get("Cause-txt") == "User busy"
    agi = [
        f.get("AppData")
        for f in busy.frames
        if f.event == "Newexten" and f.get("Application") == "AGI"
    ]
    assert agi[1].endswith("route,2,BUSY")  # the dialplan asks route again with BUSY
    # The phone refused 0.3 s after the INVITE instead of ringing out the 5 s timeout.
    assert busy.span("ring:0") == pytest.approx(0.3, abs=1e-6)
    assert busy.frames[-1].offset == pytest.approx(source.frames[-1].offset - 4.7, abs=0.01)


def test_swapped_operators_are_rewritten_in_one_pass() -> None:
    serials = iter(range(1, 100))
    rewrite = Rewriter(lambda: next(serials))
    rewrite.channel("PJSIP/op1001-00000005")
    rewrite.bind_operator("1001", "PJSIP/op1002")
    rewrite.bind_operator("1002", "PJSIP/op1001")
    assert rewrite("PJSIP/op1001-00000005") == "PJSIP/op1002-00000001"
    assert rewrite('SET VARIABLE CALLAGENT_OPERATOR "PJSIP/op1002"') == (
        'SET VARIABLE CALLAGENT_OPERATOR "PJSIP/op1001"'
    )
    assert rewrite("Operator 1001") == "Operator 1002"
    assert rewrite("1002") == "1001"  # a whole value: CallerIDNum
    assert rewrite("PJSIP/op1001-00000005") == "PJSIP/op1002-00000001"  # kept once given


def test_warp_stretches_only_what_people_decide() -> None:
    offsets = [0.0, 0.5, 1.0, 3.0, 3.5]
    assert warp(offsets, [([(1, 3)], 10.0)]) == [0.0, 0.5, 2.5, 10.5, 11.0]
    assert warp(offsets, []) == offsets


def test_distributions_are_seeded() -> None:
    dist = Dist.lognormal(15.0, 0.5, low=3.0)
    first = [dist.sample(random.Random(7)) for _ in range(3)]
    assert first == [dist.sample(random.Random(7)) for _ in range(3)]
    draws = [dist.sample(random.Random(n)) for n in range(200)]
    assert min(draws) >= 3.0
    assert 10 < sorted(draws)[100] < 20  # the median
    assert Dist.uniform(1, 2).sample(random.Random(1)) <= 2
    with pytest.raises(ValueError, match="unknown distribution"):
        Dist("gamma", 1.0).sample(random.Random(1))


def test_make_runs_mix_is_a_realistic_centre() -> None:
    templates = load_templates(PACKAGED)
    assert set(DEMO_WEIGHTS) <= set(CALL_SCENARIOS) <= set(templates)
    total = sum(DEMO_WEIGHTS.values())
    answered = sum(
        w for name, w in DEMO_WEIGHTS.items() if templates[name].answered_leg() is not None
    )
    assert answered / total > 0.8  # mostly answered (by the first or the next operator)
    assert DEMO_WEIGHTS["busy_then_next"] == min(DEMO_WEIGHTS.values())  # occasional
    assert DEMO_WEIGHTS["answered"] == max(DEMO_WEIGHTS.values())


async def test_the_same_seed_plays_the_same_day() -> None:
    ami = AmiServer()
    people = dataclasses.replace(DEMO_BEHAVIOUR, seed=42)
    one, two, other = (
        SimulatedPbx(ami, PACKAGED, behaviour=dataclasses.replace(people, seed=seed))
        for seed in (42, 42, 43)
    )
    day = ["answered", "hold_unhold", "no_answer_then_next", "queue_answered"] * 3
    plans = [one.plan(name) for name in day]
    assert plans == [two.plan(name) for name in day]
    assert plans != [other.plan(name) for name in day]
    patience, targets = plans[1]
    assert patience is not None and 25 <= patience <= 60
    assert set(targets) == {"ring:0", "talk", "hold"}  # hold_unhold: all three decided
    assert set(plans[2][1]) == {"ring:1", "talk"}  # the first operator never answers
    with pytest.raises(ValueError, match="unknown scenarios"):
        await one.run(scenarios={"nope": 1})


# --------------------------------------------------------------- live parts


def view_state(service: RunningService, user_id: int) -> str | None:
    """The operator's state as callagent's book holds it now."""
    view = service.app.state.book.view(user_id)  # type: ignore[attr-defined]
    return None if view is None else str(view.state)


async def start(
    service: RunningService, behaviour: Behaviour | None = None, phones: int = 2
) -> tuple[list[int], Recording]:
    ops = add_operators(service, phones)
    await wait_for(lambda: service.monitor.clients[0].connected)
    sim = Recording(
        service.pbx, TRACES, agi_port=agi_port(service), speed=SPEED, behaviour=behaviour
    )
    endpoints = [f"PJSIP/op{1001 + n}" for n in range(phones)]
    await sim.register_phones(endpoints)
    # Ready only once callagent has read the registrations: before that the phones are
    # unreachable and a late report of it would make the operators 'unavailable'.
    await wait_for(lambda: up(service, endpoints))
    await set_ready(service, ops)
    await wait_for(lambda: all(view_state(service, op) == "ready" for op in ops))
    sim.sent = b""
    return ops, sim


def up(service: RunningService, endpoints: list[str]) -> bool:
    """callagent has heard every one of ``endpoints`` registered and reachable."""
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        known = set(db.scalars(select(Device.device).where(Device.device.in_(endpoints))))
        return known == set(endpoints) and not phones_down(db, endpoints)


async def history(service: RunningService, user_id: int) -> list[tuple[str, str]]:
    url = f"/api/v1/operators/{user_id}/state-history"
    return [(h["to_state"], h["cause"]) for h in (await service.client.get(url)).json()]


async def test_an_operator_whose_phone_is_busy(db_url: str) -> None:
    async with running_service(db_url, dial_timeout=5) as service:
        ops, sim = await start(service)
        played = await sim.play("busy_then_next", CALLER)
        assert played.routed and len(set(played.rang)) == 2
        (record,) = await final_records(service)
        busy, answered = played.rang
        assert [(a["endpoint"], a["outcome"]) for a in record["attempts"]] == [
            (busy, "busy"),
            (answered, "answered"),
        ]
        legs = sorted(record["legs"], key=lambda leg: leg["created_at"])
        assert [leg["cause"] for leg in legs] == [16, 17, 16]
        assert (record["disposition"], record["hangup_by"]) == ("answered", "applicant")
        assert record["operator_endpoint"] == answered
        # res_agi's events are those of callagent's real dialogue, so the record keeps
        # what route answered (the second time: the operator who answered).
        answered_id = ops[int(answered[-1]) - 1]
        assert record["variables"]["CALLAGENT_OPERATOR_ID"] == str(answered_id)
        assert record["variables"]["CALLAGENT_STATUS"] == "ok"
        frames = [
            m for m in AmiParser(expect_banner=False).feed(sim.sent) if isinstance(m, AmiMessage)
        ]
        commands = [m.get("Command") for m in frames if m.event == "AGIExecStart"]
        assert commands.count("GET VARIABLE CHANNEL(linkedid)") == 2  # route asked twice
        assert f'SET VARIABLE CALLAGENT_OPERATOR "{busy}"' in commands
        events = significant(sim.sent)
        request = next(m for m in events if m.event == "HangupRequest")
        assert request.get("Channel") == legs[1]["channel"] and request.get("Cause") == "17"
        # The busy operator rang, was not blamed for long, and is free again. (At this
        # speed callagent may see the ringing after route's retry: ringing twice is fine.)
        busy_id = ops[int(busy[-1]) - 1]
        states = [s for s, _ in await history(service, busy_id)]
        assert states[0] == "ready" and "ringing" in states and "on_call" not in states


async def test_answer_delay_talk_and_hold_follow_the_behaviour(db_url: str) -> None:
    people = Behaviour(
        answer_delay=Dist.fixed(4.0), talk_time=Dist.fixed(6.0), hold_time=Dist.fixed(5.0)
    )
    async with running_service(db_url) as service:
        _, sim = await start(service, people)
        played = await sim.play("hold_unhold", CALLER)
        assert played.times["ring:0"] == pytest.approx(4.0)
        assert played.times["talk"] == pytest.approx(6.0)
        assert played.times["hold"] == pytest.approx(5.0)
        (record,) = await final_records(service)
        assert record["disposition"] == "answered"
        assert record["ring_seconds"] == pytest.approx(4.0 / SPEED, abs=0.02)
        assert record["hold_seconds"] == pytest.approx(5.0 / SPEED, abs=0.02)
        assert record["talk_seconds"] == pytest.approx(6.0 / SPEED, abs=0.02)  # hold excluded


async def test_an_impatient_caller_hangs_up_while_it_rings(db_url: str) -> None:
    people = Behaviour(answer_delay=Dist.fixed(8.0), patience=Dist.fixed(2.0))
    async with running_service(db_url) as service:
        _, sim = await start(service, people)
        played = await sim.play("answered", CALLER)
        assert played.abandoned_early and played.scenario == "abandoned"
        (record,) = await final_records(service)
        assert (record["disposition"], record["hangup_by"]) == ("abandoned", "applicant")
        # The caller hung up 2 s after the call began (when patience ran out).
        assert record["wait_seconds"] == pytest.approx(2.0 / SPEED, abs=0.02)
        assert [a["outcome"] for a in record["attempts"]] == ["caller_gone"]


async def test_a_caller_waits_for_a_free_operator_as_long_as_their_patience(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = Recording(
            service.pbx,
            TRACES,
            agi_port=agi_port(service),
            speed=SPEED,
            route_wait=1.0,
            behaviour=Behaviour(patience=Dist.fixed(4.0)),
        )
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert not await sim.call("answered", CALLER)  # nobody at all
        assert 3.0 / SPEED <= loop.time() - began < 1.0  # ~4 s of patience, played fast
        (record,) = await final_records(service)
        assert (record["disposition"], record["hangup_by"]) == ("abandoned", "applicant")
        assert record["attempts"] == []
        assert record["wait_seconds"] == pytest.approx(4.0 / SPEED, abs=0.03)
        frames = [
            m for m in AmiParser(expect_banner=False).feed(sim.sent) if isinstance(m, AmiMessage)
        ]
        end = [
            (m.event, m.get("Cause") or m.get("State") or m.get("Disposition"))
            for m in frames
            if m.event
            in ("HangupRequest", "SoftHangupRequest", "Hangup", "DeviceStateChange", "Cdr")
        ][-5:]
        assert end == [
            ("HangupRequest", "16"),
            ("SoftHangupRequest", "16"),
            ("Hangup", "16"),
            ("DeviceStateChange", "NOT_INUSE"),
            ("Cdr", "ANSWERED"),
        ]


async def test_the_fallback_queue_skips_an_operator_callagent_paused(db_url: str) -> None:
    async with running_service(db_url) as service:
        ops, sim = await start(service, Behaviour(talk_time=Dist.fixed(30.0)))
        response = await service.client.post(
            f"/api/v1/operators/{ops[0]}/state", json={"state": "paused", "reason": "lunch"}
        )
        assert response.status_code == 200, (response.text, await history(service, ops[0]))

        def paused() -> bool:
            return any(
                a.action == "QueuePause"
                and a.get("Interface") == "PJSIP/op1001"
                and a.get("Paused") == "true"
                for a in service.pbx.actions
            )

        await wait_for(paused)  # callagent mirrored the pause into app_queue
        played = await sim.play("queue_answered", CALLER)
        assert played.rang == ["PJSIP/op1002"]  # linear: op1001 first, but it is paused
        (record,) = await final_records(service)
        assert record["queue_name"] == "support"
        assert record["operator_endpoint"] == "PJSIP/op1002"
        assert [a["via"] for a in record["attempts"]] == ["queue"]
        # app_queue's own count of the talk: whole seconds of this call (30 s / 20).
        complete = next(m for m in significant(sim.sent) if m.event == "AgentComplete")
        assert (complete.get("TalkTime"), complete.get("Interface")) == ("1", "PJSIP/op1002")


async def test_the_operator_dials_out_from_a_free_phone(db_url: str) -> None:
    async with running_service(db_url) as service:
        _, sim = await start(service, Behaviour(seed=3))
        played = await sim.play("operator_outbound_manual", "79260000001")
        (record,) = await final_records(service)
        assert record["direction"] == "outbound"
        assert record["applicant_number"] == "79260000001"
        assert record["operator_endpoint"] == played.answered_by
        assert record["caller_number"] == played.answered_by.removeprefix("PJSIP/op")
        assert (record["hangup_by"], record["disposition"]) == ("operator", "answered")
        sim.phones.clear()  # no phone registered: nobody can dial out
        assert not await sim.call("operator_outbound_manual", "79260000001")


async def test_operators_finish_after_call_work_themselves(db_url: str) -> None:
    """They press *54 (FastAGI ready) a while after the call, before callagent's deadline."""
    people = Behaviour(wrapup=Dist.fixed(2.0))
    async with running_service(db_url, wrapup_seconds=60) as service:
        ops, sim = await start(service, people, phones=1)
        played = await sim.play("answered", CALLER)
        assert played.answered_by == "PJSIP/op1001"

        async def back() -> bool:
            return (await history(service, ops[0]))[0] == ("ready", "feature_code")

        await wait_for(back, timeout=5)
        states = [s for s, _ in await history(service, ops[0])][:4]
        assert states == ["ready", "wrap_up", "on_call", "ringing"]


async def test_make_runs_mix_keeps_operators_busy_and_callers_served(db_url: str) -> None:
    async with running_service(db_url, dial_timeout=20) as service:
        _, sim = await start(service, dataclasses.replace(DEMO_BEHAVIOUR, seed=11), phones=3)
        runner = asyncio.create_task(sim.run(interval=0.5, scenarios=DEMO_WEIGHTS))
        await asyncio.sleep(6)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await sim.stop()
        played = list(sim.played)
        assert len(played) >= 6
        page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
        finals = page["items"]
        assert finals, "calls were completed"
        answered = [c for c in finals if c["disposition"] == "answered"]
        assert len(answered) >= len(finals) / 2
        assert {c["operator_endpoint"] for c in answered} <= {
            f"PJSIP/op{n}" for n in (1001, 1002, 1003)
        }


def test_scenarios_are_read_from_the_packaged_traces(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_templates(tmp_path)


async def test_callagent_sim_runs_the_simulator_for_a_callagent_elsewhere(db_url: str) -> None:
    """`callagent sim` alone: callagent logs in to its AMI and routes its calls."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        ami_port = probe.getsockname()[1]
    node = AmiNode(
        name="pbx1",
        host="127.0.0.1",
        port=ami_port,
        username="callagent",
        secret=SecretStr("callagent-secret"),
    )
    async with running_service(db_url, ami_nodes=[node]) as service:
        await set_ready(service, add_operators(service, 3))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callagent",
            "sim",
            f"--ami-port={ami_port}",
            f"--agi-port={agi_port(service)}",
            "--interval=0.3",
            "--speed=10",
            "--seed=1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:

            async def answered() -> bool:
                page = (await service.client.get("/api/v1/calls", params={"final": True})).json()
                return any(c["disposition"] == "answered" for c in page["items"])

            await wait_for(answered, timeout=30)
        finally:
            process.terminate()
            output, _ = await process.communicate()
        assert b"simulated Asterisk: AMI on 127.0.0.1:" in output
