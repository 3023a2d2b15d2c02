"""Operators' states and routing over real FastAGI bytes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.routing.driver import StateDriver
from callagent.routing.states import TRANSITIONS, OperatorState, Signal, next_state
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import trace_body
from callagent.tracker.events import OperatorRinging
from tests.conftest import RunningService, running_service, trace_bytes, wait_for
from tests.test_live_replay import play


def test_state_machine_table() -> None:
    S = OperatorState
    assert next_state(S.OFFLINE, Signal.LOGIN) == S.READY
    assert next_state(S.READY, Signal.CLAIM) == S.RINGING
    assert next_state(S.RINGING, Signal.ANSWERED) == S.ON_CALL
    assert next_state(S.ON_CALL, Signal.CALL_ENDED) == S.WRAP_UP
    assert next_state(S.WRAP_UP, Signal.WRAPUP_DONE) == S.READY
    assert next_state(S.READY, Signal.PHONE_LOST) == S.UNAVAILABLE
    assert next_state(S.UNAVAILABLE, Signal.PHONE_BACK) == S.READY
    assert next_state(S.ON_CALL, Signal.PAUSE) is None  # not in the middle of a call
    assert next_state(S.PAUSED, Signal.CLAIM) is None  # a paused operator is never given a call
    assert next_state(S.OFFLINE, Signal.ANSWERED) is None
    for signal, table in TRANSITIONS.items():  # logging out works from everywhere
        assert all(isinstance(state, OperatorState) for state in table), signal
    assert {s for s in S if s != S.OFFLINE} <= set(TRANSITIONS[Signal.LOGOUT])


def add_operators(service: RunningService, count: int, **extra: Any) -> list[int]:
    ids = []
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        for n in range(count):
            user = create_user(
                session,
                login=f"op{1001 + n}",
                role=Role.OPERATOR,
                password=None,
                endpoints=[f"PJSIP/op{1001 + n}"],
                **extra,
            )
            ids.append(user.id)
        session.commit()
    return ids


async def set_ready(service: RunningService, ids: list[int]) -> None:
    for user_id in ids:
        response = await service.client.post(
            f"/api/v1/operators/{user_id}/state", json={"state": "ready"}
        )
        assert response.status_code == 200, response.text


def agi_port(service: RunningService) -> int:
    return int(service.app.state.agi.port)  # type: ignore[attr-defined]


async def route(service: RunningService, uniqueid: str, *args: str, **kw: Any) -> AgiCall:
    variables = {"CHANNEL(linkedid)": uniqueid, **kw.pop("variables", {})}
    call = AgiCall("route", uniqueid, args=list(args) or ["1", ""], variables=variables, **kw)
    return await run_agi(call, "127.0.0.1", agi_port(service))


async def test_route_gives_the_longest_idle_free_operator(db_url: str) -> None:
    async with running_service(db_url) as service:
        first, second = add_operators(service, 2)
        await set_ready(service, [second, first])  # op1002 became ready first
        call = await route(service, "1795355543.2")
        assert call.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        assert call.set["CALLAGENT_OPERATOR_ID"] == str(second)
        assert call.set["CALLAGENT_CALL_ID"] == "1795355543.2"
        assert call.set["CALLAGENT_STATUS"] == "ok"
        assert call.set["CALLAGENT_DIAL_TIMEOUT"] == "20"
        assert call.commands[0] == "GET VARIABLE CHANNEL(linkedid)"
        # op1002 did not answer: the dialplan asks again with NOANSWER and gets op1001
        again = await route(service, "1795355543.2", "2", "NOANSWER")
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        state = (await service.client.get(f"/api/v1/operators/{second}/state-history")).json()
        assert [s["to_state"] for s in state][:2] == ["ready", "ringing"]
        assert state[0]["cause"] == "route_retry"
        # nobody is free for a third call: wait, with a position
        waiting = await route(service, "1795355600.9")
        assert waiting.set == {"CALLAGENT_QUEUE_POSITION": "1", "CALLAGENT_STATUS": "wait"}
        listed = (await service.client.get("/api/v1/routing/waiting")).json()
        assert [w["call"] for w in listed] == ["pbx1:1795355600.9"]
        metrics = (await service.client.get("/metrics")).text
        assert "callagent_route_decisions_total 3.0" in metrics
        assert "callagent_route_no_operator_total 1.0" in metrics
        assert "callagent_calls_waiting 1.0" in metrics
        assert "callagent_agi_dialogues_total 3.0" in metrics
        # three route requests asked the database (each alone: one transaction each)
        assert "callagent_claim_requests_total 3.0" in metrics
        assert "callagent_claim_transactions_total 3.0" in metrics


def add_plain_and_expert(service: RunningService) -> tuple[int, int]:
    """op1001 with no skill, and "expert" (PJSIP/op2001) who knows passports."""
    (plain,) = add_operators(service, 1)
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        expert = create_user(
            session,
            login="expert",
            role=Role.OPERATOR,
            password=None,
            endpoints=["PJSIP/op2001"],
            skills={"passport": 2},
        ).id
        session.commit()
    return plain, expert


async def test_skills_and_paused_operators(db_url: str) -> None:
    async with running_service(db_url) as service:
        plain, expert = add_plain_and_expert(service)
        await set_ready(service, [expert, plain])
        paused = await service.client.post(
            f"/api/v1/operators/{plain}/state", json={"state": "paused", "reason": "lunch"}
        )
        assert paused.json()["state"] == "paused" and paused.json()["reason"] == "lunch"
        topic = await route(
            service, "1.1", variables={"CHANNEL(linkedid)": "1.1", "CALLAGENT_TOPIC": "passport"}
        )
        assert topic.set["CALLAGENT_OPERATOR"] == "PJSIP/op2001"
        nobody = await route(service, "1.2")
        assert nobody.set["CALLAGENT_STATUS"] == "wait"  # the only other one is at lunch
        bad = await service.client.post(
            f"/api/v1/operators/{plain}/state", json={"state": "ready", "reason": "x"}
        )
        assert bad.status_code == 422


async def test_route_reads_topic_priority_and_linkedid_from_its_arguments(db_url: str) -> None:
    """dialplan/extensions.conf passes them: the dialogue is only the SET VARIABLE commands."""
    async with running_service(db_url) as service:
        plain, expert = add_plain_and_expert(service)
        await set_ready(service, [plain, expert])  # the plain one is idle the longest
        # A topic in the arguments, and a channel whose uniqueid is not the linkedid (a
        # second leg): the operator with the skill, and the call is the linkedid's.
        call = AgiCall("route", "9.5", args=["1", "", "passport", "0", "9.1"])
        await run_agi(call, "127.0.0.1", agi_port(service))
        assert call.set["CALLAGENT_OPERATOR"] == "PJSIP/op2001"
        assert call.set["CALLAGENT_CALL_ID"] == "9.1"
        assert not [c for c in call.commands if c.startswith("GET ")]
        assert [c.split()[2] for c in call.commands] == [
            "CALLAGENT_OPERATOR",
            "CALLAGENT_OPERATOR_ID",
            "CALLAGENT_CALL_ID",
            "CALLAGENT_DIAL_TIMEOUT",
            "CALLAGENT_STATUS",
        ]
        plain_call = AgiCall("route", "9.7", args=["1", "", "", "", "9.7"])
        await run_agi(plain_call, "127.0.0.1", agi_port(service))
        assert plain_call.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        # A callback (priority 10) asks after a plain call that is waiting: it goes first.
        waiting = AgiCall("route", "9.8", args=["1", "", "", "", "9.8"])
        await run_agi(waiting, "127.0.0.1", agi_port(service))
        callback = AgiCall("route", "9.9", args=["1", "", "", "10", "9.9"])
        await run_agi(callback, "127.0.0.1", agi_port(service))
        assert waiting.set["CALLAGENT_QUEUE_POSITION"] == "1"
        assert callback.set["CALLAGENT_QUEUE_POSITION"] == "1"  # ahead of the plain one


@pytest.mark.parametrize("calls", [200])
async def test_no_operator_is_given_two_calls(db_url: str, calls: int) -> None:
    """200 simultaneous route requests over TCP against 50 free operators."""
    async with running_service(db_url) as service:
        ids = add_operators(service, 50)
        await set_ready(service, ids)
        results = await asyncio.gather(*(route(service, f"1800000000.{n}") for n in range(calls)))
        given = [
            r.set["CALLAGENT_OPERATOR"] for r in results if r.set.get("CALLAGENT_STATUS") == "ok"
        ]
        waiting = [r for r in results if r.set.get("CALLAGENT_STATUS") == "wait"]
        assert len(given) == 50 and len(set(given)) == 50  # every operator once
        assert len(waiting) == calls - 50  # and no call refused while someone was free
        states = [(await service.client.get(f"/api/v1/operators/{i}")).json() for i in ids[:5]]
        assert all(s["login"].startswith("op") for s in states)


async def test_the_call_drives_the_operator_state(db_url: str) -> None:
    """inbound_no_answer_then_next: op1001 rings unanswered, op1002 answers, wrap-up, ready."""
    async with running_service(db_url, wrapup_seconds=1.0) as service:
        op1001, op1002 = add_operators(service, 2)
        await set_ready(service, [op1001, op1002])
        await play(service, trace_body(trace_bytes("inbound_no_answer_then_next")))

        async def state(user_id: int) -> str:
            body = (await service.client.get(f"/api/v1/operators/{user_id}/state-history")).json()
            return str(body[0]["to_state"])

        async def wrapped() -> bool:
            return await state(op1002) == "wrap_up"

        await wait_for(wrapped)
        history = (await service.client.get(f"/api/v1/operators/{op1002}/state-history")).json()
        assert [h["to_state"] for h in reversed(history)] == [
            "ready",
            "ringing",
            "on_call",
            "wrap_up",
        ]
        assert history[0]["call"] == "pbx1:1795353469.4"
        first = (await service.client.get(f"/api/v1/operators/{op1001}/state-history")).json()
        assert [h["to_state"] for h in reversed(first)] == ["ready", "ringing", "ready"]

        async def ready_again() -> bool:
            return await state(op1002) == "ready"

        await wait_for(ready_again, timeout=5)  # the wrap-up deadline passed
        history = (await service.client.get(f"/api/v1/operators/{op1002}/state-history")).json()
        assert history[0]["cause"] == "deadline"


async def test_with_the_pause_policy_an_unanswered_operator_is_paused(db_url: str) -> None:
    async with running_service(db_url, no_answer_policy="pause") as service:
        op1001, op1002 = add_operators(service, 2)
        await set_ready(service, [op1002, op1001])
        first = await route(service, "1795360200.1")
        assert first.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        again = await route(service, "1795360200.1", "2", "NOANSWER")
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        state = (await service.client.get(f"/api/v1/operators/{op1002}/state-history")).json()
        assert (state[0]["to_state"], state[0]["reason"], state[0]["cause"]) == (
            "paused",
            "no_answer",
            "route_retry",
        )
        assert state[0]["call"] == "pbx1:1795360200.1"
        # busy is not the operator's doing: skipped for a while, not paused
        busy = await route(service, "1795360200.1", "3", "BUSY")
        assert busy.set["CALLAGENT_STATUS"] == "wait"  # op1002 paused, op1001 skipped
        state = (await service.client.get(f"/api/v1/operators/{op1001}/state-history")).json()
        assert (state[0]["to_state"], state[0]["reason"]) == ("ready", "")


async def test_a_late_ringing_of_a_passed_over_operator_changes_nothing(db_url: str) -> None:
    """The busy phone's ringing arrives after the dialplan asked route again."""
    async with running_service(db_url) as service:
        op1001, op1002 = add_operators(service, 2)
        await set_ready(service, [op1002, op1001])  # op1002 idle the longest
        first = await route(service, "1795360000.1")
        assert first.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        again = await route(service, "1795360000.1", "2", "BUSY")
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        state = service.app.state  # type: ignore[attr-defined]
        driver = StateDriver(state.book, state.monitor.tracker, state.router, "skip")
        key = ("pbx1", "1795360000.1")
        await asyncio.to_thread(driver.apply, OperatorRinging(key, "PJSIP/op1002", "x.1"))
        assert state.book.view(op1002).state == "ready"  # route moved past op1002
        await asyncio.to_thread(driver.apply, OperatorRinging(key, "PJSIP/op1001", "x.2"))
        assert state.book.view(op1001).state == "ringing"  # the one it is offered to now
        # A call that route never offered to op1002 (dialled directly) still rings them.
        direct = OperatorRinging(("pbx1", "1795360100.7"), "PJSIP/op1002", "x.3")
        await asyncio.to_thread(driver.apply, direct)
        assert state.book.view(op1002).state == "ringing"
        history = (await service.client.get(f"/api/v1/operators/{op1002}/state-history")).json()
        assert [(h["to_state"], h["cause"]) for h in reversed(history)] == [
            ("ready", "api"),
            ("ringing", "route"),
            ("ready", "route_retry"),
            ("ringing", "call"),
        ]
        assert history[0]["call"] == "pbx1:1795360100.7"


