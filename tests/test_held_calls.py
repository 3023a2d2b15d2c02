"""Calls held on their FastAGI dialogue while nobody is free (issue #11, point 6).

The shipped dialplan asks ``route`` with a sixth argument, ``hold``: instead of
``wait`` (and the dialplan's ``MusicOnHold(default,10)`` before it asks again, up to
~11 s late), callagent plays music on the channel and answers the moment an
operator is free for the call. Played over real FastAGI bytes (the Asterisk side as
res_agi speaks it, ``shared/pbx-traces/fastagi``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from callagent.db.models import User
from callagent.db.session import make_engine
from callagent.routing.states import Signal
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import trace_body
from callagent.sim.pbx import SimulatedPbx
from tests.conftest import TRACES, RunningService, running_service, trace_bytes, wait_for
from tests.test_dialplan_files import Step, agi_request, dialplan
from tests.test_live_replay import play
from tests.test_routing import add_operators, agi_port, route, set_ready

BOUND = 1.0  # issue #11: a waiting caller reaches a free operator within 1 s


def route_step() -> Step:
    """The [from-trunk] step that asks ``route``."""
    _, steps = dialplan()
    return next(
        s
        for s in steps
        if s.context == "from-trunk" and s.app == "AGI" and agi_request(s, "")[0] == "route"
    )


def dialplan_args(linkedid: str, attempt: int = 1, previous: str = "", **more: str) -> list[str]:
    """The arguments the shipped dialplan sends, its variables filled in."""
    values = {
        "CALLAGENT_ATTEMPT": str(attempt),
        "DIALSTATUS": previous,
        "CALLAGENT_TOPIC": "",
        "CALLAGENT_PRIORITY": "",
        "CHANNEL(linkedid)": linkedid,
        "CALLAGENT_NODE": "",  # [globals]: empty with one node
        **more,
    }
    _, args = agi_request(route_step(), "")
    return [re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], a) for a in args]


def start_held(
    service: RunningService, linkedid: str, **kw: Any
) -> tuple[AgiCall, asyncio.Task[Any]]:
    """A caller of the shipped dialplan, on the line until callagent answers."""
    priority = kw.pop("priority", "")
    call = AgiCall(
        "route",
        linkedid,
        args=dialplan_args(linkedid, CALLAGENT_PRIORITY=priority),
        **kw,
    )
    task = asyncio.create_task(run_agi(call, "127.0.0.1", agi_port(service)))
    return call, task


async def held(service: RunningService, call: AgiCall) -> None:
    """Wait until callagent holds ``call`` (music on) and lists it as waiting."""
    await wait_for(lambda: call.music and f"pbx1:{call.uniqueid}" in waiting_calls(service))


async def listed(service: RunningService) -> list[str]:
    body = (await service.client.get("/api/v1/routing/waiting")).json()
    return [w["call"] for w in body]


def waiting_calls(service: RunningService) -> list[str]:
    router = service.app.state.router  # type: ignore[attr-defined]
    return list(router.waiting)


def answered_at(call: AgiCall) -> float:
    """When callagent named the operator (loop time)."""
    index = next(i for i, c in enumerate(call.commands) if "CALLAGENT_OPERATOR " in c)
    return call.times[index]


def test_the_shipped_dialplan_asks_to_be_held() -> None:
    step = route_step()
    assert step.data.split(",")[-2:] == ["hold", "${CALLAGENT_NODE}"]
    assert dialplan_args("1.1")[5:] == ["hold", ""]
    assert dialplan_args("1.1", CALLAGENT_NODE="pbx2")[6] == "pbx2"


async def test_a_held_call_gets_the_operator_who_becomes_ready_within_a_second(
    db_url: str,
) -> None:
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)  # offline: nobody is free
        call, task = start_held(service, "1796330000.1")
        await held(service, call)
        assert call.commands[:2] == ['SAY NUMBER 1 ""', "SET MUSIC ON default"]
        assert await listed(service) == ["pbx1:1796330000.1"]
        await asyncio.sleep(0.3)  # held: no answer, no wait
        assert not task.done() and "CALLAGENT_STATUS" not in call.set

        loop = asyncio.get_running_loop()
        ready = loop.time()
        await set_ready(service, [op])
        await asyncio.wait_for(task, 5)
        delay = answered_at(call) - ready
        assert delay < BOUND, delay
        assert call.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        assert call.set["CALLAGENT_STATUS"] == "ok"
        # the music stops before the dialplan dials; the answer is the usual one
        off = call.commands.index("SET MUSIC OFF")
        assert off < call.commands.index('SET VARIABLE CALLAGENT_OPERATOR "PJSIP/op1001"')
        assert not call.music and call.ended_at is not None
        assert await listed(service) == []
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert (history[0]["to_state"], history[0]["call"]) == ("ringing", "pbx1:1796330000.1")
        metrics = (await service.client.get("/metrics")).text
        assert "callagent_route_decisions_total 1.0" in metrics  # the asks again are not counted
        assert "callagent_calls_waiting 0.0" in metrics


async def test_a_held_call_gets_the_operator_the_pbx_frees_within_a_second(db_url: str) -> None:
    """inbound_abandoned: the caller op1001 was ringing for hangs up (AMI), op1001 is free."""
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        first = await route(service, "1795353485.7", "1", "", "", "", "1795353485.7", "hold")
        assert first.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"  # free: no music
        assert not any(c.startswith("SET MUSIC") for c in first.commands)
        call, task = start_held(service, "1796330100.1")
        await held(service, call)

        await play(service, trace_body(trace_bytes("inbound_abandoned")))
        await asyncio.wait_for(task, 5)
        assert call.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        freed = next(h for h in history if h["to_state"] == "ready" and h["cause"] == "call")
        assert freed["call"] == "pbx1:1795353485.7"
        # the history's time (UTC) against the loop time of the answer
        loop = asyncio.get_running_loop()
        answered_wall = time.time() - (loop.time() - answered_at(call))
        freed_wall = _epoch(freed["at"])
        assert 0 <= answered_wall - freed_wall < BOUND, answered_wall - freed_wall
        assert (history[0]["to_state"], history[0]["call"]) == ("ringing", "pbx1:1796330100.1")


def _epoch(stamp: str) -> float:
    at = datetime.fromisoformat(stamp)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


async def test_a_caller_who_hangs_up_while_held_leaves_the_waiting_list_at_once(
    db_url: str,
) -> None:
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        # res_agi writes HANGUP on the socket when the channel hangs up (the recorded
        # caller_hangs_up_during_agi dialogue), and refuses SET MUSIC afterwards
        hangup = asyncio.Event()
        call, task = start_held(service, "1796330200.1", hangup=hangup)
        # Asterisk closing the connection (a PBX restart) is the same to callagent
        gone, gone_task = start_held(service, "1796330200.2")
        await held(service, call)
        await held(service, gone)
        assert await listed(service) == ["pbx1:1796330200.1", "pbx1:1796330200.2"]

        loop = asyncio.get_running_loop()
        hung_up = loop.time()
        hangup.set()
        await asyncio.wait_for(task, 5)
        await wait_for(lambda: "pbx1:1796330200.1" not in waiting_calls(service), timeout=0.5)
        assert loop.time() - hung_up < 0.5
        assert call.hung_up and "CALLAGENT_STATUS" not in call.set
        assert await listed(service) == ["pbx1:1796330200.2"]

        gone_task.cancel()  # the client's socket closes without a word
        await asyncio.gather(gone_task, return_exceptions=True)
        await wait_for(lambda: not waiting_calls(service), timeout=0.5)
        assert await listed(service) == []
        # an operator free now is not claimed for a caller who left
        await set_ready(service, [op])
        await asyncio.sleep(0.3)
        view = service.app.state.book.view(op)  # type: ignore[attr-defined]
        assert view.state == "ready"


async def test_a_dead_socket_is_found_by_the_keepalive(db_url: str) -> None:
    """A PBX that vanished without closing: the NOOP gets no answer, the call leaves."""
    async with running_service(db_url, agi_command_timeout=0.4) as service:
        add_operators(service, 1)
        service.app.state.router.keepalive = 0.2  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port(service))
        silent = AgiCall("route", "1796330300.1", args=dialplan_args("1796330300.1"))
        writer.write(silent.environment(agi_port(service)))
        for _ in range(2):  # SAY NUMBER and SET MUSIC ON answered, then nothing more
            await reader.readline()
            writer.write(b"200 result=0\n")
        assert (await reader.readline()) == b"NOOP\n"
        await wait_for(lambda: waiting_calls(service) == ["pbx1:1796330300.1"])
        await wait_for(lambda: not waiting_calls(service), timeout=2)
        assert await reader.read() == b""  # callagent closed it
        writer.close()


async def test_a_held_call_is_kept_alive_with_noop(db_url: str) -> None:
    async with running_service(db_url) as service:
        add_operators(service, 1)
        service.app.state.router.keepalive = 0.1  # type: ignore[attr-defined]
        call, task = start_held(service, "1796330400.1", hangup=asyncio.Event())
        await held(service, call)
        await wait_for(lambda: call.commands.count("NOOP") >= 3)
        assert call.music and not task.done()
        assert call.hangup is not None
        call.hangup.set()
        await asyncio.wait_for(task, 5)


async def test_held_calls_are_served_in_order_callbacks_first(db_url: str) -> None:
    async with running_service(db_url) as service:
        ops = add_operators(service, 3)
        first, first_task = start_held(service, "1796330500.1")
        await held(service, first)
        second, second_task = start_held(service, "1796330500.2")
        await held(service, second)
        callback, callback_task = start_held(service, "1796330500.3", priority="10")
        await held(service, callback)
        # the position said as each one was held: the callback goes first
        assert [c.commands[0] for c in (first, second, callback)] == [
            'SAY NUMBER 1 ""',
            'SAY NUMBER 2 ""',
            'SAY NUMBER 1 ""',
        ]
        order = ["pbx1:1796330500.3", "pbx1:1796330500.1", "pbx1:1796330500.2"]
        assert await listed(service) == order

        await set_ready(service, [ops[0]])
        await asyncio.wait_for(callback_task, 5)
        assert callback.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        await asyncio.sleep(0.2)
        assert not first_task.done() and not second_task.done()
        assert await listed(service) == order[1:]

        await set_ready(service, [ops[1]])
        await asyncio.wait_for(first_task, 5)
        assert first.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        assert not second_task.done()

        await set_ready(service, [ops[2]])
        await asyncio.wait_for(second_task, 5)
        assert second.set["CALLAGENT_OPERATOR"] == "PJSIP/op1003"
        assert await listed(service) == []


async def test_two_operators_ready_at_once_serve_two_held_calls(db_url: str) -> None:
    async with running_service(db_url) as service:
        ops = add_operators(service, 2)
        calls = [start_held(service, f"1796330600.{n}") for n in (1, 2)]
        for call, _ in calls:
            await held(service, call)
        loop = asyncio.get_running_loop()
        ready = loop.time()
        book = service.app.state.book  # type: ignore[attr-defined]

        # one transaction, two operators (as a wrap-up sweep frees several)
        def both() -> None:
            with book.sessions.begin() as session:
                for user_id in ops:
                    book.apply(session, session.get(User, user_id), Signal.READY, cause="test")

        await asyncio.to_thread(both)
        await asyncio.wait_for(asyncio.gather(*(task for _, task in calls)), 5)
        given = sorted(call.set["CALLAGENT_OPERATOR"] for call, _ in calls)
        assert given == ["PJSIP/op1001", "PJSIP/op1002"]
        assert max(answered_at(call) for call, _ in calls) - ready < BOUND


async def test_stopping_callagent_while_a_call_is_held_ends_the_dialogue(db_url: str) -> None:
    async with running_service(db_url) as service:
        add_operators(service, 1)
        call, task = start_held(service, "1796330700.1")
        await held(service, call)
    # the service stopped: its end of the socket closed, nothing was answered
    await asyncio.wait_for(task, 5)
    assert call.ended_at is not None
    assert "CALLAGENT_OPERATOR" not in call.set and "CALLAGENT_STATUS" not in call.set
    # res_agi then ends the AGI with AGISTATUS SUCCESS (the script closed), and the
    # dialplan goes to the queue, as when callagent cannot be reached at all (FAILURE)
    assert after_route({"AGISTATUS": "SUCCESS"}) == "fallback"
    assert after_route({"AGISTATUS": "FAILURE"}) == "fallback"
    assert after_route({"AGISTATUS": "SUCCESS", "CALLAGENT_STATUS": "overflow"}) == "fallback"
    assert after_route({"AGISTATUS": "SUCCESS", "CALLAGENT_STATUS": "wait"}) == "wait"
    ok = {"AGISTATUS": "SUCCESS", "CALLAGENT_STATUS": "ok", "CALLAGENT_OPERATOR": "PJSIP/op1"}
    assert after_route(ok) == "Dial"


def after_route(variables: dict[str, str]) -> str:
    """Where [from-trunk] goes after ``route`` with these variables: a label, or Dial
    (the [globals] and the call's first ``route`` unless given)."""
    globals_, steps = dialplan()
    variables = {**globals_, "CALLAGENT_AGI_NEXT": "1", **variables}
    trunk = [s for s in steps if s.context == "from-trunk"]
    start = trunk.index(route_step()) + 1
    for step in trunk[start:]:
        if step.app == "Dial":
            return "Dial"
        if step.app != "GotoIf":
            assert step.app in ("StopMusicOnHold", "NoOp"), step
            continue
        match = re.fullmatch(r"\$\[(.*)\]\?(\w+)", step.data)
        assert match, step
        condition, label = match.groups()
        if all(_holds(term, variables) for term in condition.split(" & ")):
            return label
    raise AssertionError("no way out of route")


def expand(text: str, variables: dict[str, str]) -> str:
    """``${NAME}`` and ``${CUT(NAME,delimiter,field)}`` as Asterisk expands them (unset:
    empty; a field past the last: empty)."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), text)

    def cut(match: re.Match[str]) -> str:
        name, delimiter, field = match.groups()
        parts = variables.get(name, "").split(delimiter)
        n = int(field)
        return parts[n - 1] if variables.get(name) and 1 <= n <= len(parts) else ""

    return re.sub(r"\$\{CUT\((\w+),(.),(\d+)\)\}", cut, text)


def _holds(term: str, variables: dict[str, str]) -> bool:
    """One ``"${A}" = "b"`` (or ``!=``) of a GotoIf's condition."""
    match = re.fullmatch(r'"(.*)" (!?=) "(.*)"', expand(term, variables))
    assert match, term
    left, op, right = match.groups()
    return (left == right) == (op == "=")


async def test_in_the_simulator_the_waiting_caller_is_dialled_within_a_second(
    db_url: str,
) -> None:
    """Operator ready -> the waiting caller's Dial, as the simulator plays the shipped
    dialplan (held); the old dialplan's figures are in bench/held_wait.py."""
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)  # offline: the caller waits
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = SimulatedPbx(service.pbx, TRACES, agi_port=agi_port(service), speed=20.0)
        await sim.register_phones(["PJSIP/op1001"])
        play = asyncio.create_task(sim.play("answered", "79161112233"))
        await wait_for(lambda: waiting_calls(service))
        await asyncio.sleep(0.3)
        assert not sim.played[-1].dialled_at  # nobody to dial yet
        ready = time.monotonic()
        await set_ready(service, [op])
        played = await asyncio.wait_for(play, 10)
        assert played.routed and played.answered_by == "PJSIP/op1001"
        delay = played.dialled_at[0] - ready
        assert delay < BOUND, delay


