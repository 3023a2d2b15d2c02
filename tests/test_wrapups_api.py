"""Wrap-ups over real HTTP, driven by real trace bytes, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import Call, OperatorStateChange, User, WebhookDelivery
from callagent.db.session import make_engine, make_sessionmaker
from callagent.db.wrapup_models import Wrapup
from callagent.routing.operators import OperatorBook
from callagent.routing.states import Signal
from callagent.sim.ami_server import trace_body
from callagent.wrapup.forms import load_forms
from callagent.wrapup.service import (
    Actor,
    WrapupError,
    WrapupService,
    correct,
    extend,
    hint_for_call,
    submit,
)
from tests.conftest import RunningService, running_service, trace_bytes, wait_for
from tests.test_live_replay import play

CALL_KEY = "pbx1:1795353447.0"  # inbound_answered_caller_hangs_up: op1001 answers 79031234567
GOOD = {"category": "consultation", "fields": {"service": "passport", "result": "answered"}}


def add_user(
    service: RunningService,
    login: str,
    *,
    role: Role = Role.OPERATOR,
    endpoint: str | None = None,
    language: str = "ru",
    group: str = "",
) -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(
            session,
            login=login,
            role=role,
            password=f"{login}-password",
            endpoints=[endpoint] if endpoint else [],
            language=language,
            group=group,
        )
        session.commit()
        return user.id


async def browser(service: RunningService, login: str) -> httpx.AsyncClient:
    """A logged-in user's HTTP client: session cookie and the CSRF header."""
    client = httpx.AsyncClient(base_url=service.base_url, timeout=10)
    answer = await client.post(
        "/api/v1/auth/login", json={"login": login, "password": f"{login}-password"}
    )
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def user_state(service: RunningService, user_id: int) -> str:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = session.get(User, user_id)
        assert user is not None
        return user.state


def states(service: RunningService, user_id: int) -> list[str]:
    """The operator's states so far, oldest first."""
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(
            select(OperatorStateChange.to_state)
            .where(OperatorStateChange.user_id == user_id)
            .order_by(OperatorStateChange.id)
        ).all()
        return list(rows)


async def call_ends_with(service: RunningService, user_id: int) -> None:
    """The recorded inbound call answered by op1001; wait for its after-call work."""
    ready = await service.client.post(f"/api/v1/operators/{user_id}/state", json={"state": "ready"})
    assert ready.status_code == 200, ready.text
    await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))
    await wait_for(lambda: user_state(service, user_id) == "wrap_up")


