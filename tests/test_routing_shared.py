"""Routing from any instance (issue #16): two real ``callagent serve`` processes on one
PostgreSQL, both answering FastAGI ``route`` (real bytes over TCP on 127.0.0.1), the
simulator as the PBX node. The dialplan's requests are spread across the two; the
waiting calls, their order and who was tried for each are in the database:

- calls held on A and on B are served in the order they began to wait, whichever
  instance holds them and whichever instance the operator became ready on; a newcomer
  on B never takes the operator an earlier call held on A is due; no operator gets two
  calls;
- a call that waited on A is served by an operator freed through B within a second
  (B's commit wakes A's held dialogues: LISTEN/NOTIFY);
- an instance killed with calls held drops out of the order once it stops vouching for
  them (its callers are in the fallback queue already), and the calls behind them on
  the other instance are served.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from callagent.auth.scopes import ALL_SCOPES, Role
from callagent.auth.service import create_token, create_user
from callagent.db.models import Base, OperatorStateChange
from callagent.db.routing_models import RoutingTried, WaitingCall
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing.agi import FastAgiServer
from callagent.routing.operators import OperatorBook
from callagent.routing.router import Router
from callagent.routing.shared import HELD_LEASE, SharedCalls
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import AmiServer
from tests.conftest import wait_for
from tests.test_dialplan_files import dialplan
from tests.test_held_calls import after_route, answered_at, dialplan_args, expand
from tests.test_node_takeover import (  # noqa: F401
    Cluster,
    Instance,
    _start_instance,
    pg_url,
    started,
)
from tests.test_queue_sync import free_port

OPERATORS = 4


@pytest.fixture
async def two(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:  # noqa: F811
    """Instances a and b, both answering FastAGI, on one database and one PBX node."""
    pbx = AmiServer()
    await pbx.start()
    engine = make_engine(pg_url)
    cluster = Cluster(pg_url, engine, {"pbx1": pbx}, {})
    try:
        for name in ("a", "b"):
            await start_routing(cluster, name, tmp_path)
        yield cluster
    finally:
        await cluster.close()


async def _up(instance: Instance) -> bool:
    try:
        return "owned_nodes" in await instance.readyz()
    except httpx.HTTPError:
        return False


_PORTS: dict[str, int] = {}  # instance name -> its FastAGI port


def _agi_port(instance: Instance) -> int:
    return _PORTS[instance.name]


async def start_routing(cluster: Cluster, name: str, tmp_path: Path) -> Instance:
    """Instance ``name`` answering FastAGI on a port of its own (in ``_PORTS``), up."""
    port = free_port()
    instance = await _start_instance(cluster, name, tmp_path, agi_port=port)
    _PORTS[name] = port
    await started(cluster, lambda: _up(instance))
    return instance


def _seed(url: str) -> tuple[list[int], str]:
    """Offline operators and an admin token."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            ids = [
                create_user(
                    session,
                    login=f"op{1001 + n}",
                    role=Role.OPERATOR,
                    password=None,
                    endpoints=[f"PJSIP/op{1001 + n}"],
                ).id
                for n in range(OPERATORS)
            ]
            token, _ = create_token(
                session, name="admin", scopes=ALL_SCOPES, expires_at=None, created_by=None
            )
            session.commit()
            return ids, token
    finally:
        engine.dispose()


