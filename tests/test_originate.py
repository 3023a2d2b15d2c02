"""Click-to-call over real AMI: only a validated number reaches Asterisk."""

from __future__ import annotations

import httpx

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.sim.ami_server import trace_body
from tests.conftest import make_token, running_service, trace_bytes, wait_for


def _add_operator(service: object, login: str, endpoint: str) -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(
            session, login=login, role=Role.OPERATOR, password="op-password", endpoints=[endpoint]
        )
        session.commit()
        return user.id


async def test_click_to_call_returns_the_call_and_the_tracker_completes_it(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        op_id = _add_operator(service, "ivanova", "PJSIP/op1001")
        placed = await service.client.post(
            "/api/v1/calls/originate", json={"number": "+7 (916) 123-45-67", "operator_id": op_id}
        )
        assert placed.status_code == 202, placed.text
        call_id, linkedid = placed.json()["call_id"], placed.json()["linkedid"]
        (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
        assert action["Channel"] == "PJSIP/op1001"
        assert action["Context"] == "from-operators"
        assert action["Exten"] == "79161234567"
        assert action["ChannelId"] == linkedid
        assert action.getall("Variable") == ["CALLAGENT_ORIGIN=click_to_call"]
        early = (await service.client.get(f"/api/v1/calls/{call_id}")).json()
        assert early["disposition"] == "in_progress" and not early["final"]
        # Asterisk's events for that Originate: the recorded click-to-call, with our ids.
        body = trace_body(trace_bytes("click_to_call"))
        body = body.replace(b"c2c-1-op", linkedid.encode()).replace(
            b"ActionID: c2c-1\r\n", f"ActionID: {action.action_id}\r\n".encode()
        )
        await (await service.pbx.connection(0)).send(body)

        async def final() -> bool:
            call = (await service.client.get(f"/api/v1/calls/{call_id}")).json()
            return bool(call["final"])

        await wait_for(final)
        done = (await service.client.get(f"/api/v1/calls/{call_id}")).json()
        assert done["final"] and done["disposition"] == "answered"
        assert done["operator_endpoint"] == "PJSIP/op1001"
        assert done["applicant_number"] == "79161234567"
        assert done["hangup_by"] == "applicant"
        assert (await service.client.get("/api/v1/calls")).json()["total"] == 1  # one record


async def test_originate_refuses_anything_but_a_number(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        op_id = _add_operator(service, "ivanova", "PJSIP/op1001")
        post = service.client.post
        for number in ("100@evil-context", "7916;Dial(x)", "12", "7916123456712345678"):
            bad = await post(
                "/api/v1/calls/originate", json={"number": number, "operator_id": op_id}
            )
            assert bad.status_code == 422, number
            assert "is not a phone number" in bad.json()["detail"]
        sneaky = await post(
            "/api/v1/calls/originate",
            json={"number": "79161234567", "operator_id": op_id, "context": "default"},
        )
        assert sneaky.status_code == 422  # no field but number, operator and node
        token_only = await post("/api/v1/calls/originate", json={"number": "79161234567"})
        assert token_only.status_code == 422 and "operator_id is required" in token_only.text
        missing = await post(
            "/api/v1/calls/originate", json={"number": "79161234567", "operator_id": 99}
        )
        assert missing.status_code == 404
        assert not [a for a in service.pbx.actions if a.action == "Originate"]


async def test_operators_call_from_their_own_phone_and_are_rate_limited(db_url: str) -> None:
    async with running_service(db_url, originate_per_minute=2) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        own = _add_operator(service, "ivanova", "PJSIP/op1001")
        other = _add_operator(service, "petrova", "PJSIP/op1002")
        async with httpx.AsyncClient(base_url=service.base_url) as browser:
            login = await browser.post(
                "/api/v1/auth/login", json={"login": "ivanova", "password": "op-password"}
            )
            csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
            theirs = await browser.post(
                "/api/v1/calls/originate",
                json={"number": "79161234567", "operator_id": other},
                headers=csrf,
            )
            assert theirs.status_code == 403
            for _ in range(2):
                ok = await browser.post(
                    "/api/v1/calls/originate", json={"number": "79161234567"}, headers=csrf
                )
                assert ok.status_code == 202, ok.text
            limited = await browser.post(
                "/api/v1/calls/originate", json={"number": "79161234567"}, headers=csrf
            )
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert own != other
        token = make_token(service.app, frozenset({Scope.CALLS_READ}), "reader")
        denied = await service.client.post(
            "/api/v1/calls/originate",
            json={"number": "79161234567", "operator_id": own},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert denied.status_code == 403


async def test_a_refused_originate_closes_its_record(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        op_id = _add_operator(service, "ivanova", "PJSIP/op1001")
        service.pbx.silent_actions = {"originate"}
        conn = await service.pbx.connection(0)
        request = service.client.post(
            "/api/v1/calls/originate", json={"number": "79161234567", "operator_id": op_id}
        )
        import asyncio

        pending = asyncio.create_task(request)
        await wait_for(lambda: any(a.action == "Originate" for a in conn.actions))
        conn.writer.close()  # the PBX goes away before answering
        response = await pending
        assert response.status_code == 502 and "did not accept" in response.json()["detail"]
        (call,) = (await service.client.get("/api/v1/calls")).json()["items"]
        assert call["final"] and call["disposition"] == "failed"
        await service.pbx.connection(1)
        await asyncio.sleep(0.3)
        assert sum(a.action == "Originate" for a in service.pbx.actions) == 1  # never re-sent
