"""Waiting calls leave the wait list (issue #15, point 2).

After 6,000 ``route`` requests whose channels never reached AMI, 5,979 stayed in
``/routing/waiting`` for 30 minutes and new calls heard ``wait`` while 17 operators
were ready. A call told ``wait`` by an old dialplan (no ``hold``) asks again every
~10 s; one that stops asking for CALLAGENT_WAITING_SILENCE_SECONDS has left, one
whose call the PBX ended (AMI) leaves at once, and the list is bounded
(CALLAGENT_MAX_WAITING_CALLS: beyond it, ``overflow``). Over real FastAGI bytes and
a recorded AMI stream, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from callagent.sim.ami_server import trace_body
from tests.conftest import RunningService, running_service, trace_bytes, wait_for
from tests.test_held_calls import held, start_held
from tests.test_live_replay import play
from tests.test_routing import add_operators, route, set_ready

# CALLAGENT_WAITING_SILENCE_SECONDS in these tests (30 s by default). At 0.5 s the check
# 0.3 s after the call asked again had 0.2 s to spare, which the route dialogue and the
# list's read on PostgreSQL used up twice in full-suite runs on the loaded 2-core machine.
SILENCE = 1.5


async def listed(service: RunningService) -> list[str]:
    response = await service.client.get("/api/v1/routing/waiting")
    assert response.status_code == 200
    return [w["call"] for w in response.json()]


def kept(service: RunningService) -> list[str]:
    """What the router itself still keeps (the list, and what it tried per call)."""
    router = service.app.state.router  # type: ignore[attr-defined]
    return sorted(router.kept())  # (PostgreSQL: the shared list's and tried rows too)


async def test_a_waiting_call_that_stops_asking_leaves_the_list(db_url: str) -> None:
    async with running_service(db_url, waiting_silence_seconds=SILENCE) as service:
        add_operators(service, 1)  # offline: nobody is free
        call = await route(service, "1796400000.1")
        assert call.set["CALLAGENT_STATUS"] == "wait"
        assert await listed(service) == ["pbx1:1796400000.1"]
        # it asks again within the silence: still waiting, still first
        await asyncio.sleep(SILENCE * 0.6)
        again = await route(service, "1796400000.1")
        assert again.set["CALLAGENT_QUEUE_POSITION"] == "1"
        await asyncio.sleep(SILENCE * 0.6)
        assert await listed(service) == ["pbx1:1796400000.1"]
        # then it never asks again (its channel is gone without a word): it leaves the
        # list and the router's memory, with no other route request to notice it
        await wait_for(lambda: not kept(service), timeout=SILENCE * 4)
        assert await listed(service) == []
        metrics = (await service.client.get("/metrics")).text
        assert "callagent_calls_waiting 0.0" in metrics


async def test_stale_waiters_never_keep_a_new_call_from_a_ready_operator(db_url: str) -> None:
    """The issue's run, smaller: calls that waited and went away, then operators ready."""
    silence = 3.0  # 60 route dialogues take a while on a busy machine
    async with running_service(db_url, waiting_silence_seconds=silence) as service:
        ops = add_operators(service, 3)
        calls = await asyncio.gather(*(route(service, f"1796410000.{n}") for n in range(60)))
        assert {c.set["CALLAGENT_STATUS"] for c in calls} == {"wait"}
        assert len(await listed(service)) == 60
        await set_ready(service, ops)
        await asyncio.sleep(silence * 1.2)  # none of them asked again
        new = await route(service, "1796419999.1")
        assert new.set["CALLAGENT_STATUS"] == "ok", new.set
        assert new.set["CALLAGENT_OPERATOR"].startswith("PJSIP/op100")
        assert await listed(service) == []
        assert kept(service) == ["pbx1:1796419999.1"]  # the call being dialled


async def test_the_waiting_list_is_bounded(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="callagent.routing.router")
    async with running_service(db_url, max_waiting_calls=5) as service:
        add_operators(service, 1)
        for n in range(5):
            call = await route(service, f"1796420000.{n}")
            assert call.set["CALLAGENT_STATUS"] == "wait"
        for n in range(5, 8):  # full: overflow at once, not a sixth place
            call = await route(service, f"1796420000.{n}")
            assert call.set == {"CALLAGENT_STATUS": "overflow"}, call.set
        # a call already waiting keeps its place when it asks again
        again = await route(service, "1796420000.4")
        assert again.set["CALLAGENT_STATUS"] == "wait"
        assert again.set["CALLAGENT_QUEUE_POSITION"] == "5"
        # a held call (the shipped dialplan) finds the list full too: overflow, not held
        late, task = start_held(service, "1796420000.9")
        await asyncio.wait_for(task, 5)
        assert late.set["CALLAGENT_STATUS"] == "overflow" and not late.music
        assert len(await listed(service)) == 5
        router = service.app.state.router  # type: ignore[attr-defined]
        assert router.overflowed == 4
        full = [r for r in caplog.records if "waiting list is full" in r.getMessage()]
        assert len(full) == 1 and full[0].levelno == logging.WARNING  # once a minute
        assert "CALLAGENT_MAX_WAITING_CALLS" in full[0].getMessage()


async def test_a_waiting_call_the_pbx_hung_up_leaves_the_list(db_url: str) -> None:
    """inbound_abandoned: the caller hangs up; its CallEnded takes it off the list."""
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        call = await route(service, "1795353485.7")  # the recorded call's linkedid
        assert call.set["CALLAGENT_STATUS"] == "wait"
        other = await route(service, "1796430000.1")
        assert await listed(service) == ["pbx1:1795353485.7", "pbx1:1796430000.1"]
        await play(service, trace_body(trace_bytes("inbound_abandoned")))
        await wait_for(lambda: "pbx1:1795353485.7" not in kept(service), timeout=5)
        assert await listed(service) == ["pbx1:1796430000.1"]
        assert other.set["CALLAGENT_QUEUE_POSITION"] == "2"


async def test_a_held_call_is_not_taken_for_one_that_stopped_asking(db_url: str) -> None:
    """A held dialogue asks nothing (its NOOP comes every 5 s): it stays on the list."""
    async with running_service(db_url, waiting_silence_seconds=0.2) as service:
        (op,) = add_operators(service, 1)
        call, task = start_held(service, "1796440000.1")
        await held(service, call)
        await asyncio.sleep(0.8)
        assert await listed(service) == ["pbx1:1796440000.1"]
        await set_ready(service, [op])
        await asyncio.wait_for(task, 5)
        assert call.set["CALLAGENT_STATUS"] == "ok"


async def test_calls_that_never_reach_ami_are_not_remembered_for_ever(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered ``ok`` but never seen on AMI (no CallEnded): the oldest are pushed out."""
    monkeypatch.setattr("callagent.routing.router._TRIED_MEMORY", 10)
    async with running_service(db_url) as service:
        ops = add_operators(service, 12)
        await set_ready(service, ops)
        for n in range(12):
            call = await route(service, f"1796450000.{n:02}")
            assert call.set["CALLAGENT_STATUS"] == "ok"
        # past 10, the oldest tenth goes at once (the new one is always kept); the shared
        # rows (PostgreSQL) within a second, by the expiry every instance runs
        expected = [f"pbx1:1796450000.{n:02}" for n in range(2, 12)]
        await wait_for(lambda: kept(service) == expected, timeout=3)
