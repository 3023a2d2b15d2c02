"""Live page events across instances (issue #16): two real ``callagent serve`` processes
on one PostgreSQL; an operator's page connected to instance B hears, within a second,
what instance A did: a state change committed through A's API, and a call on a phone of
the node A follows (B follows no node). Events are not doubled by the bridge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callagent.auth.scopes import ALL_SCOPES, Role
from callagent.auth.service import create_token, create_user
from callagent.db.session import make_engine, make_sessionmaker
from callagent.sim.ami_server import AmiServer
from callagent.sim.pbx import SimulatedPbx
from callagent.sim.scenarios import Behaviour, Dist
from callagent.web.live_bridge import psycopg_dsn
from tests.conftest import TRACES, wait_for
from tests.test_live_events import PASSWORD, events, next_of, next_or_none
from tests.test_node_takeover import Cluster, _start_instance, pg_url, started  # noqa: F401
from tests.test_queue_sync import free_port

PHONE = "PJSIP/op1001"


def test_the_bridge_is_for_postgresql_only() -> None:
    assert psycopg_dsn("sqlite:///./callagent.db") is None
    dsn = psycopg_dsn("postgresql+psycopg://u:p@h:5432/db")
    assert dsn == "postgresql://u:p@h:5432/db"


@pytest.fixture
async def two(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:  # noqa: F811
    pbx = AmiServer()
    await pbx.start()
    people = Behaviour(answer_delay=Dist.fixed(0.3), talk_time=Dist.fixed(1.0), seed=2)
    sim = SimulatedPbx(pbx, TRACES, agi_port=free_port(), speed=1.0, behaviour=people)
    engine = make_engine(pg_url)
    cluster = Cluster(pg_url, engine, {"pbx1": pbx}, {"pbx1": sim})
    try:
        sim.agi_port = free_port()  # A answers the calls' route requests
        a = await _start_instance(cluster, "a", tmp_path, agi_port=sim.agi_port)
        await started(cluster, lambda: cluster.owners().get("pbx1", ("",))[0] == "a")
        b = await _start_instance(cluster, "b", tmp_path)

        async def up() -> bool:
            try:
                return "owned_nodes" in await b.readyz()
            except httpx.HTTPError:
                return False

        await started(cluster, up)
        assert (await a.readyz())["owned_nodes"] == ["pbx1"]
        assert (await b.readyz())["owned_nodes"] == []
        await wait_for(lambda: any(c.logged_in for c in pbx.connections))
        await sim.register_phones([PHONE])
        yield cluster
    finally:
        await cluster.close()


def _seed(url: str) -> tuple[int, str]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            user = create_user(
                session, login="op1001", role=Role.OPERATOR, password=PASSWORD, endpoints=[PHONE]
            )
            token, _ = create_token(
                session, name="admin", scopes=ALL_SCOPES, expires_at=None, created_by=None
            )
            session.commit()
            return user.id, token
    finally:
        engine.dispose()


async def test_a_page_on_b_hears_what_a_did_within_a_second(two: Cluster) -> None:
    a, b = two.instance("a"), two.instance("b")
    user_id, token = _seed(two.url)
    async with (
        httpx.AsyncClient(base_url=b.url, timeout=10) as browser,
        httpx.AsyncClient(
            base_url=a.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as api_a,
    ):
        login = await browser.post(
            "/api/v1/auth/login", json={"login": "op1001", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        async with browser.stream("GET", "/api/v1/live/events") as response:
            assert response.status_code == 200
            stream = events(response)
            snapshot = await next_of(stream, "state")
            assert snapshot.data["snapshot"] and snapshot.data["state"] == "offline"
            # 1. A commits a state change: B's page has it within a second
            for state, reason in (("ready", ""), ("paused", "lunch"), ("ready", "")):
                started = time.monotonic()
                body = {"state": state, "reason": reason} if reason else {"state": state}
                changed = await api_a.post(f"/api/v1/operators/{user_id}/state", json=body)
                assert changed.status_code == 200, changed.text
                # the very next state event: a doubled earlier one would come first
                item = await next_of(stream, "state", timeout=1.0)
                took = time.monotonic() - started
                print(f"state {state} from A on B's page after {took * 1000:.0f} ms")
                assert took < 1.0
                assert (item.data["state"], item.data["reason"]) == (state, reason)
            # 2. A call routed by A to the operator, on the node A follows: B's page sees
            # it ring, answered and ended
            sim = two.sims["pbx1"]
            play = asyncio.create_task(sim.play("answered", "79260001122"))
            first = await next_of(stream, "call", timeout=5.0)
            assert first.data["endpoint"] == PHONE
            played = await play
            assert first.data["call_key"] == f"pbx1:{played.linkedid}"
            ended = await next_of(stream, "call", timeout=5.0, phase="ended")
            assert ended.data["call_key"] == first.data["call_key"]
            # nothing doubled: no second "ended" of the call (the stream ends here)
            assert await next_or_none(stream, "call", timeout=1.0) is None
