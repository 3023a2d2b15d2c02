"""The fallback queue agrees with callagent's states: QueueStatus read back and corrected.

Issue #11, point 5, on the recordings of a real Asterisk 22 (``live_queue_status*``): the
pure rule on the recorded members, the simulator's QueueStatus answer byte for byte
against the recording, and the whole service over real TCP (SQLite and PostgreSQL):
after a login, after an Asterisk restart and after a FullyBooted, periodically, and on
a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from callagent.ami.client import AmiClient
from callagent.ami.parser import AmiMessage, AmiParser
from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.config import AmiNode
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing import mirror as mirror_module
from callagent.routing.mirror import QueueMirror
from callagent.routing.operators import StateChange
from callagent.routing.queue_sync import (
    OperatorPhones,
    QueueMember,
    Rule,
    change_needs_action,
    plan_sync,
    wanted_pause,
)
from callagent.sim.ami_server import BANNER, AmiServer, frame
from callagent.sim.queues import SimQueue
from tests.conftest import LIVE_TRACES, RunningService, running_service, trace_bytes, wait_for

STATUS = LIVE_TRACES / "live_queue_status.ami"  # op1001 wrap_up, op1002 vmtest (CLI), op1003 free
STARTUP = LIVE_TRACES / "live_queue_status_startup.ami"  # a fresh Asterisk: nobody paused
PHONES = ("PJSIP/op1001", "PJSIP/op1002", "PJSIP/op1003")


def recorded(path_bytes: bytes) -> list[AmiMessage]:
    return [m for m in AmiParser().feed(path_bytes) if isinstance(m, AmiMessage)]


def recorded_members(data: bytes) -> list[QueueMember]:
    return [QueueMember.from_event(m.headers) for m in recorded(data) if m.event == "QueueMember"]


def ops(*states: tuple[str, str]) -> list[OperatorPhones]:
    """op1001, op1002... in these (state, reason)s."""
    return [
        OperatorPhones(n + 1, state, reason, (PHONES[n],))
        for n, (state, reason) in enumerate(states)
    ]


def plan_of(data: bytes, operators: list[OperatorPhones], rule: Rule = Rule.RUNNING) -> list:  # type: ignore[type-arg]
    plan = plan_sync(recorded_members(data), operators, queue="support", rule=rule)
    return [(a.interface, a.paused, a.reason) for a in plan.actions]


# ------------------------------------------------------------------ the pure rule


def test_recorded_members_are_read_with_their_pause_and_device_state() -> None:
    members = recorded_members(STATUS.read_bytes())
    assert [(m.interface, m.paused, m.reason, m.status) for m in members] == [
        ("PJSIP/op1001", True, "wrap_up", 1),
        ("PJSIP/op1002", True, "vmtest", 1),
        ("PJSIP/op1003", False, "", 5),
    ]
    assert {m.queue for m in members} == {"support"}


def test_the_table_of_pauses() -> None:
    running = {
        s: wanted_pause(s, "lunch" if s == "paused" else "")
        for s in ("ready", "ringing", "on_call", "wrap_up", "paused", "offline", "unavailable")
    }
    assert {s: (w.paused, w.reason) for s, w in running.items()} == {
        "ready": (False, "ready"),
        "ringing": (False, "ringing"),
        "on_call": (False, "on_call"),
        "wrap_up": (True, "wrap_up"),
        "paused": (True, "lunch"),
        "offline": (True, "offline"),
        "unavailable": (True, "unavailable"),
    }
    # After a clean stop nothing would end a wrap-up: it is unpaused; the rest stands.
    assert wanted_pause("wrap_up", rule=Rule.STOPPED).paused is False
    for state in ("paused", "offline", "unavailable"):
        assert wanted_pause(state, "break", Rule.STOPPED).paused is True
    assert wanted_pause("paused", "", Rule.RUNNING).reason == "paused"


def test_a_cli_pause_of_a_ready_operator_is_undone_and_only_differences_are_sent() -> None:
    # live_queue_status: op1001 in wrap-up (agrees), op1002 paused "vmtest" from the CLI
    # while callagent says ready, op1003 unpaused while callagent says offline.
    data = STATUS.read_bytes()
    operators = ops(("wrap_up", ""), ("ready", ""), ("offline", ""))
    plan = plan_sync(recorded_members(data), operators, queue="support")
    assert [(a.interface, a.paused, a.reason) for a in plan.actions] == [
        ("PJSIP/op1002", False, "ready"),
        ("PJSIP/op1003", True, "offline"),
    ]
    assert (plan.agreed, plan.unknown) == (1, [])
    corrected = plan.actions[0]
    assert (corrected.was_paused, corrected.was_reason, corrected.user_id) == (True, "vmtest", 2)
    assert corrected.ami("support") == {
        "Action": "QueuePause",
        "Interface": "PJSIP/op1002",
        "Paused": "false",
        "Reason": "ready",
        "Queue": "support",
    }


def test_after_an_asterisk_start_offline_operators_are_paused() -> None:
    # live_queue_status_startup: Asterisk came up with every static member unpaused.
    data = STARTUP.read_bytes()
    assert plan_of(data, ops(("ready", ""), ("offline", ""), ("offline", ""))) == [
        ("PJSIP/op1002", True, "offline"),
        ("PJSIP/op1003", True, "offline"),
    ]
    assert plan_of(data, ops(("on_call", ""), ("paused", "lunch"), ("unavailable", ""))) == [
        ("PJSIP/op1002", True, "lunch"),
        ("PJSIP/op1003", True, "unavailable"),
    ]
    assert plan_of(data, ops(("ready", ""), ("ringing", ""), ("on_call", ""))) == []


def test_a_reason_that_differs_is_corrected_and_the_stop_rule_unpauses_wrap_up() -> None:
    data = STATUS.read_bytes()
    # op1001 paused wrap_up in the queue, but logged out in callagent: the reason follows.
    assert plan_of(data, ops(("offline", ""), ("paused", "vmtest"), ("ready", ""))) == [
        ("PJSIP/op1001", True, "offline")
    ]
    stop = plan_of(data, ops(("wrap_up", ""), ("paused", "vmtest"), ("ready", "")), Rule.STOPPED)
    assert stop == [("PJSIP/op1001", False, "wrap_up")]


def test_members_unknown_to_callagent_are_left_alone() -> None:
    data = STATUS.read_bytes()
    only_first = [OperatorPhones(7, "ready", "", ("PJSIP/op1001",))]
    plan = plan_sync(recorded_members(data), only_first, queue="support")
    assert [(a.interface, a.paused, a.user_id) for a in plan.actions] == [
        ("PJSIP/op1001", False, 7)
    ]
    assert plan.unknown == ["PJSIP/op1002", "PJSIP/op1003"]
    other_queue = plan_sync(recorded_members(data), only_first, queue="sales")
    assert (other_queue.actions, other_queue.unknown) == ([], [])


def test_a_shared_phone_is_unpaused_when_any_owner_takes_calls() -> None:
    data = STARTUP.read_bytes()
    shared = [
        OperatorPhones(1, "offline", "", ("PJSIP/op1001",)),
        OperatorPhones(2, "ready", "", ("PJSIP/op1001", "PJSIP/op1002")),
        OperatorPhones(3, "paused", "lunch", ("PJSIP/op1003",)),
        OperatorPhones(4, "offline", "", ("PJSIP/op1003",)),
    ]
    plan = plan_sync(recorded_members(data), shared, queue="support")
    # op1001 and op1002: operator 2 is ready; op1003: nobody takes calls, operator 3 (lowest).
    assert [(a.interface, a.paused, a.reason, a.user_id) for a in plan.actions] == [
        ("PJSIP/op1003", True, "lunch", 3)
    ]


def test_a_member_is_matched_by_its_state_interface_too() -> None:
    local = QueueMember("support", "Local/1001@from-operators", "PJSIP/op1001", False, "", 1)
    plan = plan_sync([local], ops(("offline", "")), queue="support")
    assert [(a.interface, a.reason) for a in plan.actions] == [
        ("Local/1001@from-operators", "offline")
    ]


def test_the_mirror_sends_for_every_change_except_between_call_taking_states() -> None:
    assert not change_needs_action("ready", "ringing")
    assert not change_needs_action("ringing", "on_call")
    assert change_needs_action("on_call", "wrap_up")
    assert change_needs_action("wrap_up", "ready")
    # live_feature_codes: wrap_up -> offline left op1001 paused "wrap_up"; now "offline".
    assert change_needs_action("wrap_up", "offline")
    assert change_needs_action("paused", "paused")  # break -> lunch


# -------------------------------------------------------- the simulator's fidelity


def recorded_answer(data: bytes, action_id: str) -> bytes:
    """The recorded response and event list of one QueueStatus, byte for byte."""
    start = data.index(b"Response: Success\r\nActionID: " + action_id.encode())
    marker = b"Event: QueueStatusComplete\r\nActionID: " + action_id.encode()
    end = data.index(b"\r\n\r\n", data.index(marker)) + 4
    return data[start:end]


async def ask(server: AmiServer, *actions: list[tuple[str, str]]) -> bytes:
    """Log in over TCP, send ``actions``, return every byte after the login's answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    assert await reader.readexactly(len(BANNER)) == BANNER
    login = [("Action", "Login"), ("Username", server.username), ("Secret", server.secret)]
    writer.write(frame(*login))
    for action in actions:
        writer.write(frame(*action))
    writer.write(frame(("Action", "Logoff"), ("ActionID", "bye")))
    await writer.drain()
    data = await asyncio.wait_for(reader.readuntil(b"Response: Goodbye\r\n"), 5)
    writer.close()
    return data