async def test_an_unreachable_phone_makes_its_operator_unavailable(db_url: str) -> None:
    async with running_service(db_url) as service:
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            user = create_user(
                session,
                login="op1003",
                role=Role.OPERATOR,
                password=None,
                endpoints=["PJSIP/op1003"],
            )
            session.commit()
        await set_ready(service, [user.id])
        await play(service, trace_body(trace_bytes("operator_phone_unreachable")))

        async def unavailable() -> bool:
            history = (
                await service.client.get(f"/api/v1/operators/{user.id}/state-history")
            ).json()
            return any(h["to_state"] == "unavailable" for h in history)

        await wait_for(unavailable)
        nobody = await route(service, "2.1")
        assert nobody.set["CALLAGENT_STATUS"] == "wait"


async def test_a_caller_who_hangs_up_during_route_frees_the_operator(db_url: str) -> None:
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        gone = await route(service, "3.1", hangup_after_commands=2)
        assert "HANGUP" not in gone.commands
        view = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert view[0]["to_state"] == "ready" and view[0]["cause"] in ("agi_hangup", "caller_gone")
        again = await route(service, "3.2")
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"


async def test_bad_agi_clients_do_not_slow_routing(db_url: str) -> None:
    async with running_service(db_url, agi_env_timeout=1.0) as service:
        ids = add_operators(service, 20)
        await set_ready(service, ids)
        port = agi_port(service)
        baseline = []
        for n in range(5):
            started = time.perf_counter()
            await route(service, f"4.{n}")
            baseline.append(time.perf_counter() - started)
        # a flood of connect-and-close, clients stuck in the middle of the environment,
        # and garbage
        stuck = []
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"agi_network: yes\nagi_network_scr")
            stuck.append(writer)
        for _ in range(50):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
        _, junk = await asyncio.open_connection("127.0.0.1", port)
        junk.write(b"\x00\xffGET / HTTP/1.1\r\n\r\n")
        during = []
        for n in range(5):
            started = time.perf_counter()
            result = await route(service, f"5.{n}")
            during.append(time.perf_counter() - started)
            assert result.set["CALLAGENT_STATUS"] == "ok"
        assert max(during) < max(baseline) * 5 + 0.05
        await asyncio.sleep(1.3)  # the stuck ones are cut off at the deadline
        agi = service.app.state.agi  # type: ignore[attr-defined]
        assert agi.rejected >= 21
        for writer in [*stuck, junk]:
            writer.close()