async def test_a_call_opens_a_wrapup_and_submitting_frees_the_operator(db_url: str) -> None:
    async with running_service(db_url) as service:
        subscribed = await service.client.post(
            "/api/v1/webhooks",
            json={
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["wrapup.submitted", "question.answered"],
            },
        )
        assert subscribed.status_code == 201, subscribed.text
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        await call_ends_with(service, op)
        page = await browser(service, "ivanova")
        forms = (await page.get("/api/v1/wrapup-forms")).json()
        assert [c["id"] for c in forms["categories"]] == [
            "consultation",
            "pre_registration",
            "document_notification",
            "repeat_consultation",
            "non_standard_question",
            "complaint",
            "wrong_number",
        ]
        where = forms["categories"][0]["fields"][2]
        assert where["show_if"] == {"field": "result", "equals": "redirected"}
        assert where["label"] == {
            "ru": "Куда направлен",
            "uk": "Куди перенаправлено",
            "en": "Redirected to",
        }

        (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
        assert pending["call_key"] == CALL_KEY and pending["status"] == "pending"
        assert pending["caller_number"] == "79031234567"
        assert pending["category_hint"] is None and pending["extended"] is False
        deadline = datetime.fromisoformat(pending["deadline"])
        started = datetime.fromisoformat(pending["started_at"])
        assert timedelta(seconds=59) < deadline - started <= timedelta(seconds=60)

        # every error at once, in Russian (the operator's language)
        bad = await page.post(
            f"/api/v1/wrapups/{pending['id']}/submit",
            json={"category": "consultation", "fields": {"result": "redirected", "x": 1}},
        )
        assert bad.status_code == 422
        errors = {e["field"]: e["message"] for e in bad.json()["detail"]}
        assert errors == {
            "x": "Поля «x» нет в форме «Консультация».",
            "service": "Заполните поле «Услуга».",
            "where": "Заполните поле «Куда направлен».",
        }
        assert user_state(service, op) == "wrap_up"  # nothing stored, still in after-call work

        done = await page.post(f"/api/v1/wrapups/{pending['id']}/submit", json=GOOD)
        assert done.status_code == 201, done.text
        stored = done.json()
        assert stored["status"] == "submitted" and stored["operator_id"] == op
        assert stored["fields"] == GOOD["fields"] and stored["category"] == "consultation"
        assert [h["action"] for h in stored["history"]] == ["submitted"]
        assert user_state(service, op) == "ready"  # freed at once, same transaction
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            last = session.scalars(
                select(OperatorStateChange)
                .where(OperatorStateChange.user_id == op)
                .order_by(OperatorStateChange.id.desc())
            ).first()
            assert last is not None
            assert (last.from_state, last.to_state, last.cause) == ("wrap_up", "ready", "wrapup")
            assert last.call == CALL_KEY
            events = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_type == "wrapup.submitted")
            ).all()
            assert len(events) == 1
            assert events[0].payload["data"]["fields"] == GOOD["fields"]
            assert events[0].payload["data"]["call_key"] == CALL_KEY

        call_id = stored["call_id"]
        assert call_id is not None
        again = await page.post(f"/api/v1/calls/{call_id}/wrapup", json=GOOD)
        assert again.status_code == 200 and again.json()["id"] == stored["id"]  # no-op
        assert again.json()["history"] == stored["history"]
        other = {"category": "wrong_number", "fields": {"kind": "silent"}}
        conflict = await page.post(f"/api/v1/calls/{call_id}/wrapup", json=other)
        assert conflict.status_code == 409 and "PATCH" in conflict.json()["detail"]
        assert (await page.get("/api/v1/wrapups/pending")).json() == []
        fetched = (await page.get(f"/api/v1/calls/{call_id}/wrapup")).json()
        assert fetched["id"] == stored["id"]

        # the pop-up: earlier calls with that number and their wrap-ups
        history = (await page.get("/api/v1/callers/+7 903 123-45-67/history")).json()
        assert [c["id"] for c in history["calls"]] == [call_id]
        assert history["calls"][0]["wrapups"][0]["category"] == "consultation"
        await page.aclose()