class Callers:
    """Callers of the shipped dialplan (held while nobody is free) on either instance."""

    def __init__(self) -> None:
        self.calls: dict[str, AgiCall] = {}
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, port: int, linkedid: str, priority: str = "") -> AgiCall:
        call = AgiCall("route", linkedid, args=dialplan_args(linkedid, CALLAGENT_PRIORITY=priority))
        self.calls[linkedid] = call
        self.tasks[linkedid] = asyncio.create_task(run_agi(call, "127.0.0.1", port, timeout=60))
        return call

    def served(self) -> dict[str, str]:
        """linkedid -> the operator's phone, for the calls answered so far."""
        return {
            linkedid: call.set["CALLAGENT_OPERATOR"]
            for linkedid, call in self.calls.items()
            if call.set.get("CALLAGENT_STATUS") == "ok"
        }

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def _waiting(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/api/v1/routing/waiting")
    assert response.status_code == 200, response.text
    return [w["call"].split(":", 1)[1] for w in response.json()]


async def _ready(client: httpx.AsyncClient, user_id: int) -> None:
    response = await client.post(f"/api/v1/operators/{user_id}/state", json={"state": "ready"})
    assert response.status_code == 200, response.text


def _claims(cluster: Cluster) -> list[tuple[int, str | None]]:
    """Every ready -> ringing the router made: (operator, call)."""
    with cluster.engine.connect() as conn:
        rows = conn.execute(
            select(OperatorStateChange.user_id, OperatorStateChange.call).where(
                OperatorStateChange.cause == "route"
            )
        )
        return [(user_id, call) for user_id, call in rows]


async def test_calls_waiting_on_two_instances_are_served_in_their_order(two: Cluster) -> None:
    a, b = two.instance("a"), two.instance("b")
    ids, token = _seed(two.url)
    headers = {"Authorization": f"Bearer {token}"}
    callers = Callers()
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=10, headers=headers) as api_a,
        httpx.AsyncClient(base_url=b.url, timeout=10, headers=headers) as api_b,
    ):
        try:
            # 1. Six callers, the dialplan's requests alternating between A and B; the
            # fifth is a call-back (priority 1): it goes before everyone
            order = []
            for n in range(6):
                instance = (a, b)[n % 2]
                linkedid = f"1796600000.{n}"
                callers.start(_agi_port(instance), linkedid, priority="1" if n == 4 else "")
                order.append(linkedid)
                await wait_for(lambda c=callers.calls[linkedid]: c.music, timeout=10)
            expected = [order[4], *order[:4], order[5]]
            # both instances list the one shared order
            assert await _waiting(api_a) == expected
            assert await _waiting(api_b) == expected
            positions = [c.commands[0] for c in callers.calls.values()]
            assert positions == [f'SAY NUMBER {p} ""' for p in (1, 2, 3, 4, 1, 6)]

            # 2. Operators become ready one by one, alternately through B's and A's API:
            # each goes to the first call in line, wherever it is held; and a newcomer
            # asking B the moment the operator is free does not take them
            for k, user_id in enumerate(ids):
                newcomer = f"1796600100.{k}"
                ready_at = time.monotonic()
                await _ready((api_b, api_a)[k % 2], user_id)
                callers.start(_agi_port(b), newcomer)
                await wait_for(lambda k=k: len(callers.served()) == k + 1, timeout=5)
                took = time.monotonic() - ready_at
                served = callers.served()
                assert set(served) == set(expected[: k + 1]), (k, served)
                assert served[expected[k]] == f"PJSIP/op{1001 + k}"
                assert newcomer not in served
                print(f"operator {k + 1} ready -> the first call in line served in {took:.2f} s")
                assert took < 1.5
            # no operator twice, no call twice; the router's claims say the same
            assert len(set(callers.served().values())) == OPERATORS
            claims = _claims(two)
            assert len(claims) == OPERATORS
            assert len({u for u, _ in claims}) == len({c for _, c in claims}) == OPERATORS
            # those served are off the shared list; who was tried is kept for their calls
            # (the last newcomer asked as the last operator was freed: listed once held)
            newcomers = [callers.calls[f"1796600100.{k}"] for k in range(OPERATORS)]
            await wait_for(lambda: all(c.music for c in newcomers), timeout=5)
            left = await _waiting(api_b)
            assert left == [*expected[OPERATORS:], *(f"1796600100.{k}" for k in range(OPERATORS))]
            with two.engine.connect() as conn:
                tried = conn.execute(select(func.count()).select_from(RoutingTried)).scalar()
                assert tried == OPERATORS
        finally:
            await callers.stop()
        # the callers hang up: their dialogues end and they leave the list, whichever
        # instance held them, at once (25 ms alone): sooner than HELD_LEASE, after which
        # a sweep would drop a row put back by a renewal racing the hang-up (the cause of
        # the 5-15 s seen under load before; test_a_renewal_in_flight_... below)
        await wait_for(lambda: _rows(two) == 0, timeout=HELD_LEASE - 1)


