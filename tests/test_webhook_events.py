"""The wrap-up, question and campaign webhooks against a real HTTP receiver on 127.0.0.1.

One flow through the running service: an operator's call ends, the wrap-up is submitted
over the API (a non-standard question), a supervisor answers the question, a campaign
call is placed by the dialer against the PBX simulator. Each event arrives once, signed
as the README says, with the final data; a subscription gets only the types it asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse

from callagent.auth.scopes import Role
from callagent.db.models import WebhookDelivery
from tests.conftest import running_service, wait_for
from tests.test_dialer import Clock, add_entries, dial, make_campaign, simulated_outbound
from tests.test_routing import add_operators, set_ready
from tests.test_webhooks import receiving
from tests.test_wrapups_api import add_user, browser, call_ends_with, user_state

NEW_EVENTS = ["wrapup.submitted", "question.answered", "notification.result"]
SECRETS = {
    "events": "receiver-secret-of-the-crm-0123456789",
    "answers": "receiver-secret-of-the-kb-0123456789",
    "calls": "receiver-secret-of-the-pbx-report-0123",
}
FAST = {"webhook_timeout": 1.0, "webhook_backoff_base": 0.1, "webhook_backoff_cap": 0.3}
QUESTION = "Можно ли получить паспорт по временной регистрации?"


def valid(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """The README's receiver check, as an integrator would write it."""
    stamp = int(headers["X-Callagent-Timestamp"])
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - stamp) < 300
    return fresh and hmac.compare_digest("v1=" + mac, headers["X-Callagent-Signature"])


@dataclass
class Post:
    inbox: str  # the ?to= of the URL it was posted to
    headers: Headers  # case-insensitive, as a web framework gives them
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    """Accepts everything and keeps every POST as it came (raw body, headers).

    Served by test_webhooks' ``receiving`` (POST /hooks); each subscription's URL names
    its inbox in the query string (``/hooks?to=events``).
    """

    posts: list[Post] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        self.posts.append(Post(request.query_params["to"], request.headers, await request.body()))
        return JSONResponse({"ok": True})

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?to={name}"

    def at(self, name: str) -> list[Post]:
        return [p for p in self.posts if p.inbox == name]


