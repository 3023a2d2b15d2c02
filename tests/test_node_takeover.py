"""Several callagent instances on one PostgreSQL, two simulated PBX nodes (issue #16).

Three real ``callagent serve`` processes are configured with both nodes; each node is
followed by one of them (its lease). Calls flow on both nodes; the owner of ``pbx1`` is
killed (SIGKILL) or frozen (SIGSTOP) in the middle of the calls. Another instance takes
the node over, resynchronises and completes the calls' records: as many records as the
simulator placed, none twice, each ended by its real hang-up (not closed by a resync).
A frozen owner woken after the takeover (SIGCONT) writes nothing more.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from callagent.db.lease_models import NodeLease
from callagent.db.models import Call
from callagent.db.session import make_engine
from callagent.sim.ami_server import AmiServer
from callagent.sim.pbx import Played, SimulatedPbx
from callagent.sim.scenarios import Behaviour, Dist
from tests.conftest import TRACES, _pg_database, _pg_drop, require_postgres, wait_for
from tests.test_queue_sync import free_port

NODES = ("pbx1", "pbx2")
TALK = 25.0  # seconds each call talks: longer than a takeover
CALLS_PER_NODE = 6
PHONES = [f"PJSIP/op{1001 + n}" for n in range(CALLS_PER_NODE)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own (several instances need PostgreSQL)."""
    server = require_postgres()
    name, url = _pg_database(server)
    try:
        yield url
    finally:
        _pg_drop(server, name)


