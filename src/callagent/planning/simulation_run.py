"""Play one interval's callers through callagent and its own PBX simulator.

A whole callagent (:func:`callagent.api.app.create_app`'s lifespan: the AMI listener,
the tracker, the call writer, the operator book and FastAGI ``route``) runs against a
fresh SQLite file of its own (the centre's database never sees a simulated call), and
follows the built-in simulator (:class:`callagent.sim.pbx.SimulatedPbx`) over real AMI
and FastAGI on 127.0.0.1. ``agents`` demo operators are signed in and ready; each caller
of :func:`callagent.planning.simulation.draw_callers` is the recorded ``answered`` call,
played when they call, held on the ``route`` dialogue while nobody is free (the shipped
dialplan), hanging up when their patience ends; an answered caller talks for their drawn
time, then the operator presses *54 after the after-call work. The clock runs ``speed``
times faster than real time (the simulator's own accelerated clock), so a 30-minute
interval plays in 36 s at speed 50. The calls callagent stored are read with the
reports' loader and measured by the KPI engine.

The callers are the seed's; what they meet depends also on how fast the machine answered
(a few milliseconds of real time are ``speed`` times as many simulated ones), so two
runs of one seed agree closely, not to the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from callagent.api.app import create_app
from callagent.config import AmiNode, Settings
from callagent.db.models import Call
from callagent.db.session import upgrade
from callagent.planning.simulation import (
    RING_SECONDS,
    WRAPUP_SECONDS,
    Caller,
    SimulatedFigures,
    SimulationInput,
    draw_callers,
    figures,
)
from callagent.reports.facts import load_facts
from callagent.routing import router as router_module
from callagent.routing.router import Router
from callagent.sim.ami_server import AmiServer
from callagent.sim.demo import TRACES, demo_operators
from callagent.sim.pbx import SimulatedPbx
from callagent.sim.scenarios import Behaviour, Dist

log = logging.getLogger(__name__)

SETTLE_SECONDS = 30.0  # real seconds for the last calls to reach the database


def _settings(url: str, ami: AmiServer, work: Path) -> Settings:
    """A callagent of its own: the simulator's AMI, FastAGI on a free port, nothing that
    dials out or writes elsewhere."""
    node = AmiNode(name="sim", port=ami.port, username=ami.username, secret=SecretStr(ami.secret))
    return Settings(
        _env_file=None,
        database_url=url,
        ami_nodes=[node],
        agi_host="127.0.0.1",
        agi_port=0,
        agi_enabled=True,
        simulator="off",
        campaign_scheduler="off",
        callback_dialer="off",
        report_aggregate_seconds=0,
        fallback_queue="",
        writer_flush_interval=0.0,
        recordings_dir=str(work / "recordings"),
    )


async def simulate(one: SimulationInput, *, work: Path | None = None) -> SimulatedFigures:
    """Play ``one``'s callers through callagent and its simulator; the measured figures.
    Raises ValueError for an interval it cannot play (see ``SimulationInput.check``)."""
    one.check()
    if work is None:
        with tempfile.TemporaryDirectory(prefix="callagent-sim-") as folder:
            return await _simulate(one, Path(folder))
    return await _simulate(one, work)


async def _simulate(one: SimulationInput, work: Path) -> SimulatedFigures:
    callers = draw_callers(one)
    url = f"sqlite:///{work / 'simulation.db'}"
    await asyncio.to_thread(upgrade, url)
    ami = AmiServer()
    await ami.start()
    began = time.monotonic()
    late = 0.0
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        app = create_app(_settings(url, ami, work))
        async with app.router.lifespan_context(app):
            state: Any = app.state
            endpoints = await asyncio.to_thread(
                demo_operators, state.sessions, state.book, one.agents
            )
            pbx = SimulatedPbx(
                ami,
                TRACES,
                agi_port=state.agi.port,
                speed=one.speed,
                behaviour=Behaviour(seed=one.seed),
                hold=True,
                # a caller without patience waits as long as it takes (the simulator's
                # default gives up after 30 waits of 2 s)
                max_route_tries=10**9,
            )
            with _scaled_pauses(state.router, one.speed):
                await ami.connection(0, timeout=30)
                await pbx.register_phones(endpoints)
                await asyncio.sleep(0.5)  # the phones' states reach the operator book
                began = time.monotonic()
                late = await _play(pbx, callers, one.speed)
                await _settled(state, len(callers), since)
                await pbx.stop()
            with state.sessions() as session:
                facts = load_facts(session, since=since, until=datetime.now(UTC))
    finally:
        await ami.stop()
    return figures(facts, one, time.monotonic() - began, late * one.speed)


@contextlib.contextmanager
def _scaled_pauses(router: Router, speed: float) -> Iterator[None]:
    """The router's own pauses on the simulated clock: held calls are asked for again
    0.1 s after an operator becomes ready (the phone's state may lag), then every second;
    harmless in real time, but ``speed`` times as long for the simulated people (at
    speed 20 a held caller waited up to 20 s while an operator sat ready). Restored on
    leaving: the simulation's service is the only one this process runs."""
    recheck, quick = router.recheck, router_module._QUICK_RECHECK
    router.recheck = recheck / speed
    router_module._QUICK_RECHECK = quick / speed
    try:
        yield
    finally:
        router.recheck = recheck
        router_module._QUICK_RECHECK = quick


async def _play(pbx: SimulatedPbx, callers: list[Caller], speed: float) -> float:
    """Each caller calls at their time (real seconds = simulated / speed); the most real
    seconds a call started late (the machine did not keep up)."""
    start = time.monotonic()
    late = 0.0
    tasks: list[asyncio.Task[Any]] = []
    for number, caller in enumerate(callers):
        delay = start + caller.at / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        late = max(late, time.monotonic() - start - caller.at / speed)
        tasks.append(asyncio.create_task(_one_call(pbx, caller, f"7900{number:07d}")))
    await asyncio.gather(*tasks, return_exceptions=True)
    return late


def _one_call(pbx: SimulatedPbx, caller: Caller, number: str) -> Coroutine[Any, Any, Any]:
    """The simulator's people for this caller only: ``play`` reads them before its first
    pause, so the next caller's cannot get in between."""
    people = Behaviour(
        answer_delay=Dist.fixed(RING_SECONDS),
        talk_time=Dist.fixed(caller.talk),
        patience=Dist.fixed(caller.patience) if caller.patience is not None else None,
        wrapup=Dist.fixed(WRAPUP_SECONDS),
    )

    async def call() -> Any:
        pbx.behaviour = people
        return await pbx.play("answered", number)

    return call()


async def _settled(state: Any, calls: int, since: datetime) -> None:
    """Wait until every played call is stored as ended (or give up after a while)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        with state.sessions() as session:
            stored = session.scalar(
                select(func.count(Call.id)).where(
                    Call.direction == "inbound", Call.final.is_(True), Call.started_at >= since
                )
            )
        if (stored or 0) >= calls:
            return
        await asyncio.sleep(0.2)
    log.warning("simulation: %d calls played, fewer stored as ended in time", calls)