async def test_new_events_arrive_once_signed_with_their_final_data(db_url: str) -> None:
    async with (
        receiving(Receiver()) as receiver,
        running_service(db_url, campaign_scheduler="off", **FAST) as service,
    ):
        client = service.client
        for name, types in (
            ("events", NEW_EVENTS),
            ("answers", ["question.answered"]),
            ("calls", ["call.ended"]),
        ):
            made = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url(name), "event_types": types, "secret": SECRETS[name]},
            )
            assert made.status_code == 201, made.text
        await wait_for(lambda: service.monitor.clients[0].connected)
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        lead = add_user(service, "lead", role=Role.SUPERVISOR)

        # 1. The call ends, the operator submits the wrap-up (a non-standard question).
        await call_ends_with(service, op)

        async def recorded() -> bool:
            calls = (await client.get("/api/v1/calls", params={"final": True})).json()
            return bool(calls["total"] == 1)

        await wait_for(recorded)
        call_id = (await client.get("/api/v1/calls")).json()["items"][0]["id"]
        ivanova = await browser(service, "ivanova")
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        form = {
            "category": "non_standard_question",
            "fields": {
                "service": "passport",
                "question": QUESTION,
                "applicant_name": "Сидоров Пётр",
                "applicant_phone": "+7 916 123-45-67",
                "answer_channel": "call_back",
                "contact_phone": "+7 916 765-43-21",
            },
        }
        url = f"/api/v1/wrapups/{pending['id']}/submit"
        submitted = await ivanova.post(url, json=form)
        assert submitted.status_code == 201, submitted.text
        assert (await ivanova.post(url, json=form)).status_code == 200  # the same again: no-op
        assert user_state(service, op) == "ready"

        # 2. The supervisor answers the question it opened, naming the answer's source.
        supervisor = await browser(service, "lead")
        (question,) = (await supervisor.get("/api/v1/questions")).json()["items"]
        answer = {
            "status": "answered",
            "answer": "Да, по месту пребывания; срок — 30 дней.",
            "answer_source_kind": "regulation",
            "answer_source_ref": "Административный регламент МВД, п. 32",
        }
        answered = await supervisor.patch(f"/api/v1/questions/{question['id']}", json=answer)
        assert answered.status_code == 200, answered.text
        # A correction is reported again, as revision 2 (a new event, not a repeat).
        corrected = {**form, "fields": {**form["fields"], "service": "foreign_passport"}}
        patched = await ivanova.patch(f"/api/v1/wrapups/{pending['id']}", json=corrected)
        assert patched.status_code == 200 and patched.json()["revision"] == 2, patched.text

        # 3. A campaign call: the dialer against the simulator, the applicant presses 1.
        campaign_id = make_campaign(service, name="docs-ready")
        (entry_id,) = add_entries(service, campaign_id, ["+79161000001"])
        async with simulated_outbound(service, {"+79161000001": "answered:1"}):
            summary, _ = await dial(service, Clock(), ring_timeout=10.0)
        assert summary.results == {"answered": 1}

        await wait_for(lambda: len(receiver.at("events")) >= 4 and receiver.at("answers"), 20)
        await wait_for(lambda: len(receiver.at("calls")) >= 2, 20)  # inbound + campaign call
        await asyncio.sleep(0.6)  # several back-off periods: nothing more comes
        await ivanova.aclose()
        await supervisor.aclose()

    for post in receiver.posts:
        assert valid(SECRETS[post.inbox], post.headers, post.body), post.inbox
        assert not valid(
            SECRETS["events" if post.inbox != "events" else "calls"], post.headers, post.body
        )
        event = post.event
        assert post.headers["x-callagent-event"] == event["type"]
        assert post.headers["x-callagent-event-id"] == event["id"]
    # Once each: no event id twice, and only the subscribed types.
    events = receiver.at("events")
    assert len({p.event["id"] for p in events}) == len(events) == 4
    by_type = {p.event["type"]: p.event["data"] for p in events}  # the last of each type
    assert sorted(by_type) == sorted(NEW_EVENTS)
    first, final = [p.event["data"] for p in events if p.event["type"] == "wrapup.submitted"]
    assert (first["revision"], first["fields"]["service"]) == (1, "passport")
    assert (final["revision"], final["fields"]["service"]) == (2, "foreign_passport")
    assert [h["action"] for h in final["history"]] == ["submitted", "corrected"]
    (kb,) = receiver.at("answers")
    assert kb.event["type"] == "question.answered"
    assert kb.event["id"] == next(
        p.event["id"] for p in events if p.event["type"] == kb.event["type"]
    )
    assert {p.event["type"] for p in receiver.at("calls")} == {"call.ended"}

    wrapup = first
    assert (wrapup["id"], wrapup["status"]) == (pending["id"], "submitted")
    assert wrapup["category"] == "non_standard_question"
    assert wrapup["operator_id"] == op and wrapup["submitted_by"] == op
    assert wrapup["call_id"] == call_id and wrapup["call_key"] == "pbx1:1795353447.0"
    assert wrapup["fields"]["question"] == QUESTION
    assert wrapup["fields"]["applicant_name"] == "Сидоров Пётр"
    assert wrapup["fields"]["answer_channel"] == "call_back"
    assert "9161234567" in wrapup["fields"]["applicant_phone"]
    assert wrapup["submitted_at"] is not None and wrapup["question_id"] is None
    assert [h["action"] for h in wrapup["history"]] == ["submitted"]

    question_data = by_type["question.answered"]
    assert question_data == kb.event["data"]
    assert question_data["id"] == question["id"] and question_data["wrapup_id"] == pending["id"]
    assert question_data["status"] == "answered" and question_data["text"] == QUESTION
    assert question_data["answer"] == answer["answer"]
    assert question_data["answer_source_kind"] == "regulation"
    assert question_data["answer_source_ref"] == answer["answer_source_ref"]
    assert question_data["answered_by"] == lead and question_data["answered_at"] is not None

    result = by_type["notification.result"]
    assert (result["campaign_id"], result["campaign"]) == (campaign_id, "docs-ready")
    assert (result["entry_id"], result["case_number"]) == (entry_id, "C-0000")
    assert (result["result"], result["digit"]) == ("answered", "1")
    assert (result["status"], result["last_result"], result["attempts"]) == (
        "notified",
        "answered",
        1,
    )
    assert result["next_attempt_at"] is None
    raw = next(p.body for p in events if p.event["type"] == "notification.result")
    assert b"9161000001" not in raw and b"Applicant" not in raw  # no phone, no name


