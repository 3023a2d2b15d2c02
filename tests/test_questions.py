"""The register of non-standard questions over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from callagent.auth.scopes import Role, Scope
from callagent.db.models import WebhookDelivery
from callagent.db.wrapup_models import Question
from callagent.sim.ami_server import trace_body
from tests.conftest import make_token, running_service, trace_bytes, wait_for
from tests.test_wrapups_api import add_user, browser, call_ends_with, user_state


async def test_lifecycle_permissions_filters_and_search(db_url: str) -> None:
    async with running_service(db_url) as service:
        await service.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["question.answered"]},
        )
        add_user(service, "ivanova", endpoint="PJSIP/op1001")
        add_user(service, "petrov", endpoint="PJSIP/op1002")
        add_user(service, "lead", role=Role.SUPERVISOR)
        ivanova, petrov, lead = [await browser(service, n) for n in ("ivanova", "petrov", "lead")]
        moscow = timezone(timedelta(hours=3))
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).astimezone(moscow)
        made = await ivanova.post(
            "/api/v1/questions",
            json={
                "text": "Можно ли получить ПАСПОРТ по временной регистрации?",
                "applicant_name": "Сидоров Пётр",
                "applicant_phone": "+7 916 123-45-67",
                "answer_channel": "call_back",
                "preferred_time": tomorrow.isoformat(),
            },
        )
        assert made.status_code == 201, made.text
        first = made.json()
        assert first["status"] == "open" and first["contact"] == "79161234567"
        assert first["due_at"] == tomorrow.astimezone(UTC).isoformat().replace("+00:00", "Z")
        second = (
            await petrov.post(
                "/api/v1/questions",
                json={
                    "text": "How long is a SNILS made?",
                    "answer_channel": "email",
                    "contact": "a@example.org",
                },
            )
        ).json()
        bad = await petrov.post(
            "/api/v1/questions", json={"text": "x", "answer_channel": "email", "contact": "none"}
        )
        assert bad.status_code == 422 and "e-mail" in bad.json()["detail"]
        bad_phone = await petrov.post(
            "/api/v1/questions", json={"text": "x", "applicant_phone": "call me"}
        )
        assert bad_phone.status_code == 422

        url = f"/api/v1/questions/{first['id']}"
        # operators see their own only while it is not answered
        assert (await petrov.get(url)).status_code == 403
        assert [q["id"] for q in (await petrov.get("/api/v1/questions")).json()["items"]] == [
            second["id"]
        ]
        assert (await petrov.patch(url, json={"status": "escalated"})).status_code == 403
        # transitions are enforced
        jump = await ivanova.patch(url, json={"status": "informed"})
        assert jump.status_code == 409 and "allowed: escalated, answered, closed" in jump.text
        escalated = await ivanova.patch(url, json={"status": "escalated"})
        assert escalated.json()["status"] == "escalated"
        assert escalated.json()["escalated_at"] is not None
        answer = {
            "status": "answered",
            "answer": "Да, паспорт выдают по месту пребывания; срок — 30 дней.",
            "answer_source_kind": "regulation",
            "answer_source_ref": "Административный регламент МВД, п. 32",
        }
        assert (await ivanova.patch(url, json=answer)).status_code == 403  # escalated: supervisor
        no_text = await lead.patch(url, json={"status": "answered"})
        assert no_text.status_code == 422 and "needs 'answer'" in no_text.text
        answered = await lead.patch(url, json=answer)
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["status"] == "answered" and body["answer_source_kind"] == "regulation"
        assert body["answered_by"] is not None and body["answered_at"] is not None
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            (event,) = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_type == "question.answered")
            ).all()
            assert event.payload["data"]["id"] == first["id"]
            assert event.payload["data"]["answer_source_ref"].startswith("Административный")

        # answered: in the knowledge base, searchable by everyone, case-insensitively
        found = (await petrov.get("/api/v1/questions", params={"q": "паспорт"})).json()
        assert [q["id"] for q in found["items"]] == [first["id"]]
        by_answer = (await petrov.get("/api/v1/questions", params={"q": "30 ДНЕЙ"})).json()
        assert [q["id"] for q in by_answer["items"]] == [first["id"]]
        wild = (await petrov.get("/api/v1/questions", params={"q": "%"})).json()
        assert wild["items"] == []  # LIKE wildcards are taken literally
        # due: the preferred time, else at once; the soonest first
        after = (tomorrow + timedelta(hours=1)).isoformat()
        due = await lead.get("/api/v1/questions", params={"due_before": after})
        assert [q["id"] for q in due.json()["items"]] == [second["id"], first["id"]]
        before = (tomorrow - timedelta(hours=1)).isoformat()
        earlier = await lead.get("/api/v1/questions", params={"due_before": before})
        assert [q["id"] for q in earlier.json()["items"]] == [second["id"]]
        assert (await lead.get("/api/v1/questions", params={"status": "open"})).json()["total"] == 1
        operator_id = first["operator_id"]
        mine = (await lead.get("/api/v1/questions", params={"operator_id": operator_id})).json()
        assert [q["id"] for q in mine["items"]] == [first["id"]]

        # the call back is anybody's now; informed, closed, then nothing changes
        edit = await petrov.patch(url, json={"text": "mine now"})
        assert edit.status_code == 403
        informed = await petrov.patch(url, json={"status": "informed"})
        assert informed.json()["status"] == "informed"
        closed = await ivanova.patch(url, json={"status": "closed"})
        assert closed.json()["closed_at"] is not None
        assert (await lead.patch(url, json={"text": "changed"})).status_code == 409
        assert (await lead.patch(url, json={"status": "open"})).status_code == 409

        # an integrator without PII sees masked applicants
        token = make_token(service.app, frozenset({Scope.QUESTIONS_READ}), "kb")
        masked = (
            await service.client.get(url, headers={"Authorization": f"Bearer {token}"})
        ).json()
        assert masked["applicant_name"] == "С. П." and "79161234567" not in str(masked)
        assert (await service.client.get("/api/v1/questions/999999")).status_code == 404
        for client in (ivanova, petrov, lead):
            await client.aclose()


async def test_a_wrapup_opens_a_question_and_the_call_back_is_wrapped_up(db_url: str) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        add_user(service, "lead", role=Role.SUPERVISOR)
        await call_ends_with(service, op)
        ivanova = await browser(service, "ivanova")
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        fields = {
            "question": "Нужна ли доверенность для получения чужих документов?",
            "applicant_name": "Сидоров Пётр",
            "answer_channel": "call_back",
            "contact_phone": "8 916 123-45-67",
            "preferred_time": "2026-11-24T10:00",
        }
        submitted = await ivanova.post(
            f"/api/v1/wrapups/{pending['id']}/submit",
            json={"category": "non_standard_question", "fields": fields},
        )
        assert submitted.status_code == 201, submitted.text
        assert user_state(service, op) == "ready"
        (question,) = (await ivanova.get("/api/v1/questions")).json()["items"]
        assert question["wrapup_id"] == pending["id"]
        assert question["call_key"] == "pbx1:1795353447.0"
        assert question["applicant_phone"] == "79031234567"  # the caller's number
        assert question["contact"] == "89161234567"
        assert question["preferred_time"] == "2026-11-24T07:00:00Z"  # 10:00 in Moscow
        lead = await browser(service, "lead")
        url = f"/api/v1/questions/{question['id']}"
        answered = await lead.patch(
            url, json={"status": "answered", "answer": "Да, нотариальная доверенность."}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["answer_source_kind"] == "supervisor"  # the supervisor's own

        # call back: the operator's phone first, then the applicant's contact number
        placed = await ivanova.post(f"{url}/callback", json={})
        assert placed.status_code == 202, placed.text
        callback = placed.json()
        assert callback["question"]["callback_call_id"] == callback["call_id"]
        (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
        assert action["Channel"] == "PJSIP/op1001" and action["Exten"] == "89161234567"
        linkedid = callback["linkedid"]
        body = trace_body(trace_bytes("click_to_call"))
        body = body.replace(b"c2c-1-op", linkedid.encode()).replace(
            b"ActionID: c2c-1\r\n", f"ActionID: {action.action_id}\r\n".encode()
        )
        await (await service.pbx.connection(0)).send(body)
        await wait_for(lambda: user_state(service, op) == "wrap_up")
        (follow_up,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        assert follow_up["category_hint"] == "repeat_consultation"
        assert follow_up["question_id"] == question["id"]
        assert follow_up["call_id"] == callback["call_id"]
        result = await ivanova.post(
            f"/api/v1/calls/{callback['call_id']}/wrapup",
            json={"category": "repeat_consultation", "fields": {"result": "answered"}},
        )
        assert result.status_code == 201, result.text
        assert (await ivanova.get(url)).json()["status"] == "informed"
        assert user_state(service, op) == "ready"
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            assert session.scalar(select(Question.status)) == "informed"
        await ivanova.aclose()
        await lead.aclose()
