"""The complaints register over real HTTP on SQLite and PostgreSQL: a wrap-up of category
complaint registers one with its call linked, who sees and may change what, masking and
audit, the filters (status, owner, due, period, text), the causes report, and the
``callagent complaints summary`` command with its webhook once a day."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from callagent.auth.scopes import Role, Scope
from callagent.complaints.models import Complaint
from callagent.db.models import AuditEntry, WebhookDelivery
from tests.conftest import make_token, running_service
from tests.test_wrapups_api import CALL_KEY, add_user, browser, call_ends_with

COMPLAINT_WRAPUP = {
    "category": "complaint",
    "fields": {
        "subject": ["waiting_time", "staff"],
        "text": "Ждал ответа 40 минут",
        "wants_answer": True,
        "contact_phone": "+7 916 765-43-21",
    },
}
BY_HAND = {
    "subject": "В офисе на Ленина нагрубили",
    "cause": "staff",
    "office": "МФЦ Ленина",
    "channel": "letter",
    "applicant_name": "Сидоров Пётр Ильич",
    "applicant_phone": "+7 916 123-45-67",
}


async def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command as cron runs it: a process of its own (off the event loop)."""
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )


async def test_wrapup_registers_and_roles_move_it_on(db_url: str) -> None:
    async with running_service(db_url) as service:
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001", group="north")
        add_user(service, "petrov", endpoint="PJSIP/op1002", group="south")
        lead = add_user(service, "lead", role=Role.SUPERVISOR, group="north")
        add_user(service, "southlead", role=Role.SUPERVISOR, group="south")
        await call_ends_with(service, op)
        ivanova = await browser(service, "ivanova")
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        done = await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit", json=COMPLAINT_WRAPUP)
        assert done.status_code == 201, done.text
        # a correction of the same wrap-up does not register it twice
        corrected = {**COMPLAINT_WRAPUP, "fields": {**COMPLAINT_WRAPUP["fields"], "text": "40 мин"}}
        fixed = await ivanova.patch(f"/api/v1/wrapups/{pending['id']}", json=corrected)
        assert fixed.status_code == 200, fixed.text
        mine = (await ivanova.get("/api/v1/complaints")).json()
        assert mine["total"] == 1
        (from_call,) = mine["items"]
        assert from_call["call_key"] == CALL_KEY and from_call["call_id"] == done.json()["call_id"]
        assert from_call["cause"] == "waiting_time" and from_call["channel"] == "phone"
        assert from_call["subject"] == "Ждал ответа 40 минут"
        assert from_call["status"] == "registered" and from_call["operator_id"] == op
        assert from_call["applicant_phone"] == "79167654321"  # operators hold calls:read_pii
        assert from_call["wrapup_id"] == pending["id"]
        registered = datetime.fromisoformat(from_call["registered_at"])
        deadline = datetime.fromisoformat(from_call["deadline_at"])
        assert timedelta(days=30) < deadline - registered <= timedelta(days=31)

        petrov = await browser(service, "petrov")
        by_hand = await petrov.post("/api/v1/complaints", json=BY_HAND)
        assert by_hand.status_code == 201, by_hand.text
        other = by_hand.json()
        assert [h["action"] for h in other["history"]] == ["registered"]
        # operators see their own only; the API refuses another's by code
        assert [c["id"] for c in (await petrov.get("/api/v1/complaints")).json()["items"]] == [
            other["id"]
        ]
        refused = await ivanova.get(f"/api/v1/complaints/{other['id']}")
        assert refused.status_code == 403 and refused.json()["code"] == "complaint_not_yours"
        # an operator registers but does not move it on (not the owner)
        move = await ivanova.patch(
            f"/api/v1/complaints/{from_call['id']}", json={"status": "in_work"}
        )
        assert move.status_code == 403 and move.json()["code"] == "complaint_manage_scope"
        # ... but corrects it while it is only registered
        edit = await ivanova.patch(
            f"/api/v1/complaints/{from_call['id']}", json={"office": "МФЦ Центральный"}
        )
        assert edit.status_code == 200 and edit.json()["office"] == "МФЦ Центральный"

        # the north supervisor: the group's and the unowned (petrov's is unowned)
        north = await browser(service, "lead")
        seen = {c["id"] for c in (await north.get("/api/v1/complaints")).json()["items"]}
        assert seen == {from_call["id"], other["id"]}
        assign_away = await north.patch(
            f"/api/v1/complaints/{other['id']}", json={"owner_id": lead + 1}
        )
        assert assign_away.status_code == 403  # southlead is not in the north group
        url = f"/api/v1/complaints/{from_call['id']}"
        steps = [
            ({"status": "in_work"}, 200, None),
            ({"status": "decided"}, 422, "complaint_decision_needed"),
            ({"status": "decided", "decision": "Добавить оператора в час пик"}, 200, None),
            ({"status": "answered", "answer": "Приносим извинения"}, 422, None),
            ({"status": "closed"}, 409, "complaint_transition"),
            (
                {"status": "answered", "answer": "Приносим извинения", "answer_channel": "phone"},
                200,
                None,
            ),
            ({"status": "closed"}, 200, None),
            ({"status": "in_work"}, 422, "complaint_note_needed"),
            ({"status": "in_work", "note": "Заявитель позвонил снова"}, 200, None),
        ]
        for body, status, code in steps:
            answer = await north.patch(url, json=body)
            assert answer.status_code == status, (body, answer.text)
            if code:
                assert answer.json()["code"] == code, answer.text
        final = answer.json()
        assert final["owner_id"] == lead and final["status"] == "in_work"
        assert [(h["from_status"], h["to_status"]) for h in final["history"]] == [
            (None, "registered"),
            (None, None),  # the office corrected
            ("registered", "in_work"),
            ("in_work", "decided"),
            ("decided", "answered"),
            ("answered", "closed"),
            ("closed", "in_work"),
        ]
        assert final["history"][1]["action"] == "edited"
        assert final["history"][-1]["note"] == "Заявитель позвонил снова"
        transition = (await north.patch(url, json={"status": "registered"})).json()
        assert transition["params"] == {"status": "in_work", "target": "registered"}
        # the owner with complaints:write moves their own on; the south supervisor sees
        # neither (the north group's, and petrov's now owned... by nobody: seen)
        owned = await north.patch(f"/api/v1/complaints/{other['id']}", json={"owner_id": op})
        assert owned.status_code == 200, owned.text
        taken = await ivanova.patch(f"/api/v1/complaints/{other['id']}", json={"status": "in_work"})
        assert taken.status_code == 200, taken.text
        south = await browser(service, "southlead")
        assert {c["id"] for c in (await south.get("/api/v1/complaints")).json()["items"]} == {
            other["id"]  # registered by petrov of the south group
        }
        # the page: an operator gets the register without the managers' causes report
        page = await ivanova.get("/complaints")
        assert page.status_code == 200 and 'id="register"' in page.text
        assert 'id="causes"' not in page.text and 'id="assign-form"' not in page.text
        assert 'href="/complaints"' in page.text  # the navigation entry
        managed = await north.get("/complaints?lang=en")
        assert 'id="causes"' in managed.text and "30 calendar days" in managed.text
        for client in (ivanova, petrov, north, south):
            await client.aclose()
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            actions = session.scalars(select(AuditEntry.action)).all()
            assert "complaints.assign" in actions and "complaints.list" in actions