def _rows(cluster: Cluster) -> int:
    with cluster.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(WaitingCall)).scalar_one())


async def test_a_call_held_on_a_gets_the_operator_freed_through_b(two: Cluster) -> None:
    a, b = two.instance("a"), two.instance("b")
    ids, token = _seed(two.url)
    headers = {"Authorization": f"Bearer {token}"}
    callers = Callers()
    async with httpx.AsyncClient(base_url=b.url, timeout=10, headers=headers) as api_b:
        try:
            call = callers.start(_agi_port(a), "1796610000.1")
            await wait_for(lambda: call.music, timeout=10)
            loop = asyncio.get_running_loop()
            await asyncio.sleep(1.2)  # past A's recheck: only B's wake-up can serve it now
            ready = loop.time()
            await _ready(api_b, ids[0])
            await asyncio.wait_for(callers.tasks["1796610000.1"], 5)
            delay = answered_at(call) - ready
            print(f"operator ready on B -> A's held call answered in {delay * 1000:.0f} ms")
            assert call.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
            assert delay < 1.0
        finally:
            await callers.stop()


async def test_a_dead_instances_held_calls_drop_out_of_the_order(two: Cluster) -> None:
    a, b = two.instance("a"), two.instance("b")
    ids, token = _seed(two.url)
    headers = {"Authorization": f"Bearer {token}"}
    callers = Callers()
    async with httpx.AsyncClient(base_url=b.url, timeout=10, headers=headers) as api_b:
        try:
            first = callers.start(_agi_port(a), "1796620000.1")  # first in line, on A
            await wait_for(lambda: first.music, timeout=10)
            second = callers.start(_agi_port(b), "1796620000.2")  # behind it, on B
            await wait_for(lambda: second.music, timeout=10)
            assert await _waiting(api_b) == ["1796620000.1", "1796620000.2"]
            a.process.send_signal(signal.SIGKILL)
            await a.process.wait()
            killed = time.monotonic()
            # at once: A's caller is still first (A may only be slow), B's waits
            await _ready(api_b, ids[0])
            await asyncio.sleep(0.5)
            assert "CALLAGENT_STATUS" not in second.set
            # once A has not vouched for its call for HELD_LEASE s, B's call is next
            await asyncio.wait_for(callers.tasks["1796620000.2"], HELD_LEASE + 5)
            took = time.monotonic() - killed
            print(f"a killed instance's held call out of the order after {took:.1f} s")
            assert second.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
            assert await _waiting(api_b) == []
        finally:
            await callers.stop()


