"""A burst of API reads never takes routing or health with it (issue #15, point 1).

The short version of ``bench/api_load.py``: the whole service on 127.0.0.1, 300
concurrent ``GET /api/v1/calls`` with the in-flight limit set low, while FastAGI
``route`` dialogues and ``/healthz`` are timed. The bounds are functional (a second),
not the benchmark's figures: before the fix, health waited for a worker thread behind
the burst and routing for a connection of the API's pool.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest

from callagent.db.models import Call
from callagent.sim.agi_client import AgiCall, run_agi
from tests.conftest import RunningService, running_service
from tests.test_routing import add_operators, agi_port, set_ready

BURST = 300
CALLS_STORED = 300
UNIQUEIDS = itertools.count(1)
LIMIT = 8  # api_max_in_flight for the test: most of the burst is refused at once


def store_calls(service: RunningService, count: int) -> None:
    """``count`` finished calls, so that each read has a page of rows to build."""
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        for n in range(count):
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


async def timed_routes(service: RunningService, stop: asyncio.Event) -> list[float]:
    """FastAGI ``route`` dialogues one after another until ``stop``: their durations."""
    durations: list[float] = []
    while True:
        uniqueid = f"1796300000.{next(UNIQUEIDS)}"
        call = AgiCall("route", uniqueid, args=["1", ""], variables={"CHANNEL(linkedid)": uniqueid})
        began = time.perf_counter()
        try:
            await asyncio.wait_for(run_agi(call, "127.0.0.1", agi_port(service)), 10)
        except TimeoutError:  # routing stalled: counted as a 10 s answer
            durations.append(10.0)
            continue
        durations.append(time.perf_counter() - began)
        assert call.set.get("CALLAGENT_STATUS") in ("ok", "wait"), call.set
        if stop.is_set():
            return durations
        await asyncio.sleep(0.02)


async def timed_health(base_url: str, stop: asyncio.Event) -> list[float]:
    """``/healthz`` on a connection of its own until ``stop``: each answer's time."""
    durations: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                response = await client.get("/healthz")
            except httpx.TimeoutException:  # no answer in 10 s
                durations.append(10.0)
                continue
            durations.append(time.perf_counter() - began)
            assert response.status_code == 200
            await asyncio.sleep(0.02)
    return durations


async def test_api_burst_leaves_routing_and_health_answering(db_url: str) -> None:
    async with running_service(
        db_url, warm_start=True, api_max_in_flight=LIMIT, api_threads=4
    ) as service:
        await set_ready(service, add_operators(service, 5))
        store_calls(service, CALLS_STORED)
        stop = asyncio.Event()
        warm_up = asyncio.Event()
        warm_up.set()
        await timed_routes(service, warm_up)  # one untimed dialogue: first-use costs
        routes = asyncio.create_task(timed_routes(service, stop))
        health = asyncio.create_task(timed_health(service.base_url, stop))
        await asyncio.sleep(0.2)  # both are going before the burst

        port = int(service.base_url.rsplit(":", 1)[1])
        token = service.client.headers["Authorization"]
        # The burst comes from another process, as it would: its own client work does
        # not count against the service's event loop and the timed dialogues.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).parents[1] / "bench" / "http_burst.py"),
            str(port),
            "/api/v1/calls?limit=200",
            token,
            str(BURST),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        answers = [json.loads(line) for line in out.decode().splitlines()]
        stop.set()
        route_times, health_times = await routes, await health

        assert len(answers) == BURST
        failures = [a for a in answers if "error" in a]
        assert not failures, f"{len(failures)} reads got no answer in 5 s: {failures[0]}"
        statuses = [a["status"] for a in answers]
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert 200 in statuses and 503 in statuses, statuses.count(200)
        refused = [a for a in answers if a["status"] == 503]
        # Retry-After: at least the configured second, spread when many are refused at once
        waits = [int(a["retry_after"]) for a in refused]
        assert min(waits) == 1 and 1 < max(waits) <= 60, sorted(set(waits))
        assert all(a["content_type"] == "application/json" for a in refused)
        assert "busy" in refused[0]["detail"]
        assert max(a["length"] for a in answers if a["status"] == 200) > 10_000  # real pages
        assert max(a["seconds"] for a in answers) < 5.0

        print(
            f"route: {len(route_times)} max {max(route_times):.3f} s; healthz: "
            f"{len(health_times)} max {max(health_times):.3f} s"
        )
        assert route_times and max(route_times) < 1.0, route_times
        assert health_times and max(health_times) < 1.0, health_times

        # back to normal at once: a read, readiness and routing all answer
        after = await service.client.get("/api/v1/calls", params={"limit": 1})
        assert after.status_code == 200 and after.json()["total"] == CALLS_STORED
        assert (await service.client.get("/readyz")).status_code == 200


async def test_the_first_request_after_start_builds_no_route(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI builds a route's matching state the first time a request walks past it:
    the first request after start-up held the event loop for ~0.7 s, FastAGI included.
    The service builds the table before FastAGI starts, so the first request builds
    nothing (counted where FastAPI builds a route's dependant)."""
    built: list[str] = []
    original = fastapi.routing.get_dependant

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(str(kwargs.get("path")))
        return original(*args, **kwargs)

    async with running_service(db_url, warm_start=True) as service:
        monkeypatch.setattr(fastapi.routing, "get_dependant", counting)
        assert (await service.client.get("/healthz")).status_code == 200
        assert (await service.client.get("/api/v1/calls")).status_code == 200
    assert built == [], f"{len(built)} dependants built on the first requests: {built[:5]}"