@dataclass
class Instance:
    """One ``callagent serve`` process."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def readyz(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=2) as client:
            return dict((await client.get(f"{self.url}/readyz")).json())

    async def metric(self, name: str) -> float:
        async with httpx.AsyncClient(timeout=2) as client:
            text = (await client.get(f"{self.url}/metrics")).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not in /metrics")


@dataclass
class Cluster:
    """Two simulated nodes and three instances on one database."""

    url: str
    engine: Engine
    pbxs: dict[str, AmiServer]
    sims: dict[str, SimulatedPbx]
    instances: list[Instance] = field(default_factory=list)

    def owners(self) -> dict[str, tuple[str, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(NodeLease.node, NodeLease.owner, NodeLease.token))
            return {node: (owner, token) for node, owner, token in rows}

    def instance(self, name: str) -> Instance:
        return next(i for i in self.instances if i.name == name)

    async def close(self) -> None:
        """Kill the instances still running (a frozen one too), stop the simulators and
        the PBXs, and let go of the database."""
        for instance in self.instances:
            if instance.process.returncode is None:
                instance.process.send_signal(signal.SIGCONT)
                instance.process.kill()
                await instance.process.wait()
        for sim in self.sims.values():
            await sim.stop()
        for pbx in self.pbxs.values():
            await pbx.stop()
        self.engine.dispose()

    def calls(self, node: str) -> list[tuple[str, bool, bool, str, Any, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    Call.linkedid,
                    Call.final,
                    Call.closed_by_resync,
                    Call.disposition,
                    Call.ended_at,
                    Call.updated_at,
                ).where(Call.node == node)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]


async def _start_instance(
    cluster: Cluster, name: str, tmp: Path, *, agi_port: int | None = None
) -> Instance:
    nodes = [
        {
            "name": node,
            "host": "127.0.0.1",
            "port": pbx.port,
            "username": pbx.username,
            "secret": pbx.secret,
        }
        for node, pbx in cluster.pbxs.items()
    ]
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONFAULTHANDLER": "1",  # SIGABRT shows where a stuck instance is
        "CALLAGENT_DATABASE_URL": cluster.url,
        "CALLAGENT_AMI_NODES": json.dumps(nodes),
        "CALLAGENT_AMI_RECONNECT_MIN": "0.1",
        "CALLAGENT_AMI_RECONNECT_MAX": "1",
        "CALLAGENT_HTTP_PORT": str(port),
        "CALLAGENT_INSTANCE_ID": name,
        "CALLAGENT_AGI_ENABLED": "false" if agi_port is None else "true",
        "CALLAGENT_AGI_PORT": str(agi_port or 0),
        "CALLAGENT_SIMULATOR": "off",
        "CALLAGENT_CAMPAIGN_SCHEDULER": "off",
        "CALLAGENT_CALLBACK_DIALER": "off",
        "CALLAGENT_FALLBACK_QUEUE": "",
        "CALLAGENT_REPORT_AGGREGATE_SECONDS": "0",
        "CALLAGENT_WRITER_FLUSH_INTERVAL": "0",
        "CALLAGENT_COOKIE_SECURE": "false",  # pages' logins over plain HTTP in the tests
        "CALLAGENT_RECORDINGS_DIR": str(tmp / f"rec-{name}"),
    }
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callagent", "serve", env=env, stdout=out, stderr=out
        )
    instance = Instance(name, port, process, log)
    cluster.instances.append(instance)
    return instance


async def started(cluster: Cluster, predicate: Any, timeout: float = 60) -> None:
    """Wait for ``predicate``; if it never holds, every instance's threads' stacks go to
    its log (faulthandler on SIGABRT) so a stuck start-up says where it stuck."""
    try:
        await wait_for(predicate, timeout=timeout, interval=0.2)
    except AssertionError:
        for instance in cluster.instances:
            if instance.process.returncode is None:
                instance.process.send_signal(signal.SIGABRT)
        await asyncio.sleep(1.0)
        logs = [
            f"--- {i.name}\n{i.log.read_text(errors='replace')[-6000:]}" for i in cluster.instances
        ]
        raise AssertionError("instances not up:\n" + "\n".join(logs)) from None


async def _ready(instance: Instance) -> bool:
    try:
        return bool((await instance.readyz())["ready"])
    except httpx.HTTPError:
        return False


@pytest.fixture
async def cluster(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    pbxs = {node: AmiServer() for node in NODES}
    for pbx in pbxs.values():
        await pbx.start()
    people = Behaviour(answer_delay=Dist.fixed(0.5), talk_time=Dist.fixed(TALK), seed=1)
    # agi_port: unused (operators' own outbound calls ask callagent nothing)
    sims = {
        node: SimulatedPbx(pbx, TRACES, agi_port=free_port(), speed=1.0, behaviour=people)
        for node, pbx in pbxs.items()
    }
    engine = make_engine(pg_url)
    cluster = Cluster(pg_url, engine, pbxs, sims)
    try:
        for name in ("a", "b", "c"):
            await _start_instance(cluster, name, tmp_path)
        for instance in cluster.instances:
            await started(cluster, lambda i=instance: _ready(i))
        await started(cluster, lambda: set(cluster.owners()) == set(NODES), timeout=20)
        for node, sim in sims.items():
            # the owner is logged in: the phones' registrations reach it
            await wait_for(lambda p=pbxs[node]: any(c.logged_in for c in p.connections))
            await sim.register_phones(PHONES)
        yield cluster
    finally:
        await cluster.close()


async def _place_calls(cluster: Cluster) -> dict[str, list[asyncio.Task[Played]]]:
    """Calls on both nodes, 0.3 s apart: operators dialling out, each talking TALK s."""
    tasks: dict[str, list[asyncio.Task[Played]]] = {node: [] for node in NODES}
    for n in range(CALLS_PER_NODE):
        for node, sim in cluster.sims.items():
            caller = f"7926000{n:04d}"
            tasks[node].append(asyncio.create_task(sim.play("operator_outbound_manual", caller)))
        await asyncio.sleep(0.3)
    return tasks


async def _all_in_progress(cluster: Cluster, node: str) -> None:
    def stored() -> bool:
        rows = cluster.calls(node)
        return len(rows) == CALLS_PER_NODE and all(r[3] == "answered" for r in rows)

    await wait_for(stored, timeout=10)


async def _takeover(cluster: Cluster, node: str, before: tuple[str, int]) -> tuple[str, float]:
    """Wait until another instance holds ``node``; who, and how long it took."""
    started = time.monotonic()
    await wait_for(lambda: cluster.owners()[node][0] != before[0], timeout=20, interval=0.05)
    owner, token = cluster.owners()[node]
    assert token > before[1]  # a new holder, a new fencing token
    # ... and it follows the node: logged in and resynchronised
    await wait_for(lambda: _ready(cluster.instance(owner)), timeout=10, interval=0.1)
    return owner, time.monotonic() - started


async def _check_records(cluster: Cluster, tasks: dict[str, list[asyncio.Task[Played]]]) -> None:
    """As many records as calls placed, none twice, each ended by its own hang-up."""
    played = {node: await asyncio.gather(*ts) for node, ts in tasks.items()}
    for node in NODES:
        placed = {p.linkedid for p in played[node]}
        assert len(placed) == CALLS_PER_NODE
        assert all(p.answered_by for p in played[node])

        def complete(node: str = node) -> bool:
            rows = cluster.calls(node)
            return len(rows) == CALLS_PER_NODE and all(r[1] for r in rows)

        await wait_for(complete, timeout=20)
        rows = cluster.calls(node)
        assert sorted(r[0] for r in rows) == sorted(placed)  # no duplicate, none missing
        for linkedid, final, by_resync, disposition, ended, _ in rows:
            assert final and disposition == "answered", linkedid
            # the record followed the real hang-up, not a resync that found it gone
            assert not by_resync, linkedid
            assert ended is not None


async def test_kill_9_of_a_nodes_owner_mid_call(cluster: Cluster) -> None:
    tasks = await _place_calls(cluster)
    for node in NODES:
        await _all_in_progress(cluster, node)
    before = cluster.owners()["pbx1"]
    victim = cluster.instance(before[0])
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    owner, took = await _takeover(cluster, "pbx1", before)
    print(f"takeover after kill -9: {took:.2f} s by {owner}")
    assert took <= 10.0  # CALLAGENT_NODE_TAKEOVER_SECONDS's default
    # the calls still talk: they end under the new owner
    assert any(not r[1] for r in cluster.calls("pbx1"))
    await _check_records(cluster, tasks)
    survivor = cluster.instance(owner)
    assert "pbx1" in (await survivor.readyz())["owned_nodes"]
    assert await survivor.metric("callagent_node_takeovers_total") >= 1
    assert await survivor.metric('callagent_node_owned{node="pbx1"}') == 1.0


async def test_a_frozen_owner_is_taken_over_and_never_writes_again(cluster: Cluster) -> None:
    tasks = await _place_calls(cluster)
    for node in NODES:
        await _all_in_progress(cluster, node)
    before = cluster.owners()["pbx1"]
    frozen = cluster.instance(before[0])
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        owner, took = await _takeover(cluster, "pbx1", before)
        print(f"takeover after SIGSTOP: {took:.2f} s by {owner}")
        assert took <= 10.0
        await _check_records(cluster, tasks)
        settled = {node: sorted(cluster.calls(node)) for node in NODES}
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    # Woken up, it holds events and writes until the database says whose nodes they are:
    # it learns it lost them, and its records stay as the new owner left them.
    await wait_for(lambda: _ready(frozen), timeout=15, interval=0.1)
    await wait_for(lambda: frozen.metric("callagent_node_losses_total"), timeout=10, interval=0.1)
    status = await frozen.readyz()
    assert "pbx1" not in status["owned_nodes"]
    assert not status["ami_nodes"]["pbx1"]["connected"]
    await asyncio.sleep(2.0)  # time enough for a stray write to land
    assert {node: sorted(cluster.calls(node)) for node in NODES} == settled
    assert cluster.owners()["pbx1"][0] == owner
    assert frozen.process.returncode is None  # alive: it is fenced, not dead