async def test_a_double_click_stores_one_wrapup(db_url: str) -> None:
    async with running_service(db_url) as service:
        await service.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["wrapup.submitted"]},
        )
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        await call_ends_with(service, op)
        page = await browser(service, "ivanova")
        (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
        url = f"/api/v1/wrapups/{pending['id']}/submit"
        answers = await asyncio.gather(*(page.post(url, json=GOOD) for _ in range(4)))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
        assert {len(a.json()["history"]) for a in answers} == {1}
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            events = session.scalars(select(WebhookDelivery.event_type)).all()
            assert events.count("wrapup.submitted") == 1
        assert user_state(service, op) == "ready"
        await page.aclose()


async def test_deadline_extend_missed_and_no_wrapup_without_an_operator(db_url: str) -> None:
    async with running_service(db_url, wrapup_seconds=1.5, wrapup_extend_seconds=1.0) as service:
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        ready = await service.client.post(f"/api/v1/operators/{op}/state", json={"state": "ready"})
        assert ready.status_code == 200
        # op1001 rings, the caller gives up: nobody talked, nothing to wrap up
        await play(service, trace_body(trace_bytes("inbound_abandoned")))
        await wait_for(lambda: states(service, op)[-2:] == ["ringing", "ready"])
        page = await browser(service, "ivanova")
        assert (await page.get("/api/v1/wrapups/pending")).json() == []

        await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))
        await wait_for(lambda: user_state(service, op) == "wrap_up")
        # events are applied in order: the abandoned call ended before this one, alone
        (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
        assert pending["call_key"] == CALL_KEY
        first = datetime.fromisoformat(pending["deadline"])
        extended = await page.post(f"/api/v1/wrapups/{pending['id']}/extend")
        assert extended.status_code == 200, extended.text
        assert datetime.fromisoformat(extended.json()["deadline"]) == first + timedelta(seconds=1)
        once = await page.post(f"/api/v1/wrapups/{pending['id']}/extend")
        assert once.status_code == 409 and "already extended" in once.json()["detail"]
        (still,) = (await page.get("/api/v1/wrapups/pending")).json()
        assert still["extended"] is True
        # the deadline passes: ready again (the book's sweep), the form missed but open
        await wait_for(lambda: user_state(service, op) == "ready", timeout=8)
        (missed,) = (await page.get("/api/v1/wrapups/pending")).json()
        assert missed["status"] == "missed"
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            last = session.scalars(
                select(OperatorStateChange)
                .where(OperatorStateChange.user_id == op)
                .order_by(OperatorStateChange.id.desc())
            ).first()
            assert last is not None and (last.to_state, last.cause) == ("ready", "deadline")
        late = await page.post(f"/api/v1/wrapups/{missed['id']}/submit", json=GOOD)
        assert late.status_code == 201 and late.json()["missed"] is True
        assert user_state(service, op) == "ready"
        counted = (await page.get("/api/v1/wrapups", params={"missed": True})).json()
        assert [w["id"] for w in counted] == [missed["id"]]
        assert (await page.get("/api/v1/wrapups", params={"missed": False})).json() == []
        await page.aclose()


async def test_wrong_operator_unknown_call_and_english_messages(db_url: str) -> None:
    async with running_service(db_url) as service:
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        add_user(service, "smith", endpoint="PJSIP/op1002", language="en")
        await call_ends_with(service, op)
        await service.monitor.writer.drain()
        call_id = (await service.client.get("/api/v1/calls")).json()["items"][0]["id"]
        smith = await browser(service, "smith")
        assert (await smith.post(f"/api/v1/calls/{call_id}/wrapup", json=GOOD)).status_code == 403
        assert (await smith.get(f"/api/v1/calls/{call_id}/wrapup")).status_code == 403
        missing = await smith.post("/api/v1/calls/999999/wrapup", json=GOOD)
        assert missing.status_code == 404
        assert (await smith.get("/api/v1/callers/79031234567/history")).status_code == 403
        assert (await smith.get(f"/api/v1/wrapups/pending?operator_id={op}")).status_code == 403
        # smith's own (English) errors, on a call smith did not take: 403 comes first
        ivanova = await browser(service, "ivanova")
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        bad = {"category": "pre_registration", "fields": {"date": "23.11.2026", "time": "25:00"}}
        russian = await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit", json=bad)
        english = await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit?lang=en", json=bad)
        assert russian.status_code == english.status_code == 422
        assert [e["field"] for e in english.json()["detail"]] == [
            "service",
            "office",
            "date",
            "time",
        ]
        assert english.json()["detail"][2]["message"] == (
            "'Date': a date as YYYY-MM-DD, e.g. 2026-11-23."
        )
        assert russian.json()["detail"][2]["message"] == (
            "«Дата приёма»: дата в виде ГГГГ-ММ-ДД, например 2026-11-23."
        )
        # an English user's own language, without asking
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            user = session.get(User, op)
            assert user is not None
            user.language = "en"
            session.commit()
        own = await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit", json=bad)
        assert own.json()["detail"][0]["message"] == "'Service' is required."
        # an integrator's token: Accept-Language, else Russian
        as_token = f"/api/v1/wrapups/{pending['id']}/submit"
        english_header = {"Accept-Language": "en-GB,en;q=0.9,ru;q=0.8"}
        token_en = await service.client.post(as_token, json=bad, headers=english_header)
        assert token_en.json()["detail"][0]["message"] == "'Service' is required."
        token_ru = await service.client.post(as_token, json=bad)
        assert token_ru.json()["detail"][0]["message"] == "Заполните поле «Услуга»."
        needs_id = await service.client.get("/api/v1/wrapups/pending")
        assert needs_id.status_code == 422 and "operator_id" in needs_id.text
        listed = await service.client.get("/api/v1/wrapups/pending", params={"operator_id": op})
        assert [w["id"] for w in listed.json()] == [pending["id"]]
        unknown = await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit", json={})
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["field"] is None
        assert unknown.json()["detail"][0]["message"].startswith("Unknown category")
        await smith.aclose()
        await ivanova.aclose()


async def test_corrections_keep_history_and_lists_respect_roles(db_url: str) -> None:
    async with running_service(db_url) as service:
        op = add_user(service, "ivanova", endpoint="PJSIP/op1001", group="north")
        add_user(service, "lead", role=Role.SUPERVISOR, group="north")
        add_user(service, "south", role=Role.SUPERVISOR, group="south")
        add_user(service, "petrov", endpoint="PJSIP/op1002")
        await call_ends_with(service, op)
        ivanova = await browser(service, "ivanova")
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        await ivanova.post(f"/api/v1/wrapups/{pending['id']}/submit", json=GOOD)
        await service.monitor.writer.drain()
        call_id = (await service.client.get("/api/v1/calls")).json()["items"][0]["id"]

        lead = await browser(service, "lead")
        fixed = {
            "category": "consultation",
            "fields": {"service": "snils", "result": "redirected", "where": "Социальный фонд"},
        }
        corrected = await lead.patch(f"/api/v1/calls/{call_id}/wrapup", json=fixed)
        assert corrected.status_code == 200, corrected.text
        body = corrected.json()
        assert body["fields"]["where"] == "Социальный фонд" and body["revision"] == 2
        change = body["history"][-1]
        assert change["action"] == "corrected" and change["by"] == "user:lead"
        assert change["old_fields"] == GOOD["fields"] and change["new_fields"] == fixed["fields"]

        south = await browser(service, "south")
        assert (await south.patch(f"/api/v1/calls/{call_id}/wrapup", json=GOOD)).status_code == 403
        assert (await south.get("/api/v1/wrapups")).json() == []
        petrov = await browser(service, "petrov")
        assert (await petrov.patch(f"/api/v1/calls/{call_id}/wrapup", json=GOOD)).status_code == 403
        assert (await petrov.get("/api/v1/wrapups")).json() == []
        own = (await ivanova.get("/api/v1/wrapups", params={"status": "submitted"})).json()
        assert [w["id"] for w in own] == [pending["id"]]
        assert (await ivanova.get(f"/api/v1/wrapups?operator_id={op + 10}")).status_code == 403
        listed = await lead.get("/api/v1/wrapups", params={"category": "consultation"})
        assert [w["id"] for w in listed.json()] == [pending["id"]]
        assert (await lead.get("/api/v1/wrapups", params={"category": "complaint"})).json() == []
        again = await ivanova.patch(f"/api/v1/wrapups/{pending['id']}", json=GOOD)
        assert again.status_code == 200 and len(again.json()["history"]) == 3
        for client in (ivanova, lead, south, petrov):
            await client.aclose()


def _service_and_book(db_url: str) -> tuple[Any, WrapupService, OperatorBook]:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    book = OperatorBook(sessions, wrapup_seconds=60)
    service = WrapupService(
        sessions, load_forms(), default_seconds=30, extend_seconds=45, book=book
    )
    book.wrapup_hook = service.hook
    return engine, service, book


def submit_silent(
    session: Session, service: WrapupService, wrapup: Wrapup, actor: Actor, *, now: datetime
) -> bool:
    """Submit 'wrong number: silence' (the simplest form), freeing the operator in the book."""
    return submit(
        session,
        wrapup=wrapup,
        category_id="wrong_number",
        values={"kind": "silent"},
        actor=actor,
        forms=service.forms,
        book=service.book,
        now=now,
    )


def test_deadline_missed_extend_once_and_late_submit(db_url: str) -> None:
    engine, service, book = _service_and_book(db_url)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    try:
        with service.sessions.begin() as session:
            user = create_user(session, login="op", role=Role.OPERATOR, password=None)
            for signal in (Signal.LOGIN, Signal.ANSWERED):
                book.apply(session, user, signal, cause="test", now=t0)
            book.apply(session, user, Signal.CALL_ENDED, cause="call", call="pbx1:1.1", now=t0)
            op = user.id
            assert user.wrapup_until == t0 + timedelta(seconds=30)  # the default, no category
        with service.sessions.begin() as session:
            wrapup = session.scalars(select(Wrapup)).one()
            assert (wrapup.status, wrapup.call_key, wrapup.call_id) == ("pending", "pbx1:1.1", None)
            actor = Actor("user:op", op)
            moved = extend(session, wrapup=wrapup, seconds=45, actor=actor, now=t0)
            assert moved == t0 + timedelta(seconds=75)
            assert session.get(User, op).wrapup_until == moved  # type: ignore[union-attr]
        with service.sessions.begin() as session:
            wrapup = session.scalars(select(Wrapup)).one()
            with pytest.raises(WrapupError, match="already extended") as second:
                extend(session, wrapup=wrapup, seconds=45, actor=actor, now=t0)
            assert second.value.status == 409
        late = t0 + timedelta(seconds=76)
        assert book.sweep(now=t0 + timedelta(seconds=74)) == 0  # extended: not yet
        assert book.sweep(now=late) == 1
        assert service.sweep(now=late) == 1
        with service.sessions.begin() as session:
            assert session.get(User, op).state == "ready"  # type: ignore[union-attr]
            wrapup = session.scalars(select(Wrapup)).one()
            assert wrapup.status == "missed" and wrapup.missed_at == moved  # at the deadline
            with pytest.raises(WrapupError, match="only a pending one"):
                extend(session, wrapup=wrapup, seconds=45, actor=actor, now=late)
            # still fillable, counted as missed
            assert submit_silent(session, service, wrapup, actor, now=late + timedelta(minutes=5))
        with service.sessions.begin() as session:
            wrapup = session.scalars(select(Wrapup)).one()
            assert wrapup.status == "submitted" and wrapup.missed_at == moved
            assert session.get(User, op).state == "ready"  # type: ignore[union-attr]
            assert correct(
                session,
                wrapup=wrapup,
                category_id="wrong_number",
                values={"kind": "wrong_number"},
                actor=Actor("user:lead", None),
                forms=service.forms,
                now=late + timedelta(minutes=6),
            )
    finally:
        engine.dispose()


def test_a_second_call_keeps_the_operator_in_wrap_up_until_its_own_form(db_url: str) -> None:
    engine, service, book = _service_and_book(db_url)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    try:
        with service.sessions.begin() as session:
            user = create_user(session, login="op", role=Role.OPERATOR, password=None)
            book.apply(session, user, Signal.LOGIN, cause="test", now=t0)
            for n, at in ((1, t0), (2, t0 + timedelta(seconds=10))):
                book.apply(session, user, Signal.ANSWERED, cause="call", now=at)
                book.apply(session, user, Signal.CALL_ENDED, cause="call", call=f"n:{n}", now=at)
            book.apply(session, user, Signal.CALL_ENDED, cause="call", call="n:2", now=t0)
        with service.sessions.begin() as session:
            first, second = session.scalars(select(Wrapup).order_by(Wrapup.id)).all()
            actor = Actor("user:op", first.operator_id)
            for wrapup in (first, second):
                submit_silent(session, service, wrapup, actor, now=t0 + timedelta(seconds=12))
                state = session.get(User, wrapup.operator_id).state  # type: ignore[union-attr]
                assert state == ("wrap_up" if wrapup is first else "ready")
            assert session.scalar(select(Wrapup.id).where(Wrapup.status != "submitted")) is None
    finally:
        engine.dispose()


def test_notification_calls_suggest_their_category() -> None:
    campaign = Call(direction="outbound", variables={"CALLAGENT_CAMPAIGN_ID": "7"})
    assert hint_for_call(campaign) == "document_notification"
    click = Call(direction="outbound", variables={"CALLAGENT_ORIGIN": "click_to_call"})
    assert hint_for_call(click) is None
    inbound = Call(direction="inbound", variables={"CALLAGENT_CAMPAIGN_ID": "7"})
    assert hint_for_call(inbound) is None and hint_for_call(None) is None


def test_a_late_submit_counts_as_missed_even_before_the_sweep(db_url: str) -> None:
    engine, service, book = _service_and_book(db_url)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    try:
        with service.sessions.begin() as session:
            user = create_user(session, login="op", role=Role.OPERATOR, password=None)
            book.apply(session, user, Signal.LOGIN, cause="test", now=t0)
            book.apply(session, user, Signal.ANSWERED, cause="call", now=t0)
            book.apply(session, user, Signal.CALL_ENDED, cause="call", call="n:1", now=t0)
        with service.sessions.begin() as session:
            wrapup = session.scalars(select(Wrapup)).one()
            submit_silent(
                session,
                service,
                wrapup,
                Actor("user:op", wrapup.operator_id),
                now=t0 + timedelta(seconds=31),
            )
        with service.sessions.begin() as session:
            wrapup = session.scalars(select(Wrapup)).one()
            assert wrapup.status == "submitted"
            assert wrapup.missed_at == t0 + timedelta(seconds=30)  # the deadline
            assert session.get(User, wrapup.operator_id).state == "ready"  # type: ignore[union-attr]
    finally:
        engine.dispose()