async def test_masking_filters_causes_and_unknown_call(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client  # the admin token: everything, numbers in the clear
        made = []
        for cause, office in (("staff", "МФЦ-1"), ("staff", "МФЦ-1"), ("website", "")):
            body = {**BY_HAND, "cause": cause, "office": office}
            answer = await client.post("/api/v1/complaints", json=body)
            assert answer.status_code == 201, answer.text
            made.append(answer.json())
        unknown = await client.post("/api/v1/complaints", json={**BY_HAND, "call_id": 999})
        assert unknown.status_code == 404 and unknown.json()["code"] == "complaint_call_unknown"
        bad = await client.post("/api/v1/complaints", json={**BY_HAND, "cause": "weather"})
        assert bad.status_code == 422
        # one overdue (registered 40 days ago), one due soon (deadline in a day)
        now = datetime.now(UTC)
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            session.execute(
                update(Complaint)
                .where(Complaint.id == made[0]["id"])
                .values(registered_at=now - timedelta(days=40), deadline_at=now - timedelta(days=9))
            )
            session.execute(
                update(Complaint)
                .where(Complaint.id == made[1]["id"])
                .values(deadline_at=now + timedelta(days=1))
            )
            session.commit()
        overdue = (await client.get("/api/v1/complaints?due=overdue")).json()
        assert [c["id"] for c in overdue["items"]] == [made[0]["id"]]
        assert overdue["items"][0]["overdue"] is True
        soon = (await client.get("/api/v1/complaints?due=soon")).json()
        assert [c["id"] for c in soon["items"]] == [made[1]["id"]]
        assert soon["items"][0]["due_soon"] is True and soon["items"][0]["overdue"] is False
        # the centre's date: after 21:00 UTC the UTC date is a day behind Moscow's
        today = now.astimezone(ZoneInfo("Europe/Moscow")).date().isoformat()
        recent = (await client.get(f"/api/v1/complaints?from={today}&to={today}")).json()
        assert {c["id"] for c in recent["items"]} >= {made[1]["id"], made[2]["id"]}
        assert made[0]["id"] not in {c["id"] for c in recent["items"]}
        for far in ("0001-01-01", "9999-12-31"):  # refused, not an overflow (500)
            for path in ("/api/v1/complaints", "/api/v1/complaints/causes"):
                answer = await client.get(path, params={"from": far})
                assert answer.status_code == 422, (path, far, answer.text)
        found = (await client.get("/api/v1/complaints", params={"q": "ЛЕНИНА"})).json()
        assert found["total"] == 3  # the subject, case-folded in Python (Cyrillic)
        by_cause = (await client.get("/api/v1/complaints?cause=website")).json()
        assert [c["id"] for c in by_cause["items"]] == [made[2]["id"]]
        first = (now - timedelta(days=41)).date().isoformat()
        report = await client.get(f"/api/v1/complaints/causes?from={first}&to={today}&by=month")
        assert report.status_code == 200, report.text
        rows = report.json()["rows"]
        assert sum(r["count"] for r in rows) == 3
        month = now.astimezone(ZoneInfo("Europe/Moscow")).date().isoformat()[:7]
        assert {"period": month, "cause": "website", "office": "", "count": 1} in rows
        # two months when 40 days ago was another month, one otherwise
        assert sum(r["count"] for r in rows if r["cause"] == "staff") == 2

        # without calls:read_pii the applicant is masked, and the listing is not audited
        lite = make_token(
            service.app, frozenset({Scope.COMPLAINTS_READ, Scope.COMPLAINTS_MANAGE}), "lite"
        )
        headers = {"Authorization": f"Bearer {lite}"}
        masked = (await client.get("/api/v1/complaints", headers=headers)).json()
        assert "79161234567" not in json.dumps(masked, ensure_ascii=False)
        assert "Сидоров Пётр Ильич" not in json.dumps(masked, ensure_ascii=False)
        assert masked["items"][0]["applicant_phone"].startswith("+7 916 ***")
        reader = make_token(service.app, frozenset({Scope.COMPLAINTS_READ}), "reader")
        refused = await client.get(
            "/api/v1/complaints/causes", headers={"Authorization": f"Bearer {reader}"}
        )
        assert refused.status_code == 403


async def test_summary_command_sends_the_webhook_once_a_day(db_url: str) -> None:
    async with running_service(db_url) as service:
        hook = await service.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["complaint.overdue"]},
        )
        assert hook.status_code == 201, hook.text
        made = (await service.client.post("/api/v1/complaints", json=BY_HAND)).json()
        soon = (await service.client.post("/api/v1/complaints", json=BY_HAND)).json()
        now = datetime.now(UTC)
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            session.execute(
                update(Complaint)
                .where(Complaint.id == made["id"])
                .values(deadline_at=now - timedelta(days=2))
            )
            session.execute(
                update(Complaint)
                .where(Complaint.id == soon["id"])
                .values(deadline_at=now + timedelta(hours=5))
            )
            session.commit()
        env = {
            **os.environ,
            "CALLAGENT_DATABASE_URL": db_url,
            "CALLAGENT_COMPLAINT_DUE_SOON_DAYS": "2",
        }
        command = [sys.executable, "-m", "callagent", "complaints", "summary", "--json"]
        runs = [await _run(command, env), await _run(command, env)]
        for run in runs:
            assert run.returncode == 0, run.stderr
        first, second = (json.loads(run.stdout) for run in runs)
        assert [c["id"] for c in first["overdue"]] == [made["id"]]
        assert [c["id"] for c in first["due_soon"]] == [soon["id"]]
        assert first["reported"] == 1 and second["reported"] == 0
        assert "79161234567" not in runs[0].stdout  # numbers stay out of cron's mail
        text = await _run(command[:-1], env)
        assert text.returncode == 0 and "overdue: 1" in text.stdout, text.stdout
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            events = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_type == "complaint.overdue")
            ).all()
            assert len(events) == 1 and events[0].payload["data"]["id"] == made["id"]
