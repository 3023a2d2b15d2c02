"""Call-backs dialled operator first, end to end: real AMI and FastAGI over TCP against the
PBX simulator (its operator-first calls: answered as recorded in click_to_call; busy and
no answer derived from it), the router's priority, the wrap-up closing the task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from callagent.ami.client import AmiClient
from callagent.callbacks.dialer import CallbackDialer, DialerConfig
from callagent.callbacks.models import CallbackTask
from callagent.callbacks.service import Leased, Policy, submit
from callagent.campaigns.window import CallingWindow
from callagent.db.models import Call
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.outbound import OutboundPbx, demo_outcome, outcome_plan
from tests.conftest import TRACES, RunningService, running_service, wait_for
from tests.test_routing import add_operators, agi_port, set_ready

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
POLICY = Policy(
    hours=CallingWindow.parse(ALWAYS),
    centre=ZoneInfo("Europe/Moscow"),
    max_attempts=3,
    retry_seconds=0.5,
)


def add_task(service: RunningService, phone: str) -> int:
    now = datetime.now(UTC)
    with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        task = submit(
            session,
            policy=POLICY,
            name="Иванова Мария",
            phone=phone,
            topic="Паспорт",
            window_from=now - timedelta(minutes=1),
            window_to=now + timedelta(hours=2),
            language="ru",
            now=now,
        )
        assert task is not None
        return task.id


def task_row(service: RunningService, task_id: int) -> CallbackTask:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        row = session.get(CallbackTask, task_id)
        assert row is not None
        return row


@contextlib.asynccontextmanager
async def dialer_for(
    service: RunningService, plan: dict[str, Any], shown: list[Any] | None = None
) -> AsyncIterator[CallbackDialer]:
    """The service's router and book, a dialer on its own AMI connection, the simulator
    answering its Originates."""
    state: Any = service.app.state
    sim = OutboundPbx(
        service.pbx, TRACES, outcome=outcome_plan(plan), agi_port=agi_port(service), speed=20.0
    )

    async def decide(linkedid: str, priority: int) -> dict[str, str]:
        return await state.agi.call(
            state.router.decide(linkedid=linkedid, previous="", topic=None, priority=priority)
        )

    dialer = CallbackDialer(
        state.sessions,
        policy=POLICY,
        book=state.book,
        config=DialerConfig(
            ring_timeout=10.0, answer_grace=5.0, poll_interval=0.1, failure_grace=0.5
        ),
        decide=decide,
        forget=state.router.forget,
        preview=(lambda user, data: shown.append((user, data))) if shown is not None else None,
    )
    client = AmiClient.from_settings(
        service.settings.ami_nodes[0], service.settings, on_event=dialer.on_event
    )
    dialer.client = client
    connection = asyncio.create_task(client.run())
    runner: asyncio.Task[None] | None = None
    try:
        await wait_for(lambda: client.connected)
        runner = asyncio.create_task(dialer.run())
        yield dialer
    finally:
        dialer.stop()
        if runner is not None:
            await asyncio.wait_for(runner, 20)
        await sim.stop()
        await client.stop()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)


async def test_operator_first_answered_then_closed_by_the_wrap_up(db_url: str) -> None:
    async with running_service(db_url, callback_dialer="off") as service:
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        task_id = add_task(service, "+79161110001")
        shown: list[tuple[int, dict[str, Any]]] = []
        async with dialer_for(service, {}, shown) as dialer:
            await wait_for(lambda: dialer.results, timeout=20)
        assert dialer.results == [(task_id, "answered")]
        (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
        assert (action["Channel"], action["Context"], action["Exten"]) == (
            "PJSIP/op1001",
            "callagent-callback",
            "79161110001",
        )
        assert f"CALLAGENT_CALLBACK_ID={task_id}" in action.getall("Variable")
        assert action["ChannelId"] == f"cb-{task_id}-1"
        ((user, data),) = shown  # the operator's page was told who it is before the call
        assert (user, data["topic"], data["phone"]) == (op, "Паспорт", "+79161110001")
        got = task_row(service, task_id)
        assert (got.status, got.attempts, got.last_operator_id) == ("done", 1, op)
        assert got.answered_at is not None and got.call_key == f"pbx1:cb-{task_id}-1"

        # the tracker filed the call under the Originate's ChannelId, with the task named
        def call() -> Call | None:
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                return session.scalar(select(Call).where(Call.linkedid == f"cb-{task_id}-1"))

        await wait_for(lambda: call() is not None and call().final)  # type: ignore[union-attr]
        record = call()
        assert record is not None
        assert record.variables["CALLAGENT_CALLBACK_ID"] == str(task_id)
        assert record.operator_endpoint == "PJSIP/op1001"

        # the operator's wrap-up closes the task
        async def pending() -> list[dict[str, Any]]:
            response = await service.client.get(
                "/api/v1/wrapups/pending", params={"operator_id": op}
            )
            return list(response.json())

        await wait_for(pending)
        (wrapup,) = await pending()
        submitted = await service.client.post(
            f"/api/v1/wrapups/{wrapup['id']}/submit",
            json={"category": "wrong_number", "fields": {"kind": "silent"}, "operator_id": op},
        )
        assert submitted.status_code in (200, 201), submitted.text
        got = task_row(service, task_id)
        assert got.wrapup_id == wrapup["id"] and got.closed_at is not None


async def test_busy_and_no_answer_are_retried_then_answered(db_url: str) -> None:
    async with running_service(db_url, callback_dialer="off") as service:
        ops = add_operators(service, 3)
        await set_ready(service, ops)
        task_id = add_task(service, "+79161110002")
        plan = {"+79161110002": ["busy", "no_answer", "answered"]}
        async with dialer_for(service, plan) as dialer:
            await wait_for(lambda: len(dialer.results) == 3, timeout=30)
        assert [result for _, result in dialer.results] == ["busy", "no_answer", "answered"]
        got = task_row(service, task_id)
        assert (got.status, got.attempts) == ("done", 3)
        assert [h["result"] for h in got.history] == ["busy", "no_answer", "answered"]
        # each attempt its own call: a fresh ChannelId per Originate
        ids = [a["ChannelId"] for a in service.pbx.actions if a.action == "Originate"]
        assert ids == [f"cb-{task_id}-1", f"cb-{task_id}-2", f"cb-{task_id}-3"]


async def test_a_call_back_waits_before_inbound_callers_with_its_priority(db_url: str) -> None:
    async with running_service(db_url, callback_dialer="off") as service:
        (op,) = add_operators(service, 1)  # logged out: nobody is free
        task_id = add_task(service, "+79161110003")
        async with dialer_for(service, {}) as dialer:
            router: Any = service.app.state.router  # type: ignore[attr-defined]
            await wait_for(lambda: router.waiting_now())
            (waiting,) = router.waiting_now()
            assert (waiting.call, waiting.priority) == (f"pbx1:cb-{task_id}-1", 1)
            # an inbound caller now is second in line, behind the call-back
            call = AgiCall(
                "route", "1795400000.1", args=["1", "", "", "", "1795400000.1"], variables={}
            )
            inbound = await run_agi(call, "127.0.0.1", agi_port(service))
            assert inbound.set["CALLAGENT_STATUS"] == "wait"
            assert inbound.set["CALLAGENT_QUEUE_POSITION"] == "2"
            # the operator comes: the call-back gets them, not the caller who waits
            await set_ready(service, [op])
            await wait_for(lambda: dialer.results, timeout=20)
            assert dialer.results == [(task_id, "answered")]
        assert task_row(service, task_id).last_operator_id == op


async def test_make_run_calls_back_by_itself(db_url: str) -> None:
    """The service's own dialer (router in FastAGI's loop, its AMI connection) against
    `make run`'s built-in simulator and demo operators."""
    async with running_service(
        db_url,
        ami_nodes=[],
        simulator="auto",
        simulator_call_interval=1000.0,
        simulator_speed=20.0,
        callback_hours=ALWAYS,
    ) as service:
        phone = next(
            f"+7916777{n:04d}"
            for n in range(100)
            if demo_outcome(f"7916777{n:04d}", 1).startswith("answered")
        )
        task_id = add_task(service, phone)
        await wait_for(lambda: task_row(service, task_id).status == "done", timeout=30)
        got = task_row(service, task_id)
        assert got.attempts == 1 and got.last_operator_id is not None
        assert got.call_key == f"pbx1:cb-{task_id}-1"


def test_the_originate_carries_nothing_unsafe_from_the_website() -> None:
    dialer = CallbackDialer(sessionmaker(), policy=POLICY, book=None)  # type: ignore[arg-type]
    item = Leased(7, "+79161110009", "A", 'x"\r\nAction: Hangup\r\n<1>', None, 1, NOW, 2)
    action = dialer.originate_action(item, "PJSIP/op1001", "callagent-cb-7-2")
    assert action["CallerID"] == '"Callback xAction: Hangup1" <79161110009>'
    assert action["Exten"] == "79161110009" and action["ChannelId"] == "cb-7-2"
    assert all("\r" not in str(v) and "\n" not in str(v) for v in action.values())
