"""The live AMI connection: panoramisk 1.4's pitfalls, reconnect, resync, secrets.

Each pitfall is shown twice: plain panoramisk 1.4 gets it wrong against the
same simulated Asterisk (so the test could fail), callagent's adapter gets it
right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from panoramisk import Manager
from pydantic import SecretStr

from callagent.ami.client import AmiClient, AmiConnectionLost
from callagent.ami.parser import AmiMessage
from callagent.config import AmiNode
from callagent.sim.ami_server import AmiServer, frame, trace_body
from tests.conftest import running_service, trace_bytes, wait_for

NAME = "Иванова Мария Петровна"
EVENT = frame(
    ("Event", "Newchannel"),
    ("Channel", "PJSIP/trunk-00000001"),
    ("ChannelStateDesc", "Ring"),
    ("CallerIDNum", "79261112233"),
    ("CallerIDName", NAME),
    ("Exten", "4951112233"),
    ("Uniqueid", "1.1"),
    ("Linkedid", "1.1"),
)
SPLIT = EVENT.index("Мария".encode()) + 1  # inside the two bytes of "М"


@contextlib.asynccontextmanager
async def pbx() -> AsyncIterator[AmiServer]:
    server = AmiServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def our_client(
    server: AmiServer, **kwargs: Any
) -> AsyncIterator[tuple[AmiClient, list[AmiMessage]]]:
    seen: list[AmiMessage] = []
    on_event = kwargs.pop("on_event", lambda node, m: seen.append(m))
    node = AmiNode(name="pbx1", port=server.port, secret=SecretStr(server.secret))
    options: dict[str, Any] = {"reconnect_min": 0.05, "reconnect_max": 0.2}
    options.update(kwargs)
    client = AmiClient(node, on_event=on_event, **options)
    task = asyncio.create_task(client.run())
    try:
        yield client, seen
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def plain_panoramisk(
    server: AmiServer, **config: Any
) -> AsyncIterator[tuple[Manager, list[Any]]]:
    seen: list[Any] = []
    manager = Manager(
        host="127.0.0.1",
        port=server.port,
        username=server.username,
        secret=server.secret,
        loop=asyncio.get_running_loop(),
        **config,
    )
    manager.register_event("*", lambda mgr, event: seen.append(event))
    manager.connect()
    try:
        yield manager, seen
    finally:
        manager.close()


# 1. A Cyrillic name split between two TCP reads -------------------------------------------


async def test_panoramisk_1_4_loses_letters_of_a_split_cyrillic_name() -> None:
    async with pbx() as server, plain_panoramisk(server) as (_, seen):
        conn = await server.connection(0)
        await conn.send(EVENT, chunk=SPLIT, pause=0.1)
        await wait_for(lambda: any(e.event == "Newchannel" for e in seen))
        (event,) = [e for e in seen if e.event == "Newchannel"]
        assert event["CallerIDName"] != NAME  # 1.4 decodes each chunk with errors='ignore'


async def test_callagent_keeps_a_split_cyrillic_name_whole() -> None:
    async with pbx() as server, our_client(server) as (_, seen):
        conn = await server.connection(0)
        await conn.send(EVENT, chunk=SPLIT, pause=0.1)
        await wait_for(lambda: any(e.event == "Newchannel" for e in seen))
        (event,) = [e for e in seen if e.event == "Newchannel"]
        assert event["CallerIDName"] == NAME


# 2. An exception in an event callback -----------------------------------------------------


def _boom(*_: Any) -> None:
    raise RuntimeError("a bug in a callback")


async def test_panoramisk_1_4_drops_the_connection_when_a_callback_raises() -> None:
    async with pbx() as server, plain_panoramisk(server, reconnect_timeout=60) as (manager, _):
        conn = await server.connection(0)
        manager.register_event("Newchannel", _boom)
        await conn.send(EVENT)
        await wait_for(lambda: conn.writer.is_closing() or conn.reader.at_eof(), timeout=5)


async def test_callagent_survives_a_callback_that_raises(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[AmiMessage] = []

    def on_event(node: str, message: AmiMessage) -> None:
        seen.append(message)
        if message.event == "Newchannel" and len([m for m in seen if m.event == "Newchannel"]) == 1:
            raise RuntimeError("a bug in a callback")

    async with pbx() as server, our_client(server, on_event=on_event) as (client, _):
        conn = await server.connection(0)
        await conn.send(EVENT + EVENT)
        await wait_for(lambda: len([m for m in seen if m.event == "Newchannel"]) == 2)
        assert client.callback_errors == 1
        assert client.connected and client.sessions == 1
        assert len(server.connections) == 1
    assert "could not be processed; the connection goes on" in caplog.text


# 3. Ping without pong: a half-open connection -------------------------------------------------


async def test_panoramisk_1_4_never_notices_a_half_open_connection() -> None:
    async with pbx() as server, plain_panoramisk(server, ping_delay=1, ping_interval=1) as _:
        conn = await server.connection(0)
        conn.answer = False  # the PBX is gone without a FIN: pings go unanswered
        await asyncio.sleep(3.5)
        assert sum(1 for a in conn.actions if a.action == "Ping") >= 2
        assert len(server.connections) == 1  # still "connected", nothing noticed


async def test_callagent_drops_a_half_open_connection_within_a_bounded_time() -> None:
    async with pbx() as server, our_client(server, ping_interval=0.2, ping_timeout=0.3) as (c, _):
        conn = await server.connection(0)
        conn.answer = False
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.connection(1, timeout=5)  # it reconnected
        assert loop.time() - started < 0.2 + 0.3 + 0.2 + 1.0  # interval + timeout + back-off
        assert c.reconnects >= 1


# 4. Actions unanswered when the connection drops -----------------------------------------------

ORIGINATE = {
    "Action": "Originate",
    "Channel": "PJSIP/79161234567@trunk",
    "Context": "notify-out",
    "Exten": "s",
    "Priority": "1",
    "Async": "true",
}


async def test_panoramisk_1_4_sends_an_unanswered_originate_again_after_reconnect() -> None:
    async with pbx() as server, plain_panoramisk(server, reconnect_timeout=0) as (manager, _):
        server.silent_actions = {"originate"}
        conn = await server.connection(0)
        manager.send_action(dict(ORIGINATE))
        await wait_for(lambda: any(a.action == "Originate" for a in conn.actions))
        conn.writer.close()  # the PBX restarts
        await server.connection(1)
        await wait_for(lambda: sum(a.action == "Originate" for a in server.actions) == 2, timeout=5)


async def test_callagent_never_sends_an_action_twice() -> None:
    async with pbx() as server, our_client(server) as (client, _):
        server.silent_actions = {"originate"}
        conn = await server.connection(0)
        await wait_for(lambda: client.connected)
        pending = asyncio.create_task(client.send_action(dict(ORIGINATE), timeout=10))
        await wait_for(lambda: any(a.action == "Originate" for a in conn.actions))
        conn.writer.close()
        with pytest.raises(AmiConnectionLost, match="not sent again"):
            await pending
        await server.connection(1)
        await asyncio.sleep(0.5)
        assert sum(a.action == "Originate" for a in server.actions) == 1


# Reconnect, back-off, login ---------------------------------------------------------------------


async def test_reconnects_with_growing_back_off_while_the_pbx_is_down() -> None:
    server = AmiServer()
    await server.start()
    port = server.port
    await server.stop()  # nothing listens there any more
    node = AmiNode(name="pbx1", port=port)
    client = AmiClient(node, on_event=lambda *_: None, reconnect_min=0.05, reconnect_max=0.4)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(1.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # 0.05, 0.1, 0.2, 0.4, 0.4 ... : a handful of tries, not hundreds
    assert 3 <= client.reconnects <= 8
    assert client.last_error is not None and not client.connected


async def test_a_refused_login_says_what_to_check_and_never_logs_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with pbx() as server:
        node = AmiNode(name="pbx1", port=server.port, secret=SecretStr("wrong-secret-123"))
        client = AmiClient(node, on_event=lambda *_: None, reconnect_min=0.05)
        task = asyncio.create_task(client.run())
        await wait_for(lambda: client.last_error is not None)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "refused the login of user 'callagent'" in (client.last_error or "")
    assert "manager.conf" in (client.last_error or "")
    assert "wrong-secret-123" not in caplog.text
    assert "wrong-secret-123" not in repr(node)


# Resync after a reconnect ------------------------------------------------------------------------


def _frames_until(body: bytes, marker: bytes) -> tuple[bytes, bytes]:
    index = body.index(marker)
    return body[:index], body[index:]


async def test_a_call_that_ended_while_disconnected_is_closed_and_flagged(db_url: str) -> None:
    body = trace_body(trace_bytes("inbound_answered_caller_hangs_up"))
    head, _ = _frames_until(body, b"Event: HangupRequest")
    async with running_service(db_url) as service:
        conn = await service.pbx.connection(0)
        await conn.send(head)
        await wait_for(lambda: len(service.monitor.tracker.calls) == 1)
        last_seen = next(iter(service.monitor.tracker.calls.values())).last_event_at
        service.pbx.live_channels = []  # the call ends while we are away
        conn.writer.close()
        await service.pbx.connection(1)
        await wait_for(lambda: service.monitor.resyncs >= 2)
        await service.monitor.writer.drain()
        (record,) = (await service.client.get("/api/v1/calls")).json()["items"]
        assert record["final"] is True
        assert record["closed_by_resync"] is True
        assert record["disposition"] == "answered"
        assert record["operator_endpoint"] == "PJSIP/op1001"
        ended = record["ended_at"]
        assert abs(_ts(ended) - last_seen) < 0.001
        assert service.monitor.tracker.calls == {}


async def test_a_call_still_up_after_a_reconnect_carries_on(db_url: str) -> None:
    body = trace_body(trace_bytes("coreshowchannels_midcall"))
    head, tail = _frames_until(body, b"Response: Success\r\nActionID: resync-1")
    listing = [
        {
            "Channel": "PJSIP/op1001-0000000e",
            "ChannelStateDesc": "Up",
            "Uniqueid": "1795354157.16",
            "Linkedid": "1795354157.15",
            "CallerIDNum": "1001",
        },
        {
            "Channel": "PJSIP/trunk-0000000d",
            "ChannelStateDesc": "Up",
            "Uniqueid": "1795354157.15",
            "Linkedid": "1795354157.15",
            "CallerIDNum": "79031234567",
        },
    ]
    async with running_service(db_url) as service:
        conn = await service.pbx.connection(0)
        await conn.send(head)
        await wait_for(lambda: len(service.monitor.tracker.calls) == 1)
        service.pbx.live_channels = listing
        conn.writer.close()
        second = await service.pbx.connection(1)
        await wait_for(lambda: service.monitor.resyncs >= 2)
        assert len(service.monitor.tracker.calls) == 1  # not closed, not duplicated
        await second.send(tail)
        await wait_for(lambda: not service.monitor.tracker.calls)
        await service.monitor.writer.drain()
        page = (await service.client.get("/api/v1/calls")).json()
        assert page["total"] == 1
        (record,) = page["items"]
        assert record["final"] and not record["closed_by_resync"] and not record["partial"]
        assert record["hangup_by"] == "applicant"
        assert record["talk_seconds"] == pytest.approx(6.5, abs=0.3)  # hung up 8 s after start


async def test_asterisk_restart_mid_call_then_reconnect(db_url: str) -> None:
    body = trace_body(trace_bytes("asterisk_restart_midcall"))
    async with running_service(db_url) as service:
        conn = await service.pbx.connection(0)
        await conn.send(body)
        conn.writer.close()  # Asterisk closes the AMI connection after Shutdown
        await service.pbx.connection(1)
        await wait_for(lambda: service.monitor.clients[0].connected)
        await service.monitor.writer.drain()
        (record,) = (await service.client.get("/api/v1/calls")).json()["items"]
        assert record["final"] and record["hangup_by"] == "system"
        assert not record["closed_by_resync"]
        ready = await service.client.get("/readyz")
        assert ready.status_code == 200


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


async def test_a_restart_of_callagent_mid_call_carries_on(db_url: str) -> None:
    """Stop callagent mid-call, start it again: one complete record, not a partial one."""
    body = trace_body(trace_bytes("hold_unhold"))
    head, tail = _frames_until(body, b"Event: Hold\r\n")
    pbx = AmiServer()
    await pbx.start()
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await (await pbx.connection(0)).send(head)
            # the whole head read (both legs bridged), not just its first frame: a stop
            # after one frame would leave the record a restart restores incomplete
            await wait_for(
                lambda: any(len(c.legs) == 2 for c in service.monitor.tracker.calls.values())
            )
            await service.monitor.writer.drain()

            async def stored() -> bool:
                page = (await service.client.get("/api/v1/calls")).json()
                return page["total"] == 1 and page["items"][0]["answered_at"] is not None

            await wait_for(stored)
        pbx.live_channels = [
            {
                "Channel": "PJSIP/op1001-00000019",
                "ChannelStateDesc": "Up",
                "Uniqueid": "1795353628.30",
                "Linkedid": "1795353627.29",
            },
            {
                "Channel": "PJSIP/trunk-00000018",
                "ChannelStateDesc": "Up",
                "Uniqueid": "1795353627.29",
                "Linkedid": "1795353627.29",
            },
        ]
        async with running_service(db_url, pbx=pbx) as service:
            assert len(service.monitor.tracker.calls) == 1  # restored from the database
            (restored,) = service.monitor.tracker.calls.values()
            assert not restored.partial and len(restored.legs) == 2
            second = await pbx.connection(1)
            await wait_for(lambda: service.monitor.resyncs >= 1)
            await second.send(tail)
            await wait_for(lambda: not service.monitor.tracker.calls)
            await service.monitor.writer.drain()
            page = (await service.client.get("/api/v1/calls")).json()
            assert page["total"] == 1
            (record,) = page["items"]
            assert record["final"], record
            assert not record["partial"], record
            assert not record["closed_by_resync"], record
            assert record["hold_seconds"] == pytest.approx(3.0, abs=0.3)
            assert record["wait_seconds"] == pytest.approx(1.5, abs=0.3)
            assert record["hangup_by"] == "applicant"
    finally:
        await pbx.stop()


async def test_a_call_that_ended_while_callagent_was_stopped_is_closed(db_url: str) -> None:
    body = trace_body(trace_bytes("inbound_answered_caller_hangs_up"))
    head, _ = _frames_until(body, b"Event: HangupRequest")
    pbx = AmiServer()
    await pbx.start()
    try:
        async with running_service(db_url, pbx=pbx) as service:
            await (await pbx.connection(0)).send(head)
            await wait_for(lambda: len(service.monitor.tracker.calls) == 1)
            await service.monitor.writer.drain()
        async with running_service(db_url, pbx=pbx) as service:  # the PBX lists nothing now
            await pbx.connection(1)
            await wait_for(lambda: service.monitor.resyncs >= 1)
            await service.monitor.writer.drain()
            (record,) = (await service.client.get("/api/v1/calls")).json()["items"]
            assert record["final"] and record["closed_by_resync"]
            assert record["disposition"] == "answered"
    finally:
        await pbx.stop()