@pytest.mark.parametrize(("trace", "action_id"), [(STATUS, "qs-1"), (STARTUP, "qs-startup")])
async def test_the_simulator_answers_queue_status_as_asterisk_22_did(
    trace: object, action_id: str
) -> None:
    data = trace.read_bytes()  # type: ignore[attr-defined]
    server = AmiServer()
    server.queues["support"] = SimQueue.from_trace(data, "support")
    await server.start()
    try:
        got = await ask(
            server, [("Action", "QueueStatus"), ("ActionID", action_id), ("Queue", "support")]
        )
    finally:
        await server.stop()
    answer = recorded_answer(data, action_id)
    assert answer in got  # the same bytes: header names, order, values, ListItems


async def test_the_simulator_pauses_as_asterisk_22_does() -> None:
    data = trace_bytes("queue_pause_unpause")
    server = AmiServer()
    server.queues["support"] = SimQueue.from_trace(STARTUP.read_bytes(), "support")
    await server.start()
    try:
        got = await ask(
            server,
            [
                ("Action", "QueuePause"),
                ("ActionID", "qp-1"),
                ("Interface", "PJSIP/op1001"),
                ("Queue", "support"),
                ("Paused", "true"),
                ("Reason", "wrap_up"),
            ],
            [("Action", "QueuePause"), ("ActionID", "qp-9"), ("Interface", "PJSIP/op9")],
            [("Action", "QueueStatus"), ("ActionID", "qs-1"), ("Queue", "support")],
        )
    finally:
        await server.stop()

    times = ("Timestamp", "LastPause", "LoginTime")

    def pause_frames(messages: list[AmiMessage]) -> list[dict[str, str]]:
        """qp-1's answer, the pause device's state change and the QueueMemberPause."""
        wanted = [
            m
            for m in messages
            if m.action_id == "qp-1"
            or m.event == "QueueMemberPause"
            or m.get("Device").startswith("Queue:support_pause_")
        ]
        return [{k: v for k, v in m.headers.items() if k not in times} for m in wanted[:3]]

    answer = recorded(BANNER + got)
    # Same frames, same header names in the same order, same values (times aside).
    assert pause_frames(answer) == pause_frames(recorded(data))
    assert [list(f) for f in pause_frames(answer)] == [
        list(f) for f in pause_frames(recorded(data))
    ]
    assert b"Response: Error\r\nActionID: qp-9\r\nMessage: Interface not found\r\n" in got
    listed = [m for m in answer if m.event == "QueueMember"]
    assert [(m.get("Location"), m.get("Paused"), m.get("PausedReason")) for m in listed] == [
        ("PJSIP/op1001", "1", "wrap_up"),
        ("PJSIP/op1002", "0", ""),
        ("PJSIP/op1003", "0", ""),
    ]