async def test_an_operator_claimed_for_a_held_call_is_freed_when_callagent_stops(
    db_url: str,
) -> None:
    """Stopped between the claim and the answer: the dialplan falls back, so the
    operator must not stay ringing for a call callagent will never hand them."""
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port(service))
        asked = AgiCall("route", "1796330800.1", args=dialplan_args("1796330800.1"))
        writer.write(asked.environment(agi_port(service)))
        for _ in range(2):  # SAY NUMBER, SET MUSIC ON
            await reader.readline()
            writer.write(b"200 result=0\n")
        await set_ready(service, [op])
        assert (await reader.readline()) == b"SET MUSIC OFF\n"  # left unanswered
        book = service.app.state.book  # type: ignore[attr-defined]
        assert book.view(op).state == "ringing"
    assert await reader.read() == b""
    writer.close()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            state, claimed = conn.execute(
                select(User.state, User.claimed_call).where(User.id == op)
            ).one()
    finally:
        engine.dispose()
    assert (state, claimed) == ("ready", None)


async def test_an_old_dialplan_still_waits_and_asks_again(db_url: str) -> None:
    """Without ``hold`` route answers ``wait`` at once; the simulator's old dialplan
    (``hold=False``) plays music itself and asks again until someone is free."""
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await wait_for(lambda: service.monitor.clients[0].connected)
        sim = SimulatedPbx(
            service.pbx, TRACES, agi_port=agi_port(service), speed=20.0, hold=False, route_wait=2
        )
        await sim.register_phones(["PJSIP/op1001"])
        play = asyncio.create_task(sim.play("answered", "79161112233"))
        await wait_for(lambda: waiting_calls(service))
        router = service.app.state.router  # type: ignore[attr-defined]
        assert not any(w.held for w in router.waiting.values())
        await set_ready(service, [op])
        played = await asyncio.wait_for(play, 10)
        assert played.answered_by == "PJSIP/op1001"
        metrics = (await service.client.get("/metrics")).text
        heard_wait = re.search(r"^callagent_route_no_operator_total (\S+)$", metrics, re.M)
        assert heard_wait and float(heard_wait.group(1)) >= 1  # wait, then asked again
