"""Webhooks through the outbox, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callagent.sim.ami_server import trace_body
from callagent.webhooks.signing import verify
from tests.conftest import running_service, trace_bytes, wait_for
from tests.test_live_replay import play

SECRET = "a-receiver-secret-of-32-characters!"


@dataclass
class Receiver:
    """An integrator's endpoint: fails, then times out, then accepts each event."""

    script: list[str] = field(default_factory=lambda: ["fail", "hang", "ok"])
    hits: dict[str, int] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # de-duplicated by event id
    bad_signatures: int = 0
    port: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        stamp = int(request.headers["X-Callagent-Timestamp"])
        if not verify(SECRET, stamp, body, request.headers["X-Callagent-Signature"]):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event_id = request.headers["X-Callagent-Event-Id"]
        seen = self.hits.get(event_id, 0)
        self.hits[event_id] = seen + 1
        step = self.script[min(seen, len(self.script) - 1)]
        if step == "fail":
            return JSONResponse({"error": "down for maintenance"}, status_code=503)
        if step == "hang":
            await asyncio.sleep(2.0)  # longer than the sender's timeout
        payload = await request.json()
        if event_id not in {e["id"] for e in self.accepted}:
            self.accepted.append(payload)
        return JSONResponse({"ok": True})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver, port: int = 0) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started)
    receiver.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


FAST = {"webhook_timeout": 0.5, "webhook_backoff_base": 0.1, "webhook_backoff_cap": 0.3}
TRACES = ("inbound_no_answer_then_next", "inbound_abandoned", "click_to_call")


async def _subscribe(client: Any, url: str) -> None:
    made = await client.post(
        "/api/v1/webhooks", json={"url": url, "event_types": ["call.ended"], "secret": SECRET}
    )
    assert made.status_code == 201, made.text
    assert made.json()["secret"] == SECRET
    assert SECRET not in str((await client.get("/api/v1/webhooks")).json())


async def test_every_final_call_arrives_once_through_failures_and_timeouts(db_url: str) -> None:
    async with receiving(Receiver()) as receiver, running_service(db_url, **FAST) as service:
        await _subscribe(service.client, receiver.url)
        made = await service.client.post(
            "/api/v1/operators", json={"login": "op1002", "endpoints": ["PJSIP/op1002"]}
        )
        assert made.status_code == 201
        for name in TRACES:
            await play(service, trace_body(trace_bytes(name)))
        await wait_for(lambda: len(receiver.accepted) == 3, timeout=20)
        await asyncio.sleep(0.5)  # nothing more arrives
        assert receiver.bad_signatures == 0
        assert sorted(receiver.hits.values()) == [3, 3, 3]  # 503, timeout, 200
        calls = {e["data"]["linkedid"]: e["data"] for e in receiver.accepted}
        assert len(calls) == 3 and all(e["type"] == "call.ended" for e in receiver.accepted)
        assert all(c["final"] for c in calls.values())  # the final record, not a partial one
        assert calls["1795353469.4"]["operator_endpoint"] == "PJSIP/op1002"
        assert calls["1795353469.4"]["operator_login"] == "op1002"  # the user behind the phone
        assert calls["1795353469.4"]["talk_seconds"] is not None
        assert calls["1795353485.7"]["disposition"] == "abandoned"
        assert calls["c2c-1-op"]["hangup_by"] == "applicant"
        deliveries = (await service.client.get("/api/v1/webhooks/deliveries")).json()
        assert {(d["status"], d["attempts"]) for d in deliveries} == {("delivered", 3)}
        # Replaying the same traces sends nothing new: the calls were already final.
        for name in TRACES:
            await play(service, trace_body(trace_bytes(name)))
        await asyncio.sleep(0.5)
        assert len((await service.client.get("/api/v1/webhooks/deliveries")).json()) == 3


async def test_events_survive_a_restart_of_callagent(db_url: str) -> None:
    receiver = Receiver(script=["ok"])
    async with receiving(receiver):
        url = receiver.url
        port = receiver.port
    # The receiver is down while the call ends; callagent stops right after.
    async with running_service(db_url, **FAST) as service:
        await _subscribe(service.client, url)
        await play(service, trace_body(trace_bytes("hold_unhold")))
        await wait_for(
            lambda: service.app.state.webhooks.failed_attempts >= 1,
            timeout=10,  # type: ignore[attr-defined]
        )
    async with receiving(receiver, port=port), running_service(db_url, **FAST):
        await wait_for(lambda: len(receiver.accepted) == 1, timeout=20)
        assert receiver.accepted[0]["data"]["hold_seconds"] > 2.5


async def test_a_parked_delivery_can_be_sent_again(db_url: str) -> None:
    receiver = Receiver(script=["fail"])
    async with (
        receiving(receiver),
        running_service(db_url, webhook_max_attempts=2, **FAST) as service,
    ):
        await _subscribe(service.client, receiver.url)
        await play(service, trace_body(trace_bytes("inbound_abandoned")))

        async def parked() -> list[dict[str, Any]]:
            response = await service.client.get(
                "/api/v1/webhooks/deliveries", params={"status": "failed"}
            )
            return list(response.json())

        await wait_for(parked, timeout=10)
        (failed,) = await parked()
        assert failed["attempts"] == 2 and failed["last_error"] == "HTTP 503"
        receiver.script = ["ok"]
        again = await service.client.post(f"/api/v1/webhooks/deliveries/{failed['id']}/redeliver")
        assert again.status_code == 200 and again.json()["status"] == "pending"
        await wait_for(lambda: len(receiver.accepted) == 1, timeout=10)
        missing = await service.client.post("/api/v1/webhooks/deliveries/999/redeliver")
        assert missing.status_code == 404


async def test_subscriptions_are_validated(db_url: str) -> None:
    async with running_service(db_url) as service:
        bad = await service.client.post(
            "/api/v1/webhooks", json={"url": "ftp://x", "event_types": ["call.ended"]}
        )
        assert bad.status_code == 422
        bad = await service.client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["call.begun"]}
        )
        assert bad.status_code == 422 and "unknown event type" in bad.text
        made = await service.client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["call.ended"]}
        )
        assert len(made.json()["secret"]) >= 32  # generated when not given
        gone = await service.client.delete(f"/api/v1/webhooks/{made.json()['id']}")
        assert gone.json()["active"] is False


async def test_operator_state_changes_arrive_in_order(db_url: str) -> None:
    receiver = Receiver(script=["ok"])
    async with receiving(receiver), running_service(db_url, **FAST) as service:
        made = await service.client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "event_types": ["operator.state_changed"], "secret": SECRET},
        )
        assert made.status_code == 201
        user = await service.client.post(
            "/api/v1/operators", json={"login": "ivanova", "endpoints": ["PJSIP/op1001"]}
        )
        user_id = user.json()["id"]
        for body in (
            {"state": "ready"},
            {"state": "paused", "reason": "lunch"},
            {"state": "ready"},
            {"state": "offline"},
        ):
            response = await service.client.post(f"/api/v1/operators/{user_id}/state", json=body)
            assert response.status_code == 200
        await wait_for(lambda: len(receiver.accepted) == 4, timeout=15)
        assert [e["data"]["to_state"] for e in receiver.accepted] == [
            "ready",
            "paused",
            "ready",
            "offline",
        ]
        assert receiver.accepted[1]["data"]["reason"] == "lunch"
        assert all(e["type"] == "operator.state_changed" for e in receiver.accepted)
        assert len({e["id"] for e in receiver.accepted}) == 4