# --------------------------------------------------------- the service over TCP


def seed_operators(db_url: str, states: list[tuple[str, str]]) -> list[int]:
    """op1001... in the database before callagent starts, in these states."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    ids = []
    try:
        with sessions() as session:
            for n, (state, reason) in enumerate(states):
                user = create_user(
                    session,
                    login=f"op{1001 + n}",
                    role=Role.OPERATOR,
                    password=None,
                    endpoints=[PHONES[n]],
                )
                user.state, user.state_reason = state, reason
                if state == "wrap_up":
                    user.wrapup_until = datetime.now(UTC) + timedelta(hours=1)
                ids.append(user.id)
            session.commit()
    finally:
        engine.dispose()
    return ids


def pauses(pbx: AmiServer, since: int = 0) -> list[tuple[str, str, str]]:
    """The QueuePause actions callagent sent (the simulator's action log)."""
    return [
        (a.get("Interface"), a.get("Paused"), a.get("Reason"))
        for a in pbx.actions[since:]
        if a.action == "QueuePause"
    ]


def queue_of(pbx: AmiServer) -> list[tuple[str, bool, str]]:
    return [(m.interface, m.paused, m.reason) for m in pbx.queues["support"].members]


@pytest.fixture
def mirror_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="callagent.routing.mirror")
    return caplog


