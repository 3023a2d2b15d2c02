"""A 30 s database outage with two instances (issue #16): real ``callagent serve``
processes on PostgreSQL, reached through a TCP proxy the test stops (every connection
cut, new ones refused) for :data:`OUTAGE` seconds, the simulator as the PBX node.

During the outage:
- both instances keep answering ``route`` at once, with no operator and
  ``CALLAGENT_STATUS=unavailable``: the shipped dialplan sends the caller to the
  fallback queue; a caller already held stays held;
- the node's holder keeps reading AMI: a call that ends, and a whole call placed and
  ended, are read and held.
Afterwards, without anyone's help: both are ready again, the node is still followed by
its holder (the other instance did not take it while the database was away for both),
both calls' records are stored final with their real hang-ups (none closed by a resync,
none twice), the operator of the call that ended is in wrap-up, and a caller held on b
through the whole outage (music, its place kept) gets the operator made ready on a.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callagent.db.models import OperatorStateChange, User
from callagent.db.session import make_engine
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import AmiServer
from callagent.sim.pbx import Played, SimulatedPbx
from callagent.sim.scenarios import Behaviour, Dist
from tests.conftest import TRACES, wait_for
from tests.test_db_outage import TcpProxy, _proxied
from tests.test_held_calls import after_route, dialplan_args
from tests.test_node_takeover import Cluster, Instance, _start_instance, pg_url, started  # noqa: F401
from tests.test_routing_shared import _PORTS, Callers, _ready, _seed, start_routing

OUTAGE = 30.0  # seconds: the figure (longer than a node lease and a held lease)
TALK = 6.0


@dataclass
class Outage:
    cluster: Cluster
    proxy: TcpProxy
    sim: SimulatedPbx


@pytest.fixture
async def outage(pg_url: str, tmp_path: Path) -> AsyncIterator[Outage]:  # noqa: F811
    """Instances a (the node's holder) and b, through a proxy to PostgreSQL."""
    with _proxied(pg_url) as (url, proxy):
        assert proxy is not None
        pbx = AmiServer()
        await pbx.start()
        engine = make_engine(pg_url)  # the test's own reads: straight to PostgreSQL
        people = Behaviour(answer_delay=Dist.fixed(0.3), talk_time=Dist.fixed(TALK), seed=1)
        sim = SimulatedPbx(pbx, TRACES, speed=1.0, behaviour=people, node="pbx1")
        cluster = Cluster(url, engine, {"pbx1": pbx}, {"pbx1": sim})
        try:
            for name in ("a", "b"):
                await start_routing(cluster, name, tmp_path)
                if name == "a":  # a holds the node
                    await started(cluster, lambda: "pbx1" in cluster.owners(), timeout=20)
            sim.agi_port = _PORTS["a"]
            await wait_for(lambda: any(c.logged_in for c in pbx.connections))
            yield Outage(cluster, proxy, sim)
        finally:
            await cluster.close()


async def _route_now(port: int, linkedid: str) -> tuple[AgiCall, float]:
    """One ``route`` as the shipped dialplan asks it; the answer and how long it took."""
    call = AgiCall("route", linkedid, args=dialplan_args(linkedid))
    began = time.monotonic()
    await run_agi(call, "127.0.0.1", port, timeout=10)
    return call, time.monotonic() - began


def _changes(cluster: Cluster, user_id: int) -> list[tuple[str, str, str | None]]:
    with cluster.engine.connect() as conn:
        rows = conn.execute(
            select(
                OperatorStateChange.to_state, OperatorStateChange.cause, OperatorStateChange.call
            )
            .where(OperatorStateChange.user_id == user_id)
            .order_by(OperatorStateChange.id)
        )
        return [(str(s), str(c), call) for s, c, call in rows]


async def test_a_30_s_database_outage_with_two_instances(outage: Outage) -> None:
    cluster, proxy, sim = outage.cluster, outage.proxy, outage.sim
    a, b = cluster.instance("a"), cluster.instance("b")
    ids, token = _seed(cluster.url)
    headers = {"Authorization": f"Bearer {token}"}
    await sim.register_phones(["PJSIP/op1001", "PJSIP/op1002", "PJSIP/op1003"])
    async with httpx.AsyncClient(base_url=b.url, timeout=10, headers=headers) as api:
        await _ready(api, ids[0])
        # 1. An inbound call routed to op1001, talking when the database goes away
        first = asyncio.create_task(sim.play("answered", "79261110001"))
        await wait_for(lambda: sim.played and sim.played[-1].answered_by, timeout=15)
        token_before = cluster.owners()["pbx1"]
        # a caller held on b (nobody free): held through the outage, in its place
        callers = Callers()
        held = callers.start(_PORTS["b"], "1796650001.1")
        await wait_for(lambda: held.music, timeout=10)
        proxy.stop()
        cut = time.monotonic()
        try:
            # 2. route on both instances: an answer at once, no operator, the fallback
            for n, instance in enumerate((a, b)):
                call, took = await _route_now(_PORTS[instance.name], f"1796650000.{n}")
                print(f"route on {instance.name} during the outage: {took * 1000:.0f} ms")
                assert took < 2.0, took
                assert call.set.get("CALLAGENT_STATUS") == "unavailable", call.set
                assert not call.set.get("CALLAGENT_OPERATOR")
                variables = {"AGISTATUS": "SUCCESS", **call.set}
                assert after_route(variables) == "fallback"
            # 3. the first call ends; a whole call (op1002 dials out) is placed and ends
            played: Played = await asyncio.wait_for(first, TALK + 10)
            second = await asyncio.wait_for(
                sim.play("operator_outbound_manual", "79261110002"), TALK + 10
            )
            assert not a.process.returncode and not b.process.returncode
            # route still answers, late in the outage (nothing piled up meanwhile)
            await asyncio.sleep(max(0.0, OUTAGE - 3 - (time.monotonic() - cut)))
            call, took = await _route_now(_PORTS["b"], "1796650000.9")
            assert took < 2.0 and call.set.get("CALLAGENT_STATUS") == "unavailable"
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - cut)))
        finally:
            proxy.start()
        back = time.monotonic()
        print(f"database away for {back - cut:.1f} s")
        # 4. recovered by themselves
        for instance in (a, b):
            await started(cluster, lambda i=instance: _ready_ok(i), timeout=30)
        print(f"both ready {time.monotonic() - back:.1f} s after the database came back")
        owner, token_after = cluster.owners()["pbx1"]
        assert owner == "a" and token_after == token_before[1], (token_before, owner, token_after)
        # what a read from AMI during the outage is stored, once, with the real ends
        linkedids = {played.linkedid, second.linkedid}

        def stored() -> bool:
            rows = [r for r in cluster.calls("pbx1") if r[0] in linkedids]
            return len(rows) == 2 and all(r[1] for r in rows)

        try:
            await wait_for(stored, timeout=20)
        except AssertionError:
            raise AssertionError(
                f"{cluster.calls('pbx1')} {linkedids}\n{a.log.read_text(errors='replace')[-5000:]}"
            ) from None
        print(f"both calls stored {time.monotonic() - back:.1f} s after")
        rows = cluster.calls("pbx1")
        assert sorted(r[0] for r in rows) == sorted(linkedids)
        for linkedid, final, by_resync, disposition, ended, _ in rows:
            assert final and not by_resync and disposition == "answered", linkedid
            assert ended is not None
        # op1001's call ended during the outage: on_call -> wrap_up, for that call
        key = f"pbx1:{played.linkedid}"
        await wait_for(lambda: ("wrap_up", "call", key) in _changes(cluster, ids[0]), timeout=10)
        with cluster.engine.connect() as conn:
            state = conn.execute(select(User.state).where(User.id == ids[0])).scalar_one()
        assert str(state) == "wrap_up"
        # 5. route serves again: the caller held through the outage gets op1003, made
        # ready through a
        try:
            assert "CALLAGENT_STATUS" not in held.set and not held.ended_at
            async with httpx.AsyncClient(base_url=a.url, timeout=10, headers=headers) as api_a:
                await _ready(api_a, ids[2])
            await asyncio.wait_for(callers.tasks["1796650001.1"], 10)
            assert held.set["CALLAGENT_OPERATOR"] == "PJSIP/op1003"
        finally:
            await callers.stop()
    # 6. past the hold-off (a lease, 6 s, after the database came back) and a poll: the
    # node is still a's, never taken from it
    await asyncio.sleep(max(0.0, back + 8.0 - time.monotonic()))
    assert cluster.owners()["pbx1"] == (owner, token_after)
    assert await a.metric("callagent_node_losses_total") == 0
    assert await b.metric("callagent_node_takeovers_total") == 0


async def _ready_ok(instance: Instance) -> bool:
    try:
        return bool((await instance.readyz())["ready"])
    except httpx.HTTPError:
        return False
