"""A database outage loses no operator state change, and readiness says so (issue #15, point 8).

A recorded call (``inbound_answered_caller_hangs_up``: op1001 answers, the caller hangs
up) is played over TCP to the service's AMI listener. Its first half, with the
database up, puts op1001 on the call; then the database refuses for ~3 s while the
second half (the hang-ups: CallEnded) arrives. PostgreSQL: the service reaches the
server through a TCP proxy on 127.0.0.1 that is stopped (its connections cut, new ones
refused) and started again. SQLite: another connection holds the file in an exclusive
transaction. Afterwards op1001 is in wrap-up with a pending wrap-up for the call, and
``/readyz`` said not-ready during the outage.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from callagent.db.models import Call, User
from callagent.sim.ami_server import AmiServer, trace_body
from tests.conftest import RunningService, running_service, trace_bytes, wait_for
from tests.test_routing import add_operators, set_ready

TRACE = "inbound_answered_caller_hangs_up"
OUTAGE = 3.0


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that can be stopped (connections cut, new ones refused).

    It runs its own event loop in a thread: the service's threads talk to the database
    through it, while the test's loop may be busy (or blocked in a synchronous call).
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def start(self) -> None:
        """Listen (again, on the same port)."""
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)

    def stop(self) -> None:
        """Refuse new connections and cut the open ones (the server is gone)."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._open -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