async def start_pbx(trace: bytes) -> AmiServer:
    pbx = AmiServer()
    pbx.queues["support"] = SimQueue.from_trace(trace, "support")
    await pbx.start()
    return pbx


async def synced(service: RunningService, count: int) -> None:
    mirror = service.app.state.queue_mirror  # type: ignore[attr-defined]
    await wait_for(lambda: len(mirror.syncs) >= count)


async def test_at_login_the_queue_is_read_and_a_cli_pause_is_undone(
    db_url: str, mirror_logs: pytest.LogCaptureFixture
) -> None:
    pbx = await start_pbx(STATUS.read_bytes())
    seed_operators(db_url, [("wrap_up", ""), ("ready", ""), ("offline", "")])
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await synced(service, 1)
            statuses = [a for a in pbx.actions if a.action == "QueueStatus"]
            assert [a.get("Queue") for a in statuses] == ["support"]
            assert pauses(pbx) == [
                ("PJSIP/op1002", "false", "ready"),
                ("PJSIP/op1003", "true", "offline"),
            ]
            assert queue_of(pbx) == [
                ("PJSIP/op1001", True, "wrap_up"),
                ("PJSIP/op1002", False, "ready"),
                ("PJSIP/op1003", True, "offline"),
            ]
            result = service.app.state.queue_mirror.syncs[0]  # type: ignore[attr-defined]
            assert (result.members, result.sent, result.plan.agreed) == (3, 2, 1)
    finally:
        await pbx.stop()
    corrected = [r for r in mirror_logs.records if "vmtest" in r.getMessage()]
    assert corrected and corrected[0].levelno >= logging.INFO
    assert "PJSIP/op1002" in corrected[0].getMessage()
    assert "Operator 1002" not in mirror_logs.text  # member names (people) are not logged