def test_the_dialplan_asks_the_other_instances_in_turn() -> None:
    """dialplan/extensions.conf: when the FastAGI address in use cannot be reached, an
    inbound call asks the next of CALLAGENT_AGI_MORE (then keeps it), and goes to the
    fallback queue only when none is left."""
    globals_, steps = dialplan()
    assert globals_["CALLAGENT_AGI_MORE"] == ""  # one instance: as before
    trunk = [s for s in steps if s.context == "from-trunk"]
    labels = {s.label: i for i, s in enumerate(trunk) if s.label}
    ask = next(i for i, s in enumerate(trunk) if s.app == "AGI" and "/route," in s.data)
    assert trunk[ask].data.startswith("${CALLAGENT_AGI}/route,")
    after = [s for s in trunk[ask + 1 :] if s.app == "GotoIf"]
    # the first decision after the AGI: not reached and another address left -> another
    assert after[0].data == (
        '$["${AGISTATUS}" = "FAILURE" & '
        '"${CUT(CALLAGENT_AGI_MORE,^,${CALLAGENT_AGI_NEXT})}" != ""]?another'
    )
    # the dialogue ended with no answer (the instance holding the caller died) -> another
    assert after[1].data == (
        '$["${AGISTATUS}" = "SUCCESS" & "${CALLAGENT_STATUS}" = "" & '
        '"${CUT(CALLAGENT_AGI_MORE,^,${CALLAGENT_AGI_NEXT})}" != ""]?another'
    )
    assert after[2].data == '$["${AGISTATUS}" != "SUCCESS"]?fallback'
    another = trunk[labels["another"] :][:3]
    assert [(s.app, s.data) for s in another] == [
        ("Set", "CALLAGENT_AGI=${CUT(CALLAGENT_AGI_MORE,^,${CALLAGENT_AGI_NEXT})}"),
        ("Set", "CALLAGENT_AGI_NEXT=$[${CALLAGENT_AGI_NEXT} + 1]"),
        ("Goto", "route"),
    ]
    # the count starts once per call, before the route loop (retries keep the address)
    start = next(i for i, s in enumerate(trunk) if s.data == "CALLAGENT_AGI_NEXT=1")
    assert start < labels["route"] < ask

    # what that does, played on those steps: for 0-2 other addresses and each number of
    # them that cannot be reached, the addresses asked in turn, then the fallback
    # (``died``: after those, how many end the dialogue with no answer, as an instance
    # killed while holding the caller does: Asterisk's AGISTATUS is then SUCCESS)
    def asked(more: str, down: int, died: int = 0) -> list[str]:
        variables = {"CALLAGENT_AGI": globals_["CALLAGENT_AGI"], "CALLAGENT_AGI_MORE": more}
        variables["CALLAGENT_AGI_NEXT"] = "1"
        tried: list[str] = []
        while True:
            tried.append(variables["CALLAGENT_AGI"])
            status = "FAILURE" if len(tried) <= down else "SUCCESS"
            ok = {"CALLAGENT_STATUS": "ok", "CALLAGENT_OPERATOR": "PJSIP/op1001"}
            if down < len(tried) <= down + died:
                ok = {"CALLAGENT_STATUS": "", "CALLAGENT_OPERATOR": ""}
            where = after_route({**variables, "AGISTATUS": status, **ok})
            if where != "another":
                return [*tried, where]
            for step in another[:2]:  # the two Set()s, as Asterisk runs them
                name, _, value = step.data.partition("=")
                value = expand(value, variables)
                total = re.fullmatch(r"\$\[(\d+) \+ (\d+)\]", value)
                variables[name] = str(int(total[1]) + int(total[2])) if total else value

    first = globals_["CALLAGENT_AGI"]
    assert asked("", 0) == [first, "Dial"]
    assert asked("", 1) == [first, "fallback"]
    assert asked("agi://b:4573^agi://c:4573", 1) == [first, "agi://b:4573", "Dial"]
    assert asked("agi://b:4573^agi://c:4573", 2) == [
        first,
        "agi://b:4573",
        "agi://c:4573",
        "Dial",
    ]
    assert asked("agi://b:4573^agi://c:4573", 3) == [
        first,
        "agi://b:4573",
        "agi://c:4573",
        "fallback",
    ]
    # a held caller whose instance died asks the next; with none left, the fallback
    assert asked("", 0, died=1) == [first, "fallback"]
    assert asked("agi://b:4573^agi://c:4573", 0, died=1) == [first, "agi://b:4573", "Dial"]
    assert asked("agi://b:4573^agi://c:4573", 1, died=1) == [
        first,
        "agi://b:4573",
        "agi://c:4573",
        "Dial",
    ]
    assert asked("agi://b:4573^agi://c:4573", 0, died=3)[-1] == "fallback"


def test_migration_0023_is_the_model(pg_url: str) -> None:  # noqa: F811
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if "waiting_calls" in repr(d) or "routing_tried" in repr(d)] == []
    assert {"waiting_calls", "routing_tried"} <= set(Base.metadata.tables)


