"""The wallboard's live stream (issue #12): ``/api/v1/live/board`` over real HTTP.

A change committed in this process reaches an open stream within a second; a change
another process made in the same database (written here through an engine of its own)
within the stream's period; every page of one kind of viewer shares one computation;
a database that fails is said (``unavailable``) and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_session, create_user
from callagent.db.models import User
from callagent.db.session import make_engine
from callagent.routing.states import Signal
from callagent.web.live_board import BoardKey, LiveBoard
from tests.conftest import make_token, running_service

pytestmark = pytest.mark.asyncio


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) of each SSE event on the stream."""
    kind, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


async def _state_of(
    events: AsyncIterator[tuple[str, dict[str, Any]]], login: str, state: str
) -> float:
    """Seconds until a picture shows ``login`` in ``state``."""
    started = time.monotonic()
    async for kind, view in events:
        if kind != "board":
            continue
        states = {op["login"]: op["state"] for op in view["operators"]}
        if states.get(login) == state:
            return time.monotonic() - started
    raise AssertionError("the stream ended")


async def test_a_change_reaches_the_open_board_within_a_second(db_url: str) -> None:
    async with running_service(db_url) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            operator = create_user(
                db, login="op1001", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1001"]
            )
            db.flush()
            user_id = operator.id
        book = service.app.state.book  # type: ignore[attr-defined]
        book.signal(user_id, Signal.LOGIN, cause="test")
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "board")
        # a long period: what comes sooner came because of the change, not the clock
        service.app.state.board.period = 3.0  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token}"}
        async with service.client.stream("GET", "/api/v1/live/board", headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream)
            kind, first = await anext(events)
            assert kind == "board" and [op["login"] for op in first["operators"]] == ["op1001"]
            # this process: the book commits a state change, the board hears the commit
            await asyncio.to_thread(book.signal, user_id, Signal.READY, cause="test")
            seen_here = await asyncio.wait_for(_state_of(events, "op1001", "ready"), 5)
            assert seen_here < 1.0, seen_here
            # another process on the same database: only the database says it
            other = make_engine(db_url)
            try:
                with other.begin() as connection:
                    connection.execute(
                        update(User)
                        .where(User.id == user_id)
                        .values(state="paused", state_reason="lunch", state_since=datetime.now(UTC))
                    )
            finally:
                other.dispose()
            seen_there = await asyncio.wait_for(_state_of(events, "op1001", "paused"), 5)
            assert seen_there < 3.6, seen_there  # the period and one computation
        # without reports:read: refused like the board's JSON
        operator_token = make_token(service.app, frozenset({Scope.OPERATORS_STATE}), "op")
        refused = await service.client.get(
            "/api/v1/live/board", headers={"Authorization": f"Bearer {operator_token}"}
        )
        assert refused.status_code == 403


async def test_pages_of_one_kind_share_one_picture_and_a_failure_is_said() -> None:
    computed: list[BoardKey] = []
    failing = False

    def compute(key: BoardKey, now: datetime) -> dict[str, Any]:
        if failing:
            raise ConnectionError("database away")
        computed.append(key)
        return {"at": now.isoformat(), "n": len(computed)}

    board = LiveBoard(compute, period=0.5, settle=0.01, min_gap=0.05)
    key = BoardKey(None, True)
    viewers = [board.subscribe(key) for _ in range(20)]
    await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in viewers)), 2)
    assert len(computed) == 1  # one picture for twenty pages
    assert all(v.latest == viewers[0].latest for v in viewers)
    assert viewers[0].latest.startswith(b"event: board\ndata: ")
    failing = True
    for viewer in viewers:
        viewer.ready.clear()
    await asyncio.wait_for(viewers[0].ready.wait(), 2)  # the period, without any nudge
    assert viewers[0].latest == b"event: unavailable\ndata: {}\n\n"
    for viewer in viewers:
        board.unsubscribe(key, viewer)
    assert board.viewers() == 0
    await asyncio.sleep(0)
    assert board._producers == {}  # the last page gone: nothing computes any more


async def test_open_streams_are_not_held_by_the_in_flight_limit(db_url: str) -> None:
    """Pages keep their live streams open for hours: more pages than the in-flight limit
    all get theirs (the operators' events and the wallboard), and the API still answers."""
    limit = 4
    async with running_service(db_url, api_max_in_flight=limit) as service:
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "boards")
        headers = {"Authorization": f"Bearer {token}"}
        async with contextlib.AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(
                    service.client.stream("GET", "/api/v1/live/board", headers=headers)
                )
                for _ in range(limit * 3)
            ]
            assert [s.status_code for s in streams] == [200] * (limit * 3)
            answer = await service.client.get("/api/v1/reports/live", headers=headers)
            assert answer.status_code == 200
            assert service.app.state.board.viewers() == limit * 3  # type: ignore[attr-defined]


async def test_a_burst_of_pages_reconnecting_gets_every_stream(db_url: str) -> None:
    """After a restart every page reconnects within a second: more streams at once than
    the pool has connections (8 + 32) and the API has threads (8) all open at once (they
    used to hold every connection in one thread hop and wait for a thread for the next)."""
    pages = 60
    async with running_service(db_url) as service:
        cookies = []
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            for n in range(pages):
                user = create_user(db, login=f"op{2001 + n}", role=Role.OPERATOR, password=None)
                db.flush()
                secret, _ = create_session(
                    db, user=user, lifetime=timedelta(hours=1), address="127.0.0.1"
                )
                cookies.append(secret)
        async with contextlib.AsyncExitStack() as stack:

            async def open_page(cookie: str) -> int:
                stream = await stack.enter_async_context(
                    service.client.stream(
                        "GET",
                        "/api/v1/live/events",
                        headers={"Authorization": "", "Cookie": f"callagent_session={cookie}"},
                    )
                )
                return stream.status_code

            started = time.monotonic()
            statuses = await asyncio.wait_for(
                asyncio.gather(*(open_page(cookie) for cookie in cookies)), 8
            )
            assert statuses == [200] * pages
            assert time.monotonic() - started < 5
            answer = await service.client.get("/api/v1/operators")
            assert answer.status_code == 200
