"""Every real trace, byte for byte over TCP to the live listener, into SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from callagent.db.session import make_engine, make_sessionmaker
from callagent.db.store import CallStore
from callagent.replay import replay_bytes
from callagent.sim.ami_server import trace_body
from tests.conftest import ALL_TRACES, RunningService, running_service, trace_bytes, wait_for
from tests.trace_expectations import check_records

_TIME_FIELDS = ("started_at", "queue_entered_at", "first_ring_at", "answered_at", "ended_at")


def _epoch(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def as_epoch(record: dict[str, Any]) -> dict[str, Any]:
    """API JSON with times turned back into epoch seconds, as the expectations use."""
    out = dict(record)
    for field in _TIME_FIELDS:
        out[field] = _epoch(out[field])
    out["legs"] = [
        {**leg, **{f: _epoch(leg[f]) for f in ("created_at", "answered_at", "ended_at")}}
        for leg in record["legs"]
    ]
    out["attempts"] = [
        {**a, "rang_from": _epoch(a["rang_from"]), "rang_to": _epoch(a["rang_to"])}
        for a in record["attempts"]
    ]
    return out


async def fetch_records(service: RunningService) -> list[dict[str, Any]]:
    page = (await service.client.get("/api/v1/calls", params={"limit": 500})).json()
    details = []
    for item in page["items"]:
        response = await service.client.get(f"/api/v1/calls/{item['id']}")
        assert response.status_code == 200
        details.append(response.json())
    assert page["total"] == len(details)
    return details


async def play(service: RunningService, body: bytes, chunk: int = 1460) -> None:
    """Send trace bytes to the connected listener and wait until they are stored."""
    conn = await service.pbx.connection(0)
    client = service.monitor.clients[0]
    before = client.events_received
    events = body.count(b"\r\nEvent: ") + body.startswith(b"Event: ")
    await conn.send(body, chunk=chunk)
    await wait_for(lambda: client.events_received >= before + events)
    await service.monitor.writer.drain()


@pytest.mark.parametrize("name", ALL_TRACES)
async def test_trace_over_tcp_into_the_database(name: str, db_url: str) -> None:
    body = trace_body(trace_bytes(name))
    async with running_service(db_url) as service:
        await play(service, body)
        first = await fetch_records(service)
        check_records(name, [as_epoch(r) for r in first])
        assert service.monitor.clients[0].events_malformed == 0
        # The same bytes again, on the same connection: nothing changes.
        await play(service, body, chunk=4096)
        assert await fetch_records(service) == first
    # And once more through a fresh tracker into the same database (callagent replay).
    engine = make_engine(db_url)
    try:
        await replay_bytes(trace_bytes(name), CallStore(make_sessionmaker(engine)))
    finally:
        engine.dispose()
    async with running_service(db_url) as service:
        assert await fetch_records(service) == first


async def test_devices_follow_registration(db_url: str) -> None:
    async with running_service(db_url) as service:
        await play(service, trace_body(trace_bytes("operator_phone_unreachable")))
        devices = (await service.client.get("/api/v1/devices")).json()
        op1003 = next(d for d in devices if d["device"] == "PJSIP/op1003")
        assert op1003["state"] == "UNAVAILABLE"
        assert op1003["contact_status"] == "Removed"
        assert op1003["registered"] is False
        assert op1003["reachable"] is False
        assert not any(d["device"].startswith("Queue:") for d in devices)
