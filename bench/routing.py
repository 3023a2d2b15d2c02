"""Routing benchmark: the full FastAGI `route` dialogue over TCP, claims in the database.

The server (callagent's FastAGI server, router and operator book) runs in its own
process, as in production; this process plays Asterisk. Measured in one run:

  fixed      baseline: the same FastAGI server answering a fixed operator, no database
  process    baseline: process AGI, a Python interpreter started per call with
             SQLAlchemy imported (what a pyst2 script costs)
  sqlite     route with the operator claimed in SQLite (200 operators, 500 calls stored)
  service    route in the whole service (uvicorn, simulator AMI, webhooks, live hubs,
             sweeps) on SQLite: what runs around routing must not slow it (issue #15)
  postgres   the same as sqlite on PostgreSQL (CALLAGENT_BENCH_POSTGRES_URL or
             ..._TEST_...), with the waiting list and tried operators shared in the
             database as the service keeps them there (issue #16)
  pg x2      two such server processes on the one PostgreSQL, the requests
             alternating between them (several instances, issue #16)

For each database: p50/p99 latency at an open-loop 200 decisions/s, and the highest
rate sustained with p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import postgres_database

from callagent.sim.agi_client import AgiCall, run_agi

ROOT = Path(__file__).resolve().parents[1]
OPERATORS = 200
IN_PROGRESS = 500
OPEN_LOOP_RATE = 200
DURATION = 4.0
# Open-loop rates tried in turn until p99 passes 50 ms (the baseline reaches ~4,000/s).
RATES = (50, 100, 200, 300, 400, 500, 600, 700, 850, 1000, 1200, 1400, 2000, 2800, 4000)


def _serve(url: str | None, port_queue: Any, name: str = "bench") -> None:
    """The server process: FastAGI with the real router (or a fixed answer)."""
    from callagent.db.session import make_engine, make_sessionmaker
    from callagent.heap import freeze_startup_objects
    from callagent.routing.agi import AgiSession, FastAgiServer
    from callagent.routing.operators import OperatorBook
    from callagent.routing.router import Router
    from callagent.routing.shared import SharedCalls
    from callagent.routing.states import Signal

    async def main() -> None:
        background: set[asyncio.Task[None]] = set()
        if url is None:

            async def fixed(session: AgiSession) -> None:
                # The same dialogue as dialplan/extensions.conf's: arguments in, five SETs out.
                for name, value in (
                    ("CALLAGENT_OPERATOR", "PJSIP/op1001"),
                    ("CALLAGENT_OPERATOR_ID", "1"),
                    ("CALLAGENT_CALL_ID", "x"),
                    ("CALLAGENT_DIAL_TIMEOUT", "20"),
                    ("CALLAGENT_STATUS", "ok"),
                ):
                    await session.set_variable(name, value)

            server = FastAgiServer({"route": fixed}, port=0)
        else:
            engine = make_engine(url)
            book = OperatorBook(make_sessionmaker(engine), skip_seconds=0)
            # PostgreSQL: shared routing state, as the service keeps it (several instances)
            shared = SharedCalls(engine, name) if url.startswith("postgresql") else None
            router = Router(book, node="pbx1", shared=shared)
            ended: list[str] = []

            async def route_and_free(session: AgiSession) -> None:
                await router.route(session)
                # The call "ends" right after the dialogue so that operators stay
                # available; the harness frees them in bulk (as calls ending would).
                ended.append(f"pbx1:{session.env.get('agi_uniqueid', '')}")

            async def free_operators() -> None:
                while True:
                    await asyncio.sleep(0.02)
                    if ended:
                        calls = ended[:]
                        ended.clear()
                        await asyncio.to_thread(
                            book.release_many, calls, cause="bench", signal=Signal.RELEASE
                        )
                        for call in calls:
                            router.forget(call)

            server = FastAgiServer({"route": route_and_free}, port=0)
            background.add(asyncio.create_task(free_operators()))
        await server.start()
        freeze_startup_objects()  # as the service does after its start-up
        port_queue.put(server.port)
        await asyncio.Event().wait()

    asyncio.run(main())


def prepare(url: str) -> None:
    """Schema, 200 ready operators, 500 calls in progress."""
    from datetime import UTC, datetime

    from callagent.auth.scopes import Role
    from callagent.auth.service import create_user
    from callagent.db.models import Call
    from callagent.db.session import make_engine, make_sessionmaker, upgrade
    from callagent.routing.operators import OperatorBook
    from callagent.routing.states import Signal

    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ids = [
            create_user(
                session,
                login=f"op{n}",
                role=Role.OPERATOR,
                password=None,
                endpoints=[f"PJSIP/op{n}"],
            ).id
            for n in range(OPERATORS)
        ]
        now = datetime.now(UTC)
        for n in range(IN_PROGRESS):
            session.add(
                Call(
                    node="pbx1",
                    linkedid=f"busy.{n}",
                    direction="inbound",
                    started_at=now,
                    hold_seconds=0.0,
                    disposition="in_progress",
                    final=False,
                    partial=False,
                    closed_by_resync=False,
                    variables={},
                    transfers=[],
                    originate={},
                    timeline=[],
                    updated_at=now,
                    caller_number="",
                    caller_name="",
                    dialled_number="",
                    applicant_number="",
                    hangup_cause_text="",
                    queue_name="",
                    recording_file="",
                )
            )
    book = OperatorBook(sessions)
    for user_id in ids:
        book.signal(user_id, Signal.LOGIN, cause="bench")
    engine.dispose()


async def one(port: int, latencies: list[float], errors: list[str]) -> None:
    linkedid = f"{time.time():.0f}.{uuid.uuid4().int % 10**9}"
    # As dialplan/extensions.conf asks: attempt, DIALSTATUS, topic, priority, linkedid.
    call = AgiCall("route", linkedid, args=["1", "", "", "", linkedid])
    started = time.perf_counter()
    try:
        await run_agi(call, "127.0.0.1", port, timeout=5)
    except Exception as exc:
        errors.append(type(exc).__name__)
        return
    latencies.append(time.perf_counter() - started)
    if call.set.get("CALLAGENT_STATUS") not in ("ok", "wait"):
        errors.append("no answer")


async def open_loop(port: int, rate: float, duration: float) -> tuple[list[float], list[str]]:
    """Requests at a fixed rate whatever the answers (no coordinated omission)."""
    latencies: list[float] = []
    errors: list[str] = []
    tasks = []
    start = time.perf_counter()
    count = int(rate * duration)
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(port, latencies, errors)))
    await asyncio.gather(*tasks)
    return latencies, errors


async def open_loop_many(
    ports: list[int], rate: float, duration: float
) -> tuple[list[float], list[str]]:
    """:func:`open_loop` with the requests alternating between ``ports``."""
    latencies: list[float] = []
    errors: list[str] = []
    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * duration)):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        port = ports[n % len(ports)]
        tasks.append(asyncio.create_task(one(port, latencies, errors)))
    await asyncio.gather(*tasks)
    return latencies, errors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def measure(name: str, url: str | None, instances: int = 1) -> dict[str, Any]:
    """The FastAGI server alone (with the router on ``url``, or a fixed answer); with
    ``instances`` > 1, that many server processes on the one database."""
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    servers = [
        ctx.Process(target=_serve, args=(url, ports, f"bench{n}"), daemon=True)
        for n in range(instances)
    ]
    for server in servers:
        server.start()
    found = [ports.get(timeout=60) for _ in servers]
    try:
        return measure_port(name, found[0], found)
    finally:
        for server in servers:
            server.terminate()
            server.join(5)


def measure_service(url: str) -> dict[str, Any]:
    """The whole service (as bench/api_load.py runs it: uvicorn, the simulator's AMI,
    webhooks, live pages' hubs, sweeps, 2,000 calls stored), routing on its FastAGI
    port with nothing else asked of it: what the service around routing costs."""
    import httpx
    from api_load import _serve as serve_service
    from api_load import _store_calls

    _store_calls(url)
    ctx = multiprocessing.get_context("spawn")
    ready: Any = ctx.Queue()
    server = ctx.Process(target=serve_service, args=(url, ready, "httptools"), daemon=True)
    server.start()
    try:
        http_port, agi_port, token, ids = ready.get(timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", headers=headers) as client:
            for user_id in ids:
                client.post(f"/api/v1/operators/{user_id}/state", json={"state": "ready"})
        time.sleep(2.0)  # the state changes settle (queue mirror, live events)
        return measure_port("service", agi_port)
    finally:
        server.terminate()
        server.join(10)


def measure_port(name: str, port: int, ports: list[int] | None = None) -> dict[str, Any]:
    """The sustained rate (p99 < 50 ms) and p50/p99 at OPEN_LOOP_RATE of ``port`` (or of
    ``ports`` in turn)."""
    targets = ports or [port]
    asyncio.run(open_loop_many(targets, 50, 1.0))  # warm up
    best = 0.0
    for rate in RATES:
        for _ in range(2):  # a second try: one stall of a shared machine is not a limit
            lat, err = asyncio.run(open_loop_many(targets, rate, 2.0))
            ok = not err and pct(lat, 0.99) < 50.0
            print(f"  {name:<8} {rate:>5}/s: p99 {pct(lat, 0.99):7.1f} ms, errors {len(err)}")
            if ok:
                break
            time.sleep(2.0)  # drain before the second try
        if not ok:
            break
        best = rate
    time.sleep(3.0)  # let a saturated server drain before the fixed-rate run
    lat, err = asyncio.run(open_loop_many(targets, OPEN_LOOP_RATE, DURATION))
    result: dict[str, Any] = {
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "errors": len(err),
        "sustained_per_s": best,
    }
    return result


def process_agi(runs: int = 15) -> dict[str, float]:
    """A Python interpreter per call, importing SQLAlchemy (process AGI with pyst2)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlalchemy, asterisk.agi"], check=True)
        times.append(time.perf_counter() - started)
    mean = statistics.mean(times)
    return {"p50_ms": statistics.median(times) * 1000, "per_s": 1 / mean}


def postgres_url() -> tuple[str, Callable[[], None]] | None:
    server = os.environ.get("CALLAGENT_BENCH_POSTGRES_URL") or os.environ.get(
        "CALLAGENT_TEST_POSTGRES_URL"
    )
    return postgres_database(server) if server else None


def main() -> int:
    results: dict[str, Any] = {}
    print("process AGI baseline ...")
    results["process"] = process_agi()
    print("fixed-answer FastAGI baseline ...")
    results["fixed"] = measure("fixed", None)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        prepare(url)
        print("route on SQLite ...")
        results["sqlite"] = measure("sqlite", url)
    with tempfile.TemporaryDirectory() as tmp:
        print("route in the whole service on SQLite ...")
        results["service"] = measure_service(f"sqlite:///{tmp}/bench.db")
    pg = postgres_url()
    if pg is not None:
        url, drop = pg
        try:
            prepare(url)
            print("route on PostgreSQL ...")
            results["postgres"] = measure("postgres", url)
        finally:
            drop()
        url, drop = postgres_url() or (url, drop)
        try:
            prepare(url)
            print("route on two instances, one PostgreSQL ...")
            results["pg x2"] = measure("pg x2", url, instances=2)
        finally:
            drop()
    else:
        print("postgres: skipped (set CALLAGENT_BENCH_POSTGRES_URL)")
    fixed = results["fixed"]["sustained_per_s"] or 1
    print(f"\n{'what':<10}{'p50 ms':>9}{'p99 ms':>9}{'sustained/s':>13}{'x fixed':>9}")
    proc = results["process"]
    ratio = proc["per_s"] / fixed
    print(f"{'process':<10}{proc['p50_ms']:>9.1f}{'':>9}{proc['per_s']:>13.0f}{ratio:>9.3f}")
    for name in ("fixed", "sqlite", "service", "postgres", "pg x2"):
        if name in results:
            row = results[name]
            print(
                f"{name:<10}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
                f"{row['sustained_per_s']:>13.0f}{row['sustained_per_s'] / fixed:>9.2f}"
            )
    print(
        f"(p50/p99 at an open-loop {OPEN_LOOP_RATE}/s; "
        "sustained: the highest rate tried with p99 < 50 ms)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "routing.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
