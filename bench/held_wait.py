"""How long a waiting caller waits for an operator who just became free (issue #11, 6).

With everyone busy, the caller waits; then one operator becomes ready. Measured in
the PBX simulator against a real callagent (FastAGI over TCP, AMI, SQLite), from
the operator's ready to the waiting caller's ``DialBegin``, at speed 1:

  old   the dialplan before ``hold``: route answers ``wait``, ``MusicOnHold(default,10)``,
        then route again (the simulator's ``hold=False, route_wait=10``)
  held  the shipped dialplan: the route dialogue holds the caller with music and
        answers when the operator is claimed

The ready moment falls at a random point of the caller's wait (seeded). Small and
cheap: a few calls, mostly spent waiting; ``python bench/held_wait.py [trials]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from callagent.api.app import create_app
from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.config import AmiNode, Settings
from callagent.db.session import upgrade
from callagent.routing.states import Signal
from callagent.sim.ami_server import AmiServer
from callagent.sim.pbx import SimulatedPbx

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "src" / "callagent" / "sim" / "traces"
OLD_WAIT = 10.0  # MusicOnHold(default,10) in the old dialplan's wait loop


async def until(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll every 5 ms (the figures are in tenths of a second at least)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("the simulated call never got there")


async def trial(hold: bool, trials: int, rng: random.Random) -> list[float]:
    """Seconds from each operator's ready to the waiting caller's Dial."""
    pbx = AmiServer()
    await pbx.start()
    folder = tempfile.mkdtemp(prefix="callagent-held-")
    url = f"sqlite:///{folder}/callagent.db"
    upgrade(url)
    node = AmiNode(
        name="pbx1",
        host="127.0.0.1",
        port=pbx.port,
        username=pbx.username,
        secret=SecretStr(pbx.secret),
    )
    settings = Settings(
        _env_file=None,
        database_url=url,
        ami_nodes=[node],
        agi_port=0,
        simulator="off",
        campaign_scheduler="off",
        fallback_queue="",
    )
    app = create_app(settings)
    delays: list[float] = []
    try:
        async with app.router.lifespan_context(app):
            state: Any = app.state
            with state.sessions.begin() as session:
                ids = [
                    create_user(
                        session,
                        login=f"op{1001 + n}",
                        role=Role.OPERATOR,
                        password=None,
                        endpoints=[f"PJSIP/op{1001 + n}"],
                    ).id
                    for n in range(trials)
                ]
            await until(lambda: state.monitor.clients[0].connected)
            sim = SimulatedPbx(pbx, TRACES, agi_port=state.agi.port, hold=hold, route_wait=OLD_WAIT)
            await sim.register_phones([f"PJSIP/op{1001 + n}" for n in range(trials)])
            calls = []
            for n, user_id in enumerate(ids):  # one operator per trial; the others busy
                calls.append(asyncio.create_task(sim.play("answered", f"7916111{n:04d}")))
                await until(lambda: state.router.waiting)
                await asyncio.sleep(rng.uniform(1.0, 1.0 + OLD_WAIT))
                ready = time.monotonic()
                await asyncio.to_thread(state.book.signal, user_id, Signal.READY, cause="bench")
                played = sim.played[-1]
                await until(lambda played=played: played.dialled_at)  # type: ignore[misc]
                delays.append(played.dialled_at[0] - ready)
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            await sim.stop()
    finally:
        await pbx.stop()
    return delays


def summary(name: str, delays: list[float]) -> str:
    ordered = sorted(delays)
    return (
        f"{name:5} n={len(delays)}  mean {statistics.fmean(delays):6.3f} s  "
        f"median {statistics.median(delays):6.3f} s  max {ordered[-1]:6.3f} s  "
        f"all {[round(d, 3) for d in delays]}"
    )


async def main(trials: int) -> int:
    rng = random.Random(11)
    held = await trial(True, trials, rng)
    old = await trial(False, trials, rng)
    print("operator ready -> the waiting caller's DialBegin (simulator, speed 1)")
    print(summary("held", held))
    print(summary("old", old))
    return 0 if max(held) < 1.0 else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