@contextmanager
def _proxied(db_url: str) -> Iterator[tuple[str, TcpProxy | None]]:
    """PostgreSQL: the URL through a proxy that the test can stop; SQLite: as it is."""
    if db_url.startswith("sqlite"):
        yield db_url, None
        return
    url = make_url(db_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy


@asynccontextmanager
async def _outage(db_url: str, proxy: TcpProxy | None) -> AsyncIterator[None]:
    """The database refuses for the body's duration."""
    if proxy is not None:
        proxy.stop()
        try:
            yield
        finally:
            proxy.start()
        return
    path = make_url(db_url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


async def _send(service: RunningService, body: bytes) -> None:
    """Trace bytes to the listener; returns once it has read every event (not stored)."""
    conn = await service.pbx.connection(0)
    client = service.monitor.clients[0]
    before = client.events_received
    events = body.count(b"\r\nEvent: ") + body.startswith(b"Event: ")
    await conn.send(body, chunk=1460)
    await wait_for(lambda: client.events_received >= before + events)


def _state(service: RunningService, user_id: int) -> str:
    view = service.app.state.book.view(user_id)  # type: ignore[attr-defined]
    return str(view.state)


# Where the outage starts: at the hang-ups (op1001 is on the call), or before op1001's
# phone rings (ringing, answered and ended all wait: they must be stored in that order).
CUTS = {"ended": (b"Event: HangupRequest", "on_call"), "whole_call": (b"Event: DialBegin", "ready")}


@pytest.mark.parametrize("cut_at", list(CUTS))
async def test_a_call_ending_during_a_database_outage_still_opens_its_wrapup(
    db_url: str, cut_at: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = trace_body(trace_bytes(TRACE))
    marker, before = CUTS[cut_at]
    cut = body.index(marker)
    with _proxied(db_url) as (url, proxy):
        async with running_service(url) as service:
            (op1001,) = add_operators(service, 1)
            await set_ready(service, [op1001])
            await _send(service, body[:cut])
            await wait_for(lambda: _state(service, op1001) == before)
            await service.app.state.driver.queue.join()  # type: ignore[attr-defined]
            assert (await service.client.get("/readyz")).status_code == 200

            caplog.set_level(logging.INFO, logger="callagent.routing.driver")
            loop = asyncio.get_running_loop()
            readiness: list[dict[str, Any]] = []
            async with _outage(url, proxy):
                started = loop.time()
                await _send(service, body[cut:])  # the hang-ups: CallEnded
                response = await service.client.get("/readyz")
                readiness.append({"status": response.status_code, **response.json()})
                await asyncio.sleep(max(0.0, OUTAGE - (loop.time() - started)))
                assert _state_unchanged_meanwhile(service, op1001, proxy, before)
            assert readiness[0]["status"] == 503
            assert readiness[0]["database"] == "unreachable"
            assert readiness[0]["ready"] is False

            await wait_for(lambda: _state(service, op1001) == "wrap_up", timeout=15)
            pending = await service.client.get(
                "/api/v1/wrapups/pending", params={"operator_id": op1001}
            )
            assert pending.status_code == 200, pending.text
            (wrapup,) = pending.json()
            assert wrapup["status"] == "pending"
            assert wrapup["call_key"].endswith(_linkedid(body))
            assert (await service.client.get("/readyz")).status_code == 200
            history = await service.client.get(f"/api/v1/operators/{op1001}/state-history")
            states = [h["to_state"] for h in reversed(history.json())]
            assert states == ["ready", "ringing", "on_call", "wrap_up"]  # in the PBX's order

            driver = [r for r in caplog.records if r.name == "callagent.routing.driver"]
            if proxy is not None:  # PostgreSQL refused: said once, and when caught up
                warnings = [r for r in driver if r.levelno == logging.WARNING]
                assert len(warnings) == 1, [r.getMessage() for r in warnings]
                assert "change(s) waiting" in warnings[0].getMessage()
                assert any("caught up" in r.getMessage() for r in driver)
            assert not [r for r in driver if r.levelno >= logging.ERROR]


def _state_unchanged_meanwhile(
    service: RunningService, user_id: int, proxy: TcpProxy | None, before: str
) -> bool:
    """During the outage the changes wait (PostgreSQL: nothing can be read either)."""
    if proxy is not None:
        return True
    return _state(service, user_id) == before


async def test_the_changes_held_back_are_bounded(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Beyond the bound the newest change is dropped and the ERROR says so."""
    body = trace_body(trace_bytes(TRACE))
    cut = body.index(b"Event: DialBegin")
    with _proxied(db_url) as (url, proxy):
        async with running_service(url) as service:
            (op1001,) = add_operators(service, 1)
            await set_ready(service, [op1001])
            await _send(service, body[:cut])
            driver = service.app.state.driver  # type: ignore[attr-defined]
            await driver.queue.join()
            # the first change being stored, one waiting, the rest (the end...) dropped
            driver.max_waiting = 1
            async with _outage(url, proxy):
                await _send(service, body[cut:])
                await wait_for(lambda: driver.dropped >= 1)
                assert driver.queue.qsize() == 1
            await asyncio.wait_for(driver.queue.join(), 15)
            assert _state(service, op1001) != "wrap_up"  # its end was among those dropped
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert [e for e in errors if "dropped" in e] == [
        "operator state changes dropped: 1 waiting for the database already, 1 dropped "
        "since the start (operators may show a wrong state until their next call or change)"
    ]  # once, not once per event


def _stored_state(url: str, user_id: int) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.scalar(select(User.state).where(User.id == user_id)))
    finally:
        engine.dispose()


def _linkedid(body: bytes) -> str:
    line = next(x for x in body.split(b"\r\n") if x.startswith(b"Linkedid: "))
    return line.split(b": ", 1)[1].decode()


async def test_a_restart_during_the_outage_still_frees_the_operator(db_url: str) -> None:
    """callagent stops while the changes wait (they are lost with the process); the call
    ended meanwhile. The next start finds op1001 on a call the PBX no longer has: the
    call is closed and op1001 goes to wrap-up with the call's form, not stuck on it."""
    body = trace_body(trace_bytes(TRACE))
    cut = body.index(b"Event: HangupRequest")
    pbx = AmiServer()
    await pbx.start()
    try:
        with _proxied(db_url) as (url, proxy):
            async with AsyncExitStack() as outage, AsyncExitStack() as first:
                service = await first.enter_async_context(running_service(url, pbx=pbx))
                (op1001,) = add_operators(service, 1)
                await set_ready(service, [op1001])
                await _send(service, body[:cut])
                await wait_for(lambda: _state(service, op1001) == "on_call")
                await service.app.state.driver.queue.join()  # type: ignore[attr-defined]
                await outage.enter_async_context(_outage(url, proxy))
                await _send(service, body[cut:])  # the hang-ups: never stored
                await first.aclose()  # stopped (or killed) during the outage
            # what it held back went with it: op1001 is still on the call in the database
            assert _stored_state(url, op1001) == "on_call"
            # the database is back; the PBX has no channel of that call any more
            async with running_service(url, pbx=pbx) as again:
                await wait_for(lambda: _state(again, op1001) == "wrap_up", timeout=15)
                pending = await again.client.get(
                    "/api/v1/wrapups/pending", params={"operator_id": op1001}
                )
                assert pending.status_code == 200, pending.text
                (wrapup,) = pending.json()
                assert wrapup["call_key"].endswith(_linkedid(body))
                calls = (await again.client.get("/api/v1/calls")).json()["items"]
                (call,) = [c for c in calls if c["linkedid"] == _linkedid(body)]
                assert call["final"] is True, call
    finally:
        await pbx.stop()


async def test_a_call_stored_final_whose_state_change_died_with_the_process(
    db_url: str,
) -> None:
    """The call's record reached the database (final), the operator's change did not:
    the process went (kill -9) between the two writes. Nothing will ever say the call
    ended again, so the next start frees op1001 from the ended call by itself."""
    body = trace_body(trace_bytes(TRACE))
    cut = body.index(b"Event: HangupRequest")
    pbx = AmiServer()
    await pbx.start()
    try:
        async with running_service(db_url, pbx=pbx) as service:
            (op1001,) = add_operators(service, 1)
            await set_ready(service, [op1001])
            await _send(service, body[:cut])
            await wait_for(lambda: _state(service, op1001) == "on_call")
            driver = service.app.state.driver  # type: ignore[attr-defined]
            await driver.queue.join()
            driver._put = lambda event: None  # the changes die with the process
            await _send(service, body[cut:])
            calls = service.app.state.sessions  # type: ignore[attr-defined]

            def stored_final() -> bool:
                with calls() as db:
                    return bool(
                        db.scalar(select(Call.final).where(Call.linkedid == _linkedid(body)))
                    )

            await wait_for(stored_final)
        assert _stored_state(db_url, op1001) == "on_call"
        async with running_service(db_url, pbx=pbx) as again:
            again.app.state.book.call_gone_grace = 1.0  # type: ignore[attr-defined]
            await wait_for(lambda: _state(again, op1001) == "wrap_up", timeout=15)
            pending = await again.client.get(
                "/api/v1/wrapups/pending", params={"operator_id": op1001}
            )
            (wrapup,) = pending.json()
            assert wrapup["call_key"].endswith(_linkedid(body))
    finally:
        await pbx.stop()
