"""API load benchmark: 2,000 concurrent API reads while routing and health are timed.

The whole service (uvicorn on 127.0.0.1, SQLite, the PBX simulator's AMI) runs in its
own process, as in production. Client processes keep 2,000 ``GET /api/v1/calls`` in
flight for a fixed time (plain HTTP/1.1 from bench/http_burst.py; a 503 is retried after
its Retry-After, as a client should), while this process times FastAGI ``route`` at an
open-loop rate and ``/healthz`` (httpx). The goal (issue #15):

  route p99 under 50 ms and /healthz under 100 ms during the load, every API request
  answered (200 or 503) within 5 s, back to normal within 5 s after the load stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 2000
CLIENT_PROCESSES = 4
LOAD_SECONDS = 10.0
BASELINE_SECONDS = 3.0
AFTER_SECONDS = 6.0
ROUTE_RATE = 20  # route dialogues a second, open loop
HEALTH_RATE = 10
OPERATORS = 200
CALLS_STORED = 2000
ANSWER_WITHIN = 5.0
READ = "/api/v1/calls?limit=50"
ROUTE_ANSWERS: dict[str, int] = {}  # CALLAGENT_STATUS of each timed route: ok, wait


def _serve(url: str, ready: Any, http: str) -> None:
    """The service process: simulator AMI, the full app under uvicorn, operators, a token.

    ``http`` is uvicorn's HTTP parser: ``httptools`` as ``callagent serve`` runs it, or
    ``h11`` (pure Python) as the baseline of the same run.
    """
    import uvicorn
    from pydantic import SecretStr

    from callagent.api.app import create_app
    from callagent.auth.scopes import ALL_SCOPES, Role
    from callagent.auth.service import create_token, create_user
    from callagent.config import AmiNode, Settings
    from callagent.sim.ami_server import AmiServer

    async def main() -> None:
        pbx = AmiServer()
        await pbx.start()
        node = AmiNode(
            name="pbx1", port=pbx.port, username=pbx.username, secret=SecretStr(pbx.secret)
        )
        settings = Settings(
            database_url=url,
            ami_nodes=[node],
            agi_port=0,
            simulator="off",
            cookie_secure=False,
            max_wait=3600,
        )
        app = create_app(settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", http=http)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.01)
        with app.state.sessions() as session:
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
                session, name="bench", scopes=ALL_SCOPES, expires_at=None, created_by=None
            )
            session.commit()
        _free_after_route(app)
        http_port = server.servers[0].sockets[0].getsockname()[1]
        ready.put((http_port, app.state.agi.port, token, ids))
        await task
        await pbx.stop()

    asyncio.run(main())


def _free_after_route(app: Any) -> None:
    """Each routed call "ends" right after its dialogue and its operator is freed in bulk
    (as calls ending on AMI would), so operators stay available (as bench/routing.py)."""
    from callagent.routing.states import Signal

    book, router, agi = app.state.book, app.state.router, app.state.agi
    route = agi.scripts["route"]
    ended: list[str] = []

    async def route_and_end(session: Any) -> None:
        await route(session)
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

    agi.scripts["route"] = route_and_end
    app.state.bench_free = asyncio.create_task(free_operators())


def _store_calls(url: str) -> None:
    """Finished calls for the reads to page through (the API reads 50 a page)."""
    from datetime import UTC, datetime, timedelta

    from callagent.db.models import Call
    from callagent.db.session import make_engine, make_sessionmaker, upgrade

    upgrade(url)
    engine = make_engine(url)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with make_sessionmaker(engine)() as session:
        for n in range(CALLS_STORED):
            began = start + timedelta(minutes=n)
            session.add(
                Call(
                    node="pbx1",
                    linkedid=f"1796200000.{n}",
                    direction="inbound",
                    caller_number=f"7926{n:07d}",
                    started_at=began,
                    queue_entered_at=None,
                    first_ring_at=None,
                    answered_at=began + timedelta(seconds=5),
                    ended_at=began + timedelta(seconds=65),
                    wait_seconds=5.0,
                    ring_seconds=None,
                    talk_seconds=60.0,
                    operator_endpoint="PJSIP/op1001",
                    disposition="answered",
                    hangup_by="caller",
                    hangup_cause=16,
                    final=True,
                    updated_at=began + timedelta(seconds=65),
                )
            )
        session.commit()
    engine.dispose()


def _load(port: int, token: str, workers: int, seconds: float, start: Any, out: Any) -> None:
    """One client process: ``workers`` reads in flight for ``seconds`` from the time
    ``start`` gives (after it said it is ready). Each read on a connection of its own,
    as plain HTTP/1.1 (bench/http_burst.py: a tenth of httpx's CPU a request, which on
    this 2-core machine is taken from the service); a 503 is retried after its
    Retry-After, as a client should."""
    from http_burst import raw_get

    async def main() -> dict[str, Any]:
        statuses: dict[str, int] = {}
        slowest = 0.0
        no_retry_after = 0
        out.put("ready")
        start_at = await asyncio.to_thread(start.get)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal slowest, no_retry_after
            while time.monotonic() < deadline:
                answer = await raw_get(port, READ, f"Bearer {token}")
                key = str(answer.get("status", answer.get("error")))
                slowest = max(slowest, answer["seconds"])
                statuses[key] = statuses.get(key, 0) + 1
                if answer.get("status") == 503:
                    no_retry_after += answer["retry_after"] is None
                    await asyncio.sleep(float(answer["retry_after"] or 1))

        await asyncio.gather(*(worker() for _ in range(workers)))
        return {"statuses": statuses, "slowest_s": slowest, "no_retry_after": no_retry_after}

    out.put(asyncio.run(main()))


async def _probe(http_port: int, agi_port: int, load_start: float, load_end: float) -> Any:
    """Route at ROUTE_RATE/s and /healthz at HEALTH_RATE/s, open loop, with their times."""
    import httpx

    from callagent.sim.agi_client import AgiCall, run_agi

    end = load_end + AFTER_SECONDS
    routes: list[tuple[float, float]] = []  # (when sent, latency s); 10 s: no answer
    health: list[tuple[float, float]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one_route(n: int) -> None:
        sent = time.time()
        uniqueid = f"1796400000.{n}"
        call = AgiCall("route", uniqueid, args=["1", ""], variables={"CHANNEL(linkedid)": uniqueid})
        began = time.perf_counter()
        try:
            await asyncio.wait_for(run_agi(call, "127.0.0.1", agi_port), 10)
            routes.append((sent, time.perf_counter() - began))
            status = call.set.get("CALLAGENT_STATUS", "none")
            ROUTE_ANSWERS[status] = ROUTE_ANSWERS.get(status, 0) + 1
        except (TimeoutError, OSError):
            routes.append((sent, 10.0))

    async def one_health(client: httpx.AsyncClient) -> None:
        sent = time.time()
        began = time.perf_counter()
        try:
            (await client.get("/healthz")).raise_for_status()
            health.append((sent, time.perf_counter() - began))
        except httpx.HTTPError:
            health.append((sent, 10.0))

    async def tick(rate: float, start: Any) -> None:
        n = 0
        origin = time.perf_counter()
        while time.time() < end:
            n += 1
            task = asyncio.create_task(start(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(max(0.0, origin + n / rate - time.perf_counter()))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as client:
        await asyncio.gather(
            tick(ROUTE_RATE, one_route), tick(HEALTH_RATE, lambda n: one_health(client))
        )
        await asyncio.gather(*tasks)
    return routes, health


async def _recovery(http_port: int, token: str, load_end: float) -> float:
    """Seconds from the end of the load until an API read answers 200 again."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{http_port}", headers=headers, timeout=10
    ) as client:
        await asyncio.sleep(max(0.0, load_end - time.time()))
        while True:
            try:
                if (await client.get(READ)).status_code == 200:
                    return max(0.0, time.time() - load_end)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` in milliseconds (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    """Run the load against the service with each HTTP parser; the goals on httptools."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--http",
        choices=("h11", "httptools"),
        action="append",
        help="the HTTP parser(s) to run (default: h11, the baseline, then httptools)",
    )
    parsers = parser.parse_args().http or ["h11", "httptools"]
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, Any] = {}
    for http in parsers:  # the pure-Python baseline first, then production's
        print(f"uvicorn http={http}")
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            _store_calls(url)
            ready = ctx.Queue()
            server = ctx.Process(target=_serve, args=(url, ready, http), daemon=True)
            server.start()
            try:
                http_port, agi_port, token, ids = ready.get(timeout=60)
                results[http] = _measure(ctx, http_port, agi_port, token, ids)
            finally:
                server.terminate()
                server.join(10)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api_load.json").write_text(json.dumps(results, indent=2))
    return 0


def _measure(ctx: Any, http_port: int, agi_port: int, token: str, ids: list[int]) -> dict[str, Any]:
    """Load the running service, time route and health; print and return the figures."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", headers=headers) as client:
        for user_id in ids:  # every operator ready: routes claim in the database
            client.post(f"/api/v1/operators/{user_id}/state", json={"state": "ready"})
    results, start = ctx.Queue(), ctx.Queue()
    workers = CONCURRENCY // CLIENT_PROCESSES
    clients = [
        ctx.Process(
            target=_load,
            args=(http_port, token, workers, LOAD_SECONDS, start, results),
            daemon=True,
        )
        for _ in range(CLIENT_PROCESSES)
    ]
    for process in clients:
        process.start()
    for _ in clients:
        assert results.get(timeout=120) == "ready"
    time.sleep(2.0)  # the operators' state changes settle (queue mirror, live events)
    load_start = time.time() + BASELINE_SECONDS
    load_end = load_start + LOAD_SECONDS
    for _ in clients:
        start.put(load_start)

    async def probe_and_recover() -> Any:
        return await asyncio.gather(
            _probe(http_port, agi_port, load_start, load_end),
            _recovery(http_port, token, load_end),
        )

    (routes, health), recovery = asyncio.run(probe_and_recover())
    loads = [results.get(timeout=60) for _ in clients]
    for process in clients:
        process.join(10)

    statuses: dict[str, int] = {}
    for load in loads:
        for key, count in load["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    slowest = max(load["slowest_s"] for load in loads)

    def phase(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
        return [latency for sent, latency in samples if start <= sent < end]

    # Back to normal: from the end of the load, the first second after which every route
    # and health answer is within its bound again (and an API read answers 200).
    late = [
        sent
        for samples, bound in ((routes, 0.05), (health, 0.1))
        for sent, latency in samples
        if sent >= load_end and latency >= bound
    ]
    normal_after = max([recovery, *((sent - load_end) for sent in late)])
    during_routes = phase(routes, load_start, load_end)
    during_health = phase(health, load_start, load_end)
    result: dict[str, Any] = {
        "concurrency": CONCURRENCY,
        "load_seconds": LOAD_SECONDS,
        "api_statuses": statuses,
        "api_slowest_s": round(slowest, 3),
        "api_503_without_retry_after": sum(load["no_retry_after"] for load in loads),
        "route_rate_per_s": ROUTE_RATE,
        "route_answers": ROUTE_ANSWERS,
        "route_baseline_p50_ms": pct(phase(routes, 0, load_start), 0.5),
        "route_baseline_p99_ms": pct(phase(routes, 0, load_start), 0.99),
        "route_load_p50_ms": pct(during_routes, 0.5),
        "route_load_p99_ms": pct(during_routes, 0.99),
        "route_load_count": len(during_routes),
        "healthz_load_p99_ms": pct(during_health, 0.99),
        "healthz_load_max_ms": pct(during_health, 1.0),
        "back_to_normal_s": round(normal_after, 3),
    }
    answered = sum(v for k, v in statuses.items() if k in ("200", "503"))
    goals = {
        "route p99 < 50 ms": result["route_load_p99_ms"] < 50,
        "healthz max < 100 ms": result["healthz_load_max_ms"] < 100,
        "every read 200/503 within 5 s": answered == sum(statuses.values())
        and slowest < ANSWER_WITHIN,
        "back to normal within 5 s": normal_after < 5.0,
    }
    for key, value in result.items():
        print(f"  {key:<30} {value}")
    for goal, met in goals.items():
        print(f"  {'met' if met else 'MISSED':<7} {goal}")
    result["goals"] = goals
    return result


if __name__ == "__main__":
    sys.exit(main())
