"""The simulator answers AMI Originate like the recorded Asterisk traces."""

from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.sim.ami_server import AmiServer, trace_body
from callagent.sim.demo import TRACES as PACKAGED
from callagent.sim.outbound import TRACE_FILES, OutboundPbx, outcome_plan
from tests.conftest import TRACES, trace_bytes

_UNIQUEID = re.compile(r"\b\d{10}\.\d+\b")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_SKIPPED = ("Timestamp", "ActionID")


class Recording(OutboundPbx):
    """The simulator, keeping every byte of events it sent."""

    sent = b""

    async def send(self, data: bytes) -> None:
        self.sent += data
        await super().send(data)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def events(data: bytes) -> list[AmiMessage]:
    items = AmiParser(expect_banner=False).feed(data)
    return [
        i
        for i in items
        if isinstance(i, AmiMessage) and i.event and i.event not in ("FullyBooted", "Shutdown")
    ]


def normalise(value: str, ours: tuple[str, ...]) -> str:
    for mine in ours:
        value = value.replace(mine, "<ID>")
    value = _UUID.sub("<BR>", value)
    value = _UNIQUEID.sub("<ID>", value)
    return _CHANNEL_SUFFIX.sub("-<CH>", value)


async def _client(server: AmiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await reader.readline()  # banner
    writer.write(b"Action: Login\r\nActionID: l\r\nUsername: callagent\r\n")
    writer.write(f"Secret: {server.secret}\r\n\r\n".encode())
    await writer.drain()
    await server.connection(0)
    return reader, writer


def _recorded_originate(trace: str, action_id: str, channel_id: str) -> bytes:
    """The Originate sent while recording ``trace`` (its .json sidecar), with our ids."""
    sidecar = json.loads((TRACES / f"{trace}.json").read_text())
    (sent,) = [a for a in sidecar["actions_sent"] if "Action: Originate" in a]
    lines = [
        line for line in sent.split("|")[1:] if not line.startswith(("ActionID:", "ChannelId:"))
    ]
    lines += [f"ActionID: {action_id}", f"ChannelId: {channel_id}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


CASES = {
    "answered:1": "outbound_notify_answered",
    "answered:2": "outbound_notify_then_operator",
    "busy": "outbound_notify_busy",
    "no_answer": "outbound_notify_no_answer",
    "click_to_call": "click_to_call",
}


@pytest.mark.parametrize("outcome", sorted(CASES))
async def test_originate_replays_the_recorded_trace(outcome: str) -> None:
    server = AmiServer()
    await server.start()
    sim = Recording(
        server,
        TRACES,
        outcome=lambda number, attempt: outcome,
        agi_port=_closed_port(),
        speed=50.0,
    )
    try:
        _reader, writer = await _client(server)
        writer.write(_recorded_originate(CASES[outcome], "fid-1", "fid-chan-1"))
        await writer.drain()
        await asyncio.sleep(0.05)
        await sim.wait_idle()
        writer.close()
    finally:
        await server.stop()
    ours = events(sim.sent)
    real = events(trace_body(trace_bytes(CASES[outcome])))
    assert [m.event for m in ours] == [m.event for m in real]
    for mine, theirs in zip(ours, real, strict=True):
        assert list(mine.headers) == list(theirs.headers), mine.event
        for key, value in theirs.headers.items():
            if key in _SKIPPED:
                continue
            assert normalise(mine[key], ("fid-chan-1",)) == normalise(value, ("c2c-1-op",)), (
                mine.event,
                key,
            )
    # the ids are the Originate's: ChannelId is the dialled channel, ActionID answers it
    first = next(m for m in ours if m.event == "Newchannel")
    assert first["Uniqueid"] == first["Linkedid"] == "fid-chan-1"
    (response,) = [m for m in ours if m.event == "OriginateResponse"]
    assert response["ActionID"] == "fid-1"
    assert {m["Timestamp"] for m in ours if "Timestamp" in m} != {
        m["Timestamp"] for m in real if "Timestamp" in m
    }


async def test_derived_failures_and_refusals() -> None:
    server = AmiServer()
    await server.start()
    plan = {"+79161234567": ["congestion", "failed", "refused", "busy"]}
    sim = Recording(server, TRACES, outcome=outcome_plan(plan), speed=50.0)
    try:
        reader, writer = await _client(server)
        for n in range(4):
            writer.write(_recorded_originate("outbound_notify_busy", f"d-{n}", f"d-chan-{n}"))
            await writer.drain()
            await asyncio.sleep(0.05)
            await sim.wait_idle()
        await asyncio.sleep(0.1)
        received = AmiParser(expect_banner=False).feed(await reader.read(1 << 20))
        writer.close()
    finally:
        await server.stop()
    responses = {
        m.action_id: (m.response, m.get("Message"))
        for m in received
        if isinstance(m, AmiMessage) and m.response and not m.event
    }
    assert responses["d-0"] == ("Success", "Originate successfully queued")
    assert responses["d-2"] == ("Error", "Originate failed")  # refused: no call at all
    hangups = {
        m["Uniqueid"]: (m["Cause"], m.get("TechCause"))
        for m in events(sim.sent)
        if m.event == "Hangup" and m["Channel"].startswith("PJSIP/")
    }
    assert hangups == {
        "d-chan-0": ("34", "503"),
        "d-chan-1": ("38", "500"),
        "d-chan-3": ("17", "486"),
    }
    results = [m for m in events(sim.sent) if m.event == "OriginateResponse"]
    assert [(m["Response"], m["Reason"], m["Uniqueid"]) for m in results] == [
        ("Failure", "0", "<unknown>")
    ] * 3  # what real Asterisk says for 486 and 503 alike
    assert sim.dialled["79161234567"] == 4


def test_outcome_plans() -> None:
    choose = outcome_plan({"+7916": ["busy", "answered:9"], "7495": "no_answer"}, default="busy")
    assert [choose("7916", n) for n in (1, 2, 3)] == ["busy", "answered:9", "answered:9"]
    assert choose("+7495", 1) == "no_answer" and choose("7000", 1) == "busy"
    with pytest.raises(ValueError, match="unknown simulated outcome"):
        outcome_plan({"1": "maybe"})


def test_packaged_outbound_traces_are_the_recorded_ones() -> None:
    for trace in TRACE_FILES.values():
        assert (PACKAGED / f"{trace}.ami").read_bytes() == trace_bytes(trace)


async def test_click_to_call_against_the_simulators_originate(db_url: str) -> None:
    """Asterisk answers an async Originate "successfully queued" (then the events)."""
    from tests.conftest import running_service, wait_for
    from tests.test_originate import _add_operator

    async with running_service(db_url, campaign_scheduler="off") as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        op_id = _add_operator(service, "ivanova", "PJSIP/op1001")
        sim = OutboundPbx(service.pbx, TRACES, agi_port=_closed_port(), speed=20.0)
        placed = await service.client.post(
            "/api/v1/calls/originate", json={"number": "+7 916 123-45-67", "operator_id": op_id}
        )
        assert placed.status_code == 202, placed.text
        call_id = placed.json()["call_id"]

        async def final() -> bool:
            call = (await service.client.get(f"/api/v1/calls/{call_id}")).json()
            return bool(call["final"])

        await wait_for(final)
        done = (await service.client.get(f"/api/v1/calls/{call_id}")).json()
        assert done["disposition"] == "answered" and done["applicant_number"] == "79161234567"
        assert sim.dialled["79161234567"] == 1