async def test_a_corrected_answer_is_reported_again(db_url: str) -> None:
    async with running_service(db_url) as service:
        made = await service.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["question.answered"]},
        )
        assert made.status_code == 201
        add_user(service, "lead", role=Role.SUPERVISOR)
        lead = await browser(service, "lead")
        question = (await lead.post("/api/v1/questions", json={"text": "Срок?"})).json()
        url = f"/api/v1/questions/{question['id']}"
        first = await lead.patch(url, json={"status": "answered", "answer": "10 дней."})
        assert first.status_code == 200, first.text
        fixed = await lead.patch(url, json={"answer": "30 дней.", "answer_source_kind": "website"})
        assert fixed.status_code == 200 and fixed.json()["answer"] == "30 дней.", fixed.text
        await lead.aclose()
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            answers = session.scalars(
                select(WebhookDelivery.payload)
                .where(WebhookDelivery.event_type == "question.answered")
                .order_by(WebhookDelivery.id)
            ).all()
        assert [a["data"]["answer"] for a in answers] == ["10 дней.", "30 дней."]


async def test_an_operator_mode_result_arrives_after_the_operators_wrapup(db_url: str) -> None:
    async with (
        receiving(Receiver()) as receiver,
        running_service(db_url, campaign_scheduler="off", **FAST) as service,
    ):
        made = await service.client.post(
            "/api/v1/webhooks",
            json={
                "url": receiver.url("events"),
                "event_types": ["notification.result"],
                "secret": SECRETS["events"],
            },
        )
        assert made.status_code == 201
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
        campaign_id = make_campaign(service, name="docs-op", mode="operator")
        (entry_id,) = add_entries(service, campaign_id, ["+79161110001"])
        async with simulated_outbound(service, {}):
            summary, _ = await dial(service, Clock())
        assert summary.results == {"answered": 1}

        async def pending() -> list[dict[str, Any]]:
            response = await service.client.get(
                "/api/v1/wrapups/pending", params={"operator_id": op}
            )
            return list(response.json())

        await wait_for(pending)
        (wrapup,) = await pending()
        submitted = await service.client.post(
            f"/api/v1/wrapups/{wrapup['id']}/submit",
            json={
                "category": "document_notification",
                "fields": {"result": "notified", "comment": "придёт в понедельник"},
                "operator_id": op,
            },
        )
        assert submitted.status_code == 201, submitted.text
        await wait_for(lambda: len(receiver.posts) >= 2, 20)
        await asyncio.sleep(0.5)
    assert all(valid(SECRETS["events"], p.headers, p.body) for p in receiver.posts)
    call, final = [p.event["data"] for p in receiver.posts]  # in order per entry
    assert (call["entry_id"], call["result"], call["status"]) == (
        entry_id,
        "answered",
        "in_progress",
    )
    assert (final["entry_id"], final["result"], final["status"]) == (
        entry_id,
        "operator_wrapup",
        "notified",
    )
    assert final["last_result"] == "operator_notified"
    assert final["operator_comment"] == "придёт в понедельник"
    assert all(b"9161110001" not in p.body for p in receiver.posts)  # no phone