async def test_the_recorded_asterisk_dialogue_is_understood(db_url: str) -> None:
    """The environment block exactly as Asterisk 22 sent it (fastagi/route_dialogues.jsonl)."""
    import json

    from tests.conftest import TRACES

    lines = [json.loads(line) for line in (TRACES / "fastagi" / "route_dialogues.jsonl").open()]
    env = "".join(r["data"] for r in lines if r["conn"] == 1 and r["dir"] == "asterisk>")
    env = env.split("\n\n", 1)[0] + "\n\n"
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port(service))
        writer.write(env.encode())
        sent = []
        while True:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode()
            if not line:
                break
            sent.append(line.rstrip("\n"))
            value = "1795355543.2" if "linkedid" in line else None
            writer.write(
                f"200 result=1 ({value})\n".encode()
                if value
                else b"200 result=0\n"
                if line.startswith("GET")
                else b"200 result=1\n"
            )
        writer.close()
        assert 'SET VARIABLE CALLAGENT_OPERATOR "PJSIP/op1001"' in sent
        assert 'SET VARIABLE CALLAGENT_STATUS "ok"' in sent


async def test_availability_is_mirrored_into_the_fallback_queue(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        await service.client.post(
            f"/api/v1/operators/{op}/state", json={"state": "paused", "reason": "lunch"}
        )

        def pauses() -> list[tuple[str, str, str]]:
            return [
                (a["Interface"], a["Paused"], a["Reason"])
                for a in service.pbx.actions
                if a.action == "QueuePause"
            ]

        await wait_for(lambda: len(pauses()) == 2)
        assert pauses() == [("PJSIP/op1001", "false", "ready"), ("PJSIP/op1001", "true", "lunch")]
        assert all(a["Queue"] == "support" for a in service.pbx.actions if a.action == "QueuePause")


async def test_process_agi_bridge_sets_the_same_variables(db_url: str) -> None:
    """callagent-agi (pyst2), run as Asterisk runs a process AGI: pipes, one per call."""
    import os
    import sys
    from pathlib import Path

    from callagent.auth.scopes import Scope
    from tests.conftest import make_token

    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        token = make_token(service.app, frozenset({Scope.ROUTING_AGI}), "pbx")
        script = Path(sys.executable).with_name("callagent-agi")
        env = {**os.environ, "CALLAGENT_URL": service.base_url, "CALLAGENT_AGI_TOKEN": token}
        process = await asyncio.create_subprocess_exec(
            str(script),
            "route",
            "1",
            "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert process.stdin is not None and process.stdout is not None
        agi = AgiCall("route", "1795355543.2", calleridname="Иванова Мария Петровна")
        process.stdin.write(agi.environment(0))
        set_vars: dict[str, str] = {}
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            if not line:
                break
            command = line.strip()
            if command.startswith("GET VARIABLE CHANNEL(linkedid)"):
                process.stdin.write(b"200 result=1 (1795355543.2)\n")
            elif command.startswith("GET VARIABLE"):
                process.stdin.write(b"200 result=0\n")
            else:
                name, _, value = command.removeprefix("SET VARIABLE ").partition(" ")
                set_vars[name.strip('"')] = value.strip('"')  # pyst2 quotes both
                process.stdin.write(b"200 result=1\n")
            await process.stdin.drain()
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr
        assert set_vars.get("CALLAGENT_OPERATOR") == "PJSIP/op1001", set_vars
        assert set_vars["CALLAGENT_STATUS"] == "ok"
        assert "Иванова" not in stderr.decode()  # pyst2's environment dump goes nowhere


async def test_a_repeat_caller_gets_the_operator_who_answered_them(db_url: str) -> None:
    async with running_service(
        db_url, wrapup_seconds=0.3, repeat_caller_window_minutes=60
    ) as service:
        op1001, op1002 = add_operators(service, 2)
        await set_ready(service, [op1002, op1001])
        # op1001 answers 79031234567 (the recorded call), then wraps up and is ready again
        await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))

        async def back() -> bool:
            body = (await service.client.get(f"/api/v1/operators/{op1001}/state-history")).json()
            return bool(body[0]["to_state"] == "ready" and body[0]["cause"] == "deadline")

        await wait_for(back, timeout=10)
        # op1002 has been idle longer: a new caller gets op1002 ...
        stranger = await route(service, "7.1", callerid="79160000000")
        assert stranger.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        history = (await service.client.get(f"/api/v1/operators/{op1002}/state-history")).json()
        assert history[0]["to_state"] == "ringing"
        # ... but the applicant who called before gets op1001 again
        again = await route(service, "7.2", callerid="79031234567")
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"


