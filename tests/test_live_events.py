"""Live events for the operator's page: after commit, only one's own, over real SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, create_user
from callagent.db.models import User
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing.operators import OperatorBook
from callagent.routing.states import Signal
from callagent.sim.ami_server import trace_body
from callagent.sim.pbx import SimulatedPbx
from callagent.tracker.events import CallAnswered, CallEnded, OperatorRinging
from callagent.tracker.tracker import Tracker
from callagent.web.live import LiveEvent, LiveHub, _masked
from tests.conftest import TRACES, RunningService, running_service, trace_bytes, wait_for
from tests.test_routing import agi_port

PASSWORD = "operator-password"


@dataclass
class Sse:
    id: str | None
    kind: str
    data: dict[str, Any]


async def events(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse a text/event-stream as it arrives."""
    kind, data, ident = "message", "", None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Sse(ident, kind, json.loads(data))
            kind, data = "message", ""
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data += line[6:]
        elif line.startswith("id: "):
            ident = line[4:]


async def next_of(
    stream: AsyncIterator[Sse], kind: str, timeout: float = 10.0, **match: Any
) -> Sse:
    """The next event of ``kind`` whose data has the ``match`` values."""

    async def find() -> Sse:
        async for item in stream:
            if item.kind == kind and all(item.data.get(k) == v for k, v in match.items()):
                return item
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), timeout)


async def all_of(
    stream: AsyncIterator[Sse], wanted: list[tuple[str, dict[str, Any]]], timeout: float = 10.0
) -> list[Sse]:
    """The first event matching each of ``wanted`` (kind, data values), in any order.

    Call events come from the PBX as it speaks, state events once the change is
    committed: the two streams interleave as they will, each in its own order.
    """
    found: list[Sse | None] = [None] * len(wanted)

    async def find() -> list[Sse]:
        async for item in stream:
            for index, (kind, match) in enumerate(wanted):
                fits = item.kind == kind and all(item.data.get(k) == v for k, v in match.items())
                if found[index] is None and fits:
                    found[index] = item
                    break
            if all(found):
                return [f for f in found if f is not None]
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), timeout)


async def next_or_none(stream: AsyncIterator[Sse], kind: str, timeout: float = 0.5) -> Sse | None:
    """The next event of ``kind`` within ``timeout`` seconds, or None (to show none came)."""
    try:
        return await next_of(stream, kind, timeout=timeout)
    except TimeoutError:
        return None


def add_user(service: RunningService, login: str, endpoint: str | None) -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(
            session,
            login=login,
            role=Role.OPERATOR,
            password=PASSWORD,
            endpoints=[endpoint] if endpoint else [],
        )
        session.commit()
        return user.id


async def logged_in(service: RunningService, login: str) -> tuple[httpx.AsyncClient, str]:
    browser = httpx.AsyncClient(base_url=service.base_url, timeout=10)
    response = await browser.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return browser, response.json()["csrf_token"]