async def test_after_an_asterisk_restart_and_a_fully_booted_offline_operators_are_paused_again(
    db_url: str,
) -> None:
    pbx = await start_pbx(STARTUP.read_bytes())
    seed_operators(db_url, [("ready", ""), ("offline", ""), ("paused", "lunch")])
    want = [("PJSIP/op1002", "true", "offline"), ("PJSIP/op1003", "true", "lunch")]
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await synced(service, 1)
            assert pauses(pbx) == want
            settled = queue_of(pbx)
            assert [paused for _, paused, _ in settled] == [False, True, True]

            # Asterisk restarts: sessions dropped, every static member unpaused.
            mark = len(pbx.actions)
            await pbx.restart()
            assert not any(paused for _, paused, _ in queue_of(pbx))
            await wait_for(lambda: pauses(pbx, mark) == want)
            assert queue_of(pbx) == settled
            assert service.monitor.clients[0].reconnects >= 1

            # A FullyBooted on a live session (callagent logged in while Asterisk booted).
            mark = len(pbx.actions)
            pbx.queues["support"].restart()
            await pbx.send_fully_booted()
            await wait_for(lambda: pauses(pbx, mark) == want)
            assert queue_of(pbx) == settled
            await asyncio.sleep(0.5)  # nothing more: the next sync finds agreement
            assert pauses(pbx, mark) == want
    finally:
        await pbx.stop()


async def test_a_drift_is_corrected_by_the_periodic_sync(
    db_url: str, mirror_logs: pytest.LogCaptureFixture
) -> None:
    pbx = await start_pbx(STARTUP.read_bytes())
    seed_operators(db_url, [("ready", ""), ("offline", ""), ("offline", "")])
    try:
        async with running_service(db_url, pbx=pbx, queue_sync_interval=0.5) as service:
            await synced(service, 1)
            mark = len(pbx.actions)
            # The CLI: `queue pause member PJSIP/op1001 queue support reason vmtest`.
            events = pbx.pause_member("PJSIP/op1001", True, "vmtest", "support")
            assert events is not None
            await pbx.broadcast(events)
            await wait_for(lambda: pauses(pbx, mark) == [("PJSIP/op1001", "false", "ready")])
            assert queue_of(pbx)[0] == ("PJSIP/op1001", False, "ready")
    finally:
        await pbx.stop()
    drift = [r for r in mirror_logs.records if "vmtest" in r.getMessage()]
    assert drift and drift[0].levelno == logging.WARNING  # a drift while connected


async def test_a_clean_stop_unpauses_operators_in_wrap_up_only(db_url: str) -> None:
    pbx = await start_pbx(STARTUP.read_bytes())
    seed_operators(db_url, [("wrap_up", ""), ("paused", "lunch"), ("offline", "")])
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await synced(service, 1)
            assert [paused for _, paused, _ in queue_of(pbx)] == [True, True, True]
            mark = len(pbx.actions)
        # Stopped: nobody would end op1001's wrap-up, so the fallback may ring them;
        # the break and the logged-out operator stay paused.
        assert pauses(pbx, mark) == [("PJSIP/op1001", "false", "wrap_up")]
        assert queue_of(pbx) == [
            ("PJSIP/op1001", False, "wrap_up"),
            ("PJSIP/op1002", True, "lunch"),
            ("PJSIP/op1003", True, "offline"),
        ]
        logoff = [a.action for a in pbx.actions[mark:]]
        assert logoff.index("QueuePause") < logoff.index("Logoff")
    finally:
        await pbx.stop()