async def test_waiting_calls_are_served_in_order_callbacks_first(db_url: str) -> None:
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        first = await route(service, "8.1")
        second = await route(service, "8.2")
        callback = await route(service, "8.3", variables={"CALLAGENT_PRIORITY": "10"})
        assert [c.set["CALLAGENT_QUEUE_POSITION"] for c in (first, second, callback)] == [
            "1",
            "2",
            "1",
        ]
        listed = (await service.client.get("/api/v1/routing/waiting")).json()
        assert [w["call"] for w in listed] == ["pbx1:8.3", "pbx1:8.1", "pbx1:8.2"]
        await set_ready(service, [op])  # one operator is free now
        # the longest waiting ordinary call asks first, but the callback comes before it
        again_first = await route(service, "8.1")
        assert again_first.set["CALLAGENT_STATUS"] == "wait"
        assert again_first.set["CALLAGENT_QUEUE_POSITION"] == "2"
        again_callback = await route(service, "8.3", variables={"CALLAGENT_PRIORITY": "10"})
        assert again_callback.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
        listed = (await service.client.get("/api/v1/routing/waiting")).json()
        assert [w["call"] for w in listed] == ["pbx1:8.1", "pbx1:8.2"]


async def test_a_pause_survives_a_restart_of_callagent(db_url: str) -> None:
    async with running_service(db_url) as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        await service.client.post(
            f"/api/v1/operators/{op}/state", json={"state": "paused", "reason": "training"}
        )
    async with running_service(db_url) as service:  # a new process on the same database
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert (history[0]["to_state"], history[0]["reason"]) == ("paused", "training")
        nobody = await route(service, "9.1")
        assert nobody.set["CALLAGENT_STATUS"] == "wait"  # still on the break
        await service.client.post(f"/api/v1/operators/{op}/state", json={"state": "ready"})
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        paused_at = datetime.fromisoformat(history[1]["at"])
        ready_at = datetime.fromisoformat(history[0]["at"])
        assert ready_at > paused_at  # the break's duration is there to report
