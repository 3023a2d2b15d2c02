"""Two instances, two simulated PBX nodes, one PostgreSQL (issue #16): ``route`` keys each
call by the node it is on, and a held caller outlives the instance that held it.

- Each node's simulator plays an inbound call that asks ``route`` of the instance that
  does *not* follow that node (and whose first configured node is the other one): the
  operator's claim, the call's record and what the shared state kept all name the
  call's own node, and everything routing kept of the call is gone once it ends.
- A caller held by instance A, A killed: the dialogue ends with no answer, the shipped
  dialplan asks the next address of ``CALLAGENT_AGI_MORE`` (B), where the caller keeps
  their place in line ahead of a call that began to wait on B after theirs.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callagent.db.models import Call
from callagent.db.routing_models import RoutingTried, WaitingCall
from callagent.db.session import make_engine
from callagent.routing.node_of import NodeNames
from callagent.sim.ami_server import AmiServer
from callagent.sim.pbx import SimulatedPbx
from callagent.sim.scenarios import Behaviour, Dist
from tests.conftest import TRACES, wait_for
from tests.test_held_calls import after_route
from tests.test_node_takeover import (  # noqa: F401
    NODES,
    Cluster,
    _start_instance,
    pg_url,
    started,
)
from tests.test_routing_shared import (
    _PORTS,
    Callers,
    _claims,
    _ready,
    _seed,
    _waiting,
    start_routing,
)


@pytest.fixture
async def pair(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:  # noqa: F811
    """Instances a and b (both answering FastAGI, both configured with pbx1 then pbx2),
    one simulated PBX per node, each asking ``route`` of the instance that does not
    hold its node's lease."""
    pbxs = {node: AmiServer() for node in NODES}
    for pbx in pbxs.values():
        await pbx.start()
    engine = make_engine(pg_url)
    cluster = Cluster(pg_url, engine, pbxs, {})
    people = Behaviour(answer_delay=Dist.fixed(0.3), talk_time=Dist.fixed(1.0), seed=1)
    try:
        for name in ("a", "b"):
            await start_routing(cluster, name, tmp_path)
        await started(cluster, lambda: set(cluster.owners()) == set(NODES), timeout=20)
        owners = {node: owner for node, (owner, _) in cluster.owners().items()}
        for node, pbx in pbxs.items():
            other = "b" if owners[node] == "a" else "a"
            cluster.sims[node] = SimulatedPbx(
                pbx, TRACES, agi_port=_PORTS[other], speed=1.0, behaviour=people, node=node
            )
            await wait_for(lambda p=pbx: any(c.logged_in for c in p.connections))
        yield cluster
    finally:
        await cluster.close()


def _kept(cluster: Cluster) -> tuple[int, int]:
    """(waiting_calls rows, routing_tried rows)."""
    with cluster.engine.connect() as conn:
        waiting = conn.execute(select(func.count()).select_from(WaitingCall)).scalar_one()
        tried = conn.execute(select(func.count()).select_from(RoutingTried)).scalar_one()
        return int(waiting), int(tried)