def test_the_shared_list_orders_vouches_and_forgets(pg_url: str) -> None:  # noqa: F811
    """routing/shared.py on its own: two instances' calls in one order; a held call
    whose instance stops vouching stops counting and is dropped; vouched for again (the
    instance was only slow) it is back in its place; tried operators go with the call."""
    engine = make_engine(pg_url)
    try:
        a = SharedCalls(engine, "a", silence=30.0, held_lease=0.3)
        b = SharedCalls(engine, "b", silence=30.0, held_lease=0.3)
        x = a.enter("pbx1:x", None, 0, a.turn("pbx1:x", 0).asked)
        a.renew([("pbx1:x", None, 0, x)])  # held on A
        b.enter("pbx1:y", None, 0, b.turn("pbx1:y", 0).asked)  # told wait on B
        assert b.turn("pbx1:z", 0).ahead == 2  # a newcomer: behind both
        assert b.turn("pbx1:y", 0).ahead == 1
        assert b.turn("pbx1:z", 5).ahead == 0  # a call-back goes first
        time.sleep(0.4)  # A stopped vouching for x
        assert b.turn("pbx1:y", 0).ahead == 0
        assert b.expire()[0] == 1 and [r.call for r, _ in b.waiting_now()] == ["pbx1:y"]
        a.renew([("pbx1:x", None, 0, x)])  # A was only slow: x is back, first
        assert [r.call for r, _ in b.waiting_now()] == ["pbx1:x", "pbx1:y"]
        with engine.begin() as conn:
            SharedCalls.claimed(conn, [("pbx1:y", 7)])  # y got operator 7: off the list
        assert [r.call for r, _ in a.waiting_now()] == ["pbx1:x"]
        assert a.turn("pbx1:y", 0).tried == {7} and not a.passed_over("pbx1:y", 7)
        a.move_on("pbx1:y")  # 7 did not answer
        assert a.passed_over("pbx1:y", 7)
        b.forget(["pbx1:x", "pbx1:y"])
        assert a.kept() == set()
    finally:
        engine.dispose()


async def test_a_renewal_in_flight_never_puts_back_a_call_that_left(
    pg_url: str,  # noqa: F811
) -> None:
    """The order test's last step (the callers' rows leaving the list) took 25 ms alone
    and once more than 15 s under load: a renewal that read the held calls before a
    caller hung up, and wrote after that caller's row was deleted, put the row back,
    where it stayed until nobody had vouched for it for HELD_LEASE s and a sweep came.
    Here the renewal is made slow on purpose and the caller hangs up inside it."""
    engine = make_engine(pg_url)
    shared = SharedCalls(engine, "a")
    router = Router(
        OperatorBook(make_sessionmaker(engine), skip_seconds=0), node="pbx1", shared=shared
    )
    server = FastAgiServer({"route": router.route}, port=0)
    await server.start()
    renewing = threading.Event()
    original = shared.renew

    def slow_renew(held: Any) -> None:
        if held:
            renewing.set()
            time.sleep(0.5)  # a worker thread slowed by load
        original(held)

    try:
        call = AgiCall("route", "1796630000.1", args=dialplan_args("1796630000.1"))
        call.hangup = asyncio.Event()
        dialogue = asyncio.create_task(run_agi(call, "127.0.0.1", server.port, timeout=30))
        await wait_for(lambda: call.music, timeout=10)
        assert [r.call for r, _ in shared.waiting_now()] == ["pbx1:1796630000.1"]
        shared.renew = slow_renew  # type: ignore[method-assign]
        router._renewed = float("-inf")  # due now
        renewal = asyncio.create_task(router._renew())
        await asyncio.to_thread(renewing.wait, 5)
        call.hangup.set()  # the caller hangs up while the renewal is being written
        await asyncio.wait_for(dialogue, 5)
        await asyncio.wait_for(renewal, 5)
        await wait_for(lambda: _count(engine) == 0, timeout=1.0)  # not HELD_LEASE later
    finally:
        await router.close()
        await server.stop()
        engine.dispose()


def _count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(WaitingCall)).scalar_one())