async def test_state_changes_stream_to_their_operator_only(db_url: str) -> None:
    async with running_service(db_url) as service:
        mine = add_user(service, "ivanova", "PJSIP/op1001")
        add_user(service, "petrova", "PJSIP/op1002")
        me, csrf = await logged_in(service, "ivanova")
        other, _ = await logged_in(service, "petrova")
        async with (
            me.stream("GET", "/api/v1/live/events") as response,
            other.stream("GET", "/api/v1/live/events") as theirs,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream, their_stream = events(response), events(theirs)
            first = await next_of(stream, "state")
            assert first.data["snapshot"] is True and first.data["state"] == "offline"
            await next_of(their_stream, "state", snapshot=True)
            ready = await me.post(
                f"/api/v1/operators/{mine}/state",
                json={"state": "ready"},
                headers={"X-CSRF-Token": csrf},
            )
            assert ready.status_code == 200
            change = await next_of(stream, "state", state="ready")
            assert change.data["from_state"] == "offline" and change.id
            paused = await me.post(
                f"/api/v1/operators/{mine}/state",
                json={"state": "paused", "reason": "lunch"},
                headers={"X-CSRF-Token": csrf},
            )
            assert paused.status_code == 200
            pause = await next_of(stream, "state", state="paused")
            assert pause.data["reason"] == "lunch"
            # the other operator's stream got none of it: only a heartbeat could come
            assert await next_or_none(their_stream, "state") is None
        await me.aclose()
        await other.aclose()


async def test_who_may_follow_live_events(db_url: str) -> None:
    async with running_service(db_url) as service:
        anonymous = httpx.AsyncClient(base_url=service.base_url, timeout=10)
        assert (await anonymous.get("/api/v1/live/events")).status_code == 401
        await anonymous.aclose()
        by_token = await service.client.get("/api/v1/live/events")  # an API token, no user
        assert by_token.status_code == 400
        assert "logged-in user" in by_token.json()["detail"]


async def test_a_call_pops_up_on_the_phone_owners_stream(db_url: str) -> None:
    async with running_service(db_url) as service:
        mine = add_user(service, "op1001", "PJSIP/op1001")
        me, csrf = await logged_in(service, "op1001")
        await wait_for(lambda: service.monitor.clients[0].connected)
        ready = await me.post(
            f"/api/v1/operators/{mine}/state",
            json={"state": "ready"},
            headers={"X-CSRF-Token": csrf},
        )
        assert ready.status_code == 200
        async with me.stream("GET", "/api/v1/live/events") as response:
            stream = events(response)
            await next_of(stream, "state", snapshot=True)
            sim = SimulatedPbx(service.pbx, TRACES, agi_port=agi_port(service), speed=20.0)
            played = asyncio.create_task(sim.call("answered", "79161112233"))
            ringing = await next_of(stream, "call", phase="ringing")
            assert ringing.data["caller_number"] == "79161112233"
            assert ringing.data["endpoint"] == "PJSIP/op1001"
            assert ringing.data["direction"] == "inbound"
            key = ringing.data["call_key"]
            assert key.startswith("pbx1:")
            answered, on_call, ended, wrap_up = await all_of(
                stream,
                [
                    ("call", {"phase": "answered", "call_key": key}),
                    ("state", {"state": "on_call"}),
                    ("call", {"phase": "ended", "call_key": key}),
                    ("state", {"state": "wrap_up"}),
                ],
            )
            assert ended.data["caller_number"] == "79161112233"

            # each stream in its own order (ids end in a number that grows with each event)
            def seq(event: Sse) -> int:
                return int((event.id or "-0").rsplit("-", 1)[1])

            assert seq(answered) < seq(ended)
            assert seq(on_call) < seq(wrap_up)
            assert await played
        await me.aclose()


async def test_reconnecting_page_gets_what_it_missed(db_url: str) -> None:
    async with running_service(db_url) as service:
        mine = add_user(service, "ivanova", None)
        me, csrf = await logged_in(service, "ivanova")
        async with me.stream("GET", "/api/v1/live/events") as response:
            stream = events(response)
            await next_of(stream, "state", snapshot=True)
            await me.post(
                f"/api/v1/operators/{mine}/state",
                json={"state": "ready"},
                headers={"X-CSRF-Token": csrf},
            )
            seen = await next_of(stream, "state", state="ready")
        # the page is away while the state changes twice
        for state in ("paused", "ready"):
            response = await me.post(
                f"/api/v1/operators/{mine}/state",
                json={"state": state, **({"reason": "break"} if state == "paused" else {})},
                headers={"X-CSRF-Token": csrf},
            )
            assert response.status_code == 200
        hub: LiveHub = service.app.state.live  # type: ignore[attr-defined]
        await wait_for(lambda: hub.last_id(mine) != seen.id)
        headers = {"Last-Event-ID": str(seen.id)}
        async with me.stream("GET", "/api/v1/live/events", headers=headers) as response:
            stream = events(response)
            missed = [await next_of(stream, "state") for _ in range(3)]
        assert [(m.data["state"], m.data.get("snapshot")) for m in missed] == [
            ("paused", None),
            ("ready", None),
            ("ready", True),
        ]
        await me.aclose()


async def test_changes_are_published_after_commit_and_never_after_rollback(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    book = OperatorBook(sessions)
    hub = LiveHub()
    hub.connect(sessions=sessions, subscribers=[])
    try:
        with sessions.begin() as session:
            user_id = create_user(session, login="ivanova", role=Role.OPERATOR, password=None).id
        subscriber, _ = hub.subscribe(user_id, None)
        seen_in_db: list[str] = []

        def state_now() -> str:
            with sessions() as session:
                return session.scalars(select(User.state).where(User.id == user_id)).one()

        # rolled back: no event
        def paused_then_rolled_back() -> None:
            with sessions() as session:
                user = session.get(User, user_id)
                assert user is not None
                assert book.apply(session, user, Signal.LOGIN, cause="api")
                session.rollback()

        await asyncio.to_thread(paused_then_rolled_back)
        await asyncio.sleep(0.1)
        assert subscriber.queue.empty()
        # committed: one event, and the database already says so when it arrives
        await asyncio.to_thread(book.signal, user_id, Signal.LOGIN, cause="api")
        item = await asyncio.wait_for(subscriber.queue.get(), 5)
        seen_in_db.append(await asyncio.to_thread(state_now))
        assert item.kind == "state" and item.data["state"] == "ready"
        assert seen_in_db == ["ready"]
        assert subscriber.queue.empty()
    finally:
        hub.disconnect(sessions)
        engine.dispose()


def test_the_hub_knows_the_applicant_of_a_call_in_progress() -> None:
    """What a page opened mid-call shows at once: from the tracker, while the call lasts."""
    tracker = Tracker()
    hub = LiveHub(tracker)
    items = AmiParser(expect_banner=False).feed(
        trace_body(trace_bytes("inbound_answered_caller_hangs_up"))
    )
    phases: list[str] = []
    key = ""
    for item in items:
        if not isinstance(item, AmiMessage):
            continue
        found = tracker.feed("pbx1", item, 0.0)
        hub.on_domain_events(found)
        for event in found:
            if isinstance(event, OperatorRinging | CallAnswered):
                key = ":".join(event.key)
                call = hub.live_call(key)
                assert call is not None
                assert call["caller_number"] == "79031234567"
                assert call["endpoint"] == "PJSIP/op1001"
                phases.append(type(event).__name__)
            elif isinstance(event, CallEnded):
                assert hub.live_call(key) is None  # over: nothing to show
                phases.append("ended")
    assert phases == ["OperatorRinging", "CallAnswered", "ended"]
    queued = [hub._call_events.get_nowait()[0] for _ in range(hub._call_events.qsize())]
    assert queued == ["ringing", "answered", "ended"]


PREVIEW: dict[str, Any] = {
    "campaign_id": 3,
    "campaign": "Паспорта, ноябрь",
    "entry_id": 17,
    "attempt_id": 40,
    "applicant_name": "Петров Пётр Петрович",
    "phone": "+79161110001",
    "case_number": "Д-2026/1187",
    "service": "Загранпаспорт",
    "office": "Офис на Ленина, 5",
    "ready_date": "20.11.2026",
    "note": "",
    "attempt": 1,
    "category_hint": "document_notification",
}


async def test_a_campaign_preview_reaches_only_its_operator(db_url: str) -> None:
    async with running_service(db_url) as service:
        mine = add_user(service, "ivanova", "PJSIP/op1001")
        add_user(service, "petrova", "PJSIP/op1002")
        me, _ = await logged_in(service, "ivanova")
        other, _ = await logged_in(service, "petrova")
        hub: LiveHub = service.app.state.live  # type: ignore[attr-defined]
        async with (
            me.stream("GET", "/api/v1/live/events") as response,
            other.stream("GET", "/api/v1/live/events") as theirs,
        ):
            stream, their_stream = events(response), events(theirs)
            await next_of(stream, "state", snapshot=True)
            await next_of(their_stream, "state", snapshot=True)
            # as the dialer sends it: from a worker thread
            await asyncio.to_thread(hub.publish_threadsafe, mine, "campaign_preview", PREVIEW)
            shown = await next_of(stream, "campaign_preview")
            assert shown.data == PREVIEW  # an operator may see applicants: nothing masked
            assert shown.id
            assert await next_or_none(their_stream, "campaign_preview") is None
        await me.aclose()
        await other.aclose()


def test_a_campaign_preview_is_masked_without_the_pii_scope() -> None:
    item = LiveEvent("b-1", "campaign_preview", dict(PREVIEW))
    limited = Principal("user:viewer", frozenset({Scope.OPERATORS_STATE}), user_id=5)
    masked = _masked(item, limited).data
    assert masked["phone"] == "+7 916 ***-**-01"
    assert masked["applicant_name"] == "П. П. П."
    assert {k: v for k, v in masked.items() if k not in ("phone", "applicant_name")} == {
        k: v for k, v in PREVIEW.items() if k not in ("phone", "applicant_name")
    }
    full = Principal("user:op", frozenset({Scope.OPERATORS_STATE, Scope.CALLS_READ_PII}))
    assert _masked(item, full).data == PREVIEW
    assert item.data == PREVIEW  # the hub's copy (the backlog) is left as it was