async def test_route_keys_each_call_by_its_own_node(pair: Cluster) -> None:
    ids, token = _seed(pair.url)
    headers = {"Authorization": f"Bearer {token}"}
    # op1001's phone on pbx1, op1002's on pbx2
    phones = {"pbx1": ("PJSIP/op1001", ids[0]), "pbx2": ("PJSIP/op1002", ids[1])}
    for node, (phone, _) in phones.items():
        await pair.sims[node].register_phones([phone])
    async with httpx.AsyncClient(base_url=pair.instances[0].url, headers=headers) as api:
        # one call per node, each asking the instance that does not follow its node
        for node in ("pbx2", "pbx1"):  # pbx2 first: every instance's first node is pbx1
            phone, user_id = phones[node]
            await _ready(api, user_id)
            played = await asyncio.wait_for(pair.sims[node].play("answered", "79261110000"), 30)
            assert played.routed and played.answered_by == phone, (node, played)

            def stored(node: str = node, linkedid: str = played.linkedid) -> bool:
                rows = [r for r in pair.calls(node) if r[0] == linkedid]
                return len(rows) == 1 and bool(rows[0][1])

            await wait_for(stored, timeout=10)
    # the claims name each call as its node's AMI does (the records' node:linkedid)
    records = {f"{node}:{linkedid}" for node in NODES for linkedid, *_ in pair.calls(node)}
    assert len(records) == 2
    claimed = {call for _, call in _claims(pair)}
    assert claimed == records, (claimed, records)
    with pair.engine.connect() as conn:
        assert {n for (n,) in conn.execute(select(Call.node))} == set(NODES)
    # the ends heard on each node found what routing kept of their calls
    await wait_for(lambda: _kept(pair) == (0, 0), timeout=10)
    # callagent-agi's HTTP route names the node too (CALLAGENT_NODE)
    await pair.sims["pbx2"].register_phones(["PJSIP/op1003"])
    async with httpx.AsyncClient(base_url=pair.instances[0].url, headers=headers) as api:
        await _ready(api, ids[2])
        answer = await api.post(
            "/api/v1/routing/route", json={"linkedid": "1796660000.1", "node": "pbx2"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["variables"]["CALLAGENT_OPERATOR"] == "PJSIP/op1003"
    assert (ids[2], "pbx2:1796660000.1") in _claims(pair)


async def test_a_held_caller_of_a_killed_instance_asks_the_next_and_keeps_its_place(
    pair: Cluster,
) -> None:
    a, b = pair.instance("a"), pair.instance("b")
    ids, token = _seed(pair.url)
    headers = {"Authorization": f"Bearer {token}"}
    callers = Callers()
    more = f"agi://127.0.0.1:{_PORTS['b']}"  # A's dialplan: CALLAGENT_AGI_MORE = B
    async with httpx.AsyncClient(base_url=b.url, timeout=10, headers=headers) as api_b:
        try:
            first = callers.start(_PORTS["a"], "1796640000.1")  # held on A
            await wait_for(lambda: first.music, timeout=10)
            second = callers.start(_PORTS["b"], "1796640000.2")  # behind it, on B
            await wait_for(lambda: second.music, timeout=10)
            assert await _waiting(api_b) == ["1796640000.1", "1796640000.2"]
            a.process.send_signal(signal.SIGKILL)
            await a.process.wait()
            await asyncio.wait_for(callers.tasks.pop("1796640000.1"), 5)
            # A's dialogue ended with no answer: the dialplan asks the next address
            assert "CALLAGENT_STATUS" not in first.set and not first.hung_up
            variables = {"AGISTATUS": "SUCCESS", "CALLAGENT_AGI_MORE": more}
            assert after_route({**variables, "CALLAGENT_STATUS": ""}) == "another"
            again = callers.start(_PORTS["b"], "1796640000.1")
            await wait_for(lambda: again.music, timeout=10)
            # ... where it is first in line still (its row kept its place)
            assert again.commands[0] == 'SAY NUMBER 1 ""'
            assert await _waiting(api_b) == ["1796640000.1", "1796640000.2"]
            await _ready(api_b, ids[0])
            await asyncio.wait_for(callers.tasks["1796640000.1"], 5)
            assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1001"
            assert "CALLAGENT_STATUS" not in second.set
            await _ready(api_b, ids[1])
            await asyncio.wait_for(callers.tasks["1796640000.2"], 5)
            assert second.set["CALLAGENT_OPERATOR"] == "PJSIP/op1002"
        finally:
            await callers.stop()


def test_node_names_resolve_a_request_to_its_node() -> None:
    nodes = NodeNames([("pbx1", "10.0.0.5"), ("pbx2", "10.0.0.6"), ("pbx3", "10.0.0.6")])
    assert nodes.several and nodes.default == "pbx1"
    assert nodes.resolve("pbx2", "10.0.0.5") == "pbx2"  # the dialplan's word first
    assert nodes.resolve("", "10.0.0.5") == "pbx1"
    assert nodes.resolve(None, "10.0.0.5") == "pbx1"
    assert nodes.resolve("", "10.0.0.6") == "pbx1"  # two nodes on one address: unknown
    assert nodes.resolve("nope", "10.0.0.7") == "pbx1"
    one = NodeNames([("east", "127.0.0.1")])
    assert not one.several and one.resolve(None, None) == "east"