async def test_a_state_change_after_the_sync_is_still_mirrored(db_url: str) -> None:
    pbx = await start_pbx(STARTUP.read_bytes())
    ids = seed_operators(db_url, [("ready", ""), ("offline", ""), ("offline", "")])
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await synced(service, 1)
            mark = len(pbx.actions)
            response = await service.client.post(
                f"/api/v1/operators/{ids[0]}/state", json={"state": "paused", "reason": "lunch"}
            )
            assert response.status_code == 200
            await wait_for(lambda: pauses(pbx, mark) == [("PJSIP/op1001", "true", "lunch")])
            assert queue_of(pbx)[0] == ("PJSIP/op1001", True, "lunch")
            response = await service.client.post(
                f"/api/v1/operators/{ids[0]}/state", json={"state": "offline"}
            )
            assert response.status_code == 200
            # paused -> offline: the reason follows the state (before: no action at all).
            await wait_for(lambda: queue_of(pbx)[0] == ("PJSIP/op1001", True, "offline"))
    finally:
        await pbx.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sigterm_to_callagent_serve_hands_the_queue_over(db_url: str) -> None:
    """The real process and signal: `callagent serve`, SIGTERM, the last QueuePause."""
    pbx = await start_pbx(STARTUP.read_bytes())
    seed_operators(db_url, [("wrap_up", ""), ("paused", "lunch"), ("offline", "")])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CALLAGENT_DATABASE_URL": db_url,
        "CALLAGENT_AMI_HOST": "127.0.0.1",
        "CALLAGENT_AMI_PORT": str(pbx.port),
        "CALLAGENT_AMI_SECRET": pbx.secret,
        "CALLAGENT_HTTP_PORT": str(free_port()),
        "CALLAGENT_AGI_PORT": "0",
        "CALLAGENT_SIMULATOR": "off",
        "CALLAGENT_CAMPAIGN_SCHEDULER": "off",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "callagent",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        paused_all = [
            ("PJSIP/op1001", "true", "wrap_up"),
            ("PJSIP/op1002", "true", "lunch"),
            ("PJSIP/op1003", "true", "offline"),
        ]
        await wait_for(lambda: pauses(pbx) == paused_all, timeout=30)
        mark = len(pbx.actions)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        # uvicorn shuts the application down, then re-raises the signal it caught
        assert process.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
        assert b"Application shutdown complete" in stderr
        assert pauses(pbx, mark) == [("PJSIP/op1001", "false", "wrap_up")]
        sent = [a.action for a in pbx.actions[mark:]]
        assert sent.index("QueuePause") < sent.index("Logoff")
        assert queue_of(pbx)[0] == ("PJSIP/op1001", False, "wrap_up")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await pbx.stop()


async def test_a_sync_right_after_a_forwarded_change_leaves_that_phone_to_the_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change is queued inside its transaction: a sync may read the state before it.

    op1001 goes offline -> ready (forwarded: unpaused); the database read of the sync that
    follows still says offline. Without the guard the sync paused op1001 again, and it
    stayed paused until the next sync although callagent had it ready.
    """
    monkeypatch.setattr(mirror_module, "FRESH", 0.3)
    pbx = await start_pbx(STARTUP.read_bytes())
    node = AmiNode(name="pbx1", port=pbx.port, secret=SecretStr(pbx.secret))
    client = AmiClient(node, on_event=lambda *_: None, reconnect_min=0.05)
    task = asyncio.create_task(client.run())
    stale = [
        OperatorPhones(1, "offline", "", ("PJSIP/op1001",)),  # not yet committed: ready
        OperatorPhones(2, "offline", "", ("PJSIP/op1002",)),
    ]
    mirror = QueueMirror(queue.SimpleQueue(), [client], "support", operators=lambda: stale)
    try:
        await wait_for(lambda: client.connected)
        await mirror.forward(StateChange(1, ("PJSIP/op1001",), "offline", "ready", ""))
        mark = len(pbx.actions)
        result = await mirror.sync(client)
        assert pauses(pbx, mark) == [("PJSIP/op1002", "true", "offline")]
        assert [a.interface for a in result.plan.actions] == ["PJSIP/op1001", "PJSIP/op1002"]
        assert result.sent == 1
        await asyncio.sleep(0.35)  # the guard is short: later syncs check that phone again
        mark = len(pbx.actions)
        await mirror.sync(client, trigger="periodic")
        assert pauses(pbx, mark) == [("PJSIP/op1001", "true", "offline")]
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pbx.stop()
