"""Held waiting calls on a real Asterisk 22.10.1 (``tests/fixtures/live22``), replayed.

The shipped dialplan's ``route`` with ``hold``: every operator offline, a call comes in,
callagent says the position and plays music from the FastAGI dialogue; op1001 goes
ready through the API and the caller is dialled to them (``live22_held_then_ready``:
0.06 s from the API's ready to Asterisk's DialBegin); or the caller hangs up while held
and Asterisk writes ``HANGUP`` on the socket (``live22_held_caller_hangs_up``).

The AMI stream is sent byte for byte to the service, and the FastAGI dialogue's
Asterisk side is played from its recording at the point of the stream where Asterisk
ran ``AGI``; callagent must answer exactly what it answered on the PBX.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from callagent.sim.agi_client import replay_recorded
from callagent.sim.ami_server import trace_body
from tests.conftest import RunningService, running_service, wait_for
from tests.test_live_feature_codes import settle, split_at_agi
from tests.test_live_replay import play
from tests.test_routing import add_operators, agi_port, set_ready

LIVE22 = Path(__file__).parent / "fixtures" / "live22"  # README.md there says what was done
BOUND = 1.0  # issue #11: a waiting caller reaches a free operator within 1 s
TRUNKS = ["PJSIP/trunk", "PJSIP/trunk-dead"]


def dialogue(name: str) -> list[dict[str, Any]]:
    """The one recorded FastAGI connection, up to callagent closing it.

    What Asterisk wrote after callagent had closed (its own ``HANGUP`` as the AGI ends)
    reaches nobody, so it is not played.
    """
    lines = [json.loads(line) for line in (LIVE22 / f"{name}.agi.jsonl").open()]
    assert {line["conn"] for line in lines} == {1}
    closed = next(i for i, c in enumerate(lines) if c["data"] == "callagent closed")
    return lines[:closed]


def said(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["data"] for c in chunks if c["dir"] == ">asterisk"]


def recorded(name: str, what: str) -> Any:
    return json.loads((LIVE22 / f"{name}.{what}.json").read_text("utf-8"))


def waiting(service: RunningService) -> dict[str, Any]:
    return dict(service.app.state.router.waiting)  # type: ignore[attr-defined]


def held(service: RunningService, call: str) -> bool:
    """callagent listed the call and holds it on its dialogue (music on)."""
    entry = waiting(service).get(call)
    return entry is not None and entry.held is not None


async def record_of(service: RunningService, linkedid: str) -> dict[str, Any]:
    body = (await service.client.get("/api/v1/calls")).json()
    (record,) = [c for c in body["items"] if c["linkedid"] == linkedid]
    return dict(record)


COMPARED = [
    "direction",
    "started_at",
    "first_ring_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "ring_seconds",
    "talk_seconds",
    "operator_endpoint",
    "operator_login",
    "disposition",
    "hangup_by",
    "hangup_cause",
    "queue_name",
    "partial",
    "reconstructed",
    "variables",
]


async def test_a_held_caller_is_dialled_to_the_operator_who_becomes_ready(db_url: str) -> None:
    name = "live22_held_then_ready"
    before, after = split_at_agi(trace_body((LIVE22 / f"{name}.ami").read_bytes()))
    chunks = dialogue(name)
    call = "pbx1:1796333754.0"
    async with running_service(db_url, trunk_endpoints=TRUNKS, dial_timeout=5) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        (op,) = add_operators(service, 1)  # offline, as on the PBX: nobody is free
        await play(service, before)
        await settle(service)
        task = asyncio.create_task(replay_recorded(chunks, "127.0.0.1", agi_port(service)))
        await wait_for(lambda: held(service, call))
        listed = (await service.client.get("/api/v1/routing/waiting")).json()
        assert [(w["call"], w["position"]) for w in listed] == [(call, 1)]
        await asyncio.sleep(0.2)
        assert not task.done()  # held: no answer, no `wait`

        loop = asyncio.get_running_loop()
        ready = loop.time()
        await set_ready(service, [op])
        answer = await asyncio.wait_for(task, 5)
        assert loop.time() - ready < BOUND
        # SAY NUMBER 1, SET MUSIC ON/OFF, then the operator: as callagent said on the PBX
        assert answer == said(chunks)
        assert not waiting(service)

        await play(service, after)
        await settle(service)
        record = await record_of(service, "1796333754.0")
        want = recorded(name, "record")
        assert {k: record[k] for k in COMPARED} == {k: want[k] for k in COMPARED}
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        steps = [(h["from_state"], h["to_state"], h["cause"], h["call"]) for h in history]
        assert steps == [
            (h["from_state"], h["to_state"], h["cause"], h["call"])
            for h in recorded(name, "states")
        ]


async def test_a_caller_hanging_up_while_held_leaves_at_the_pbxs_hangup(db_url: str) -> None:
    name = "live22_held_caller_hangs_up"
    before, after = split_at_agi(trace_body((LIVE22 / f"{name}.ami").read_bytes()))
    chunks = dialogue(name)
    hangup = next(i for i, c in enumerate(chunks) if c["data"] == "HANGUP\n")
    assert chunks[hangup]["dir"] == "asterisk>"  # res_agi wrote it on the FastAGI socket
    call = "pbx1:1796333790.2"
    async with running_service(db_url, trunk_endpoints=TRUNKS, dial_timeout=5) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        (op,) = add_operators(service, 1)
        await play(service, before)
        await settle(service)
        # Asterisk's side as recorded; its HANGUP (the caller left 2.6 s into the music)
        # once callagent holds the call
        gone = asyncio.Event()
        task = asyncio.create_task(
            replay_recorded(chunks, "127.0.0.1", agi_port(service), gates={hangup: gone})
        )
        await wait_for(lambda: held(service, call))
        loop = asyncio.get_running_loop()
        gone.set()
        hung_up = loop.time()
        answer = await asyncio.wait_for(task, 5)  # callagent closed the dialogue
        assert answer == said(chunks)  # SAY NUMBER 1, SET MUSIC ON, and nothing more
        await wait_for(lambda: not waiting(service), timeout=0.5)
        assert loop.time() - hung_up < 0.5
        assert (await service.client.get("/api/v1/routing/waiting")).json() == []

        await play(service, after)
        await settle(service)
        record = await record_of(service, "1796333790.2")
        want = recorded(name, "record")
        assert {k: record[k] for k in COMPARED} == {k: want[k] for k in COMPARED}
        assert record["disposition"] == "abandoned" and record["hangup_by"] == "applicant"
        # an operator free now is not claimed for the caller who left
        await set_ready(service, [op])
        await asyncio.sleep(0.3)
        assert service.app.state.book.view(op).state == "ready"  # type: ignore[attr-defined]


async def test_stopping_with_a_held_call_logs_no_error(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``live22_held_callagent_stops``: SIGTERM while a caller was held. The dialplan fell
    back to the queue 0.11 s later, as designed, but callagent logged ``ERROR asyncio:
    Exception in callback StreamReaderProtocol.connection_made.<locals>.callback`` with a
    CancelledError (Python 3.11's start_server asks the cancelled dialogue's task for its
    exception)."""
    name = "live22_held_callagent_stops"
    chunks = dialogue(name)
    async with running_service(db_url, trunk_endpoints=TRUNKS, dial_timeout=5) as service:
        add_operators(service, 1)
        task = asyncio.create_task(replay_recorded(chunks, "127.0.0.1", agi_port(service)))
        await wait_for(lambda: held(service, "pbx1:1796359006.3"))
        caplog.set_level(logging.ERROR)
    # the service stopped: callagent closed the dialogue without a word, as on the PBX
    assert await asyncio.wait_for(task, 5) == said(chunks)
    await asyncio.sleep(0.1)  # the loop's callbacks of the closed connection ran
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_held_caller_goes_to_the_fallback_after_the_longest_wait(db_url: str) -> None:
    """``live22_held_max_wait_overflow`` (callagent with CALLAGENT_MAX_WAIT=4, nobody
    free): music, a NOOP when the wait ran out, then ``overflow``; the dialplan went to
    ``Queue(support)`` where the caller hung up."""
    name = "live22_held_max_wait_overflow"
    before, after = split_at_agi(trace_body((LIVE22 / f"{name}.ami").read_bytes()))
    chunks = dialogue(name)
    options: dict[str, Any] = {"trunk_endpoints": TRUNKS, "dial_timeout": 5, "max_wait": 4}
    async with running_service(db_url, **options) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        add_operators(service, 1)
        await play(service, before)
        await settle(service)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await asyncio.wait_for(replay_recorded(chunks, "127.0.0.1", agi_port(service)), 10)
        assert 3.5 < loop.time() - started < 5.5  # the PBX: 4.0 s after the AGI began
        assert answer == said(chunks)
        assert answer[-1] == 'SET VARIABLE CALLAGENT_STATUS "overflow"\n'
        assert not waiting(service)
        await play(service, after)
        await settle(service)
        record = await record_of(service, "1796334689.8")
        want = recorded(name, "record")
        assert {k: record[k] for k in COMPARED} == {k: want[k] for k in COMPARED}
        assert record["queue_name"] == "support" and record["disposition"] == "abandoned"
