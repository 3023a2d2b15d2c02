"""Routing answers while the web server's loop is busy (issue #15, points 1 and 3).

The FastAGI server runs in an event loop of its own, on a thread of its own: whatever
holds the loop that serves HTTP (thousands of requests being parsed, a slow page, a
garbage collection of the web side's objects) does not stand between Asterisk and the
answer. Here the service's loop is held outright for a second while route dialogues,
from a thread of the test's own, are answered in milliseconds; and what the router
keeps is still changed in its own loop when the web side asks (process AGI's
``POST /api/v1/routing/route``, a call ending on AMI).
"""

from __future__ import annotations

import asyncio
import threading
import time

from callagent.sim.agi_client import AgiCall, run_agi
from tests.conftest import running_service, wait_for
from tests.test_routing import add_operators, agi_port, set_ready

HELD = 1.0  # seconds the service's loop is held


def _routes_from_a_thread(port: int, count: int, out: list[tuple[float, str]]) -> None:
    """``count`` route dialogues one after another from a loop of this thread's own."""

    async def main() -> None:
        for n in range(count):
            uniqueid = f"1796500000.{n}"
            call = AgiCall(
                "route", uniqueid, args=["1", ""], variables={"CHANNEL(linkedid)": uniqueid}
            )
            began = time.perf_counter()
            await asyncio.wait_for(run_agi(call, "127.0.0.1", port), 10)
            out.append((time.perf_counter() - began, call.set.get("CALLAGENT_STATUS", "")))

    asyncio.run(main())


async def test_routing_answers_while_the_web_loop_is_held(db_url: str) -> None:
    async with running_service(db_url) as service:
        ops = add_operators(service, 5)
        await set_ready(service, ops)
        answers: list[tuple[float, str]] = []
        client = threading.Thread(
            target=_routes_from_a_thread, args=(agi_port(service), 5, answers)
        )
        held_from = time.perf_counter()
        client.start()
        time.sleep(HELD)  # noqa: ASYNC251 - the point: the service's loop does nothing
        held_for = time.perf_counter() - held_from
        await asyncio.to_thread(client.join, 20)
        assert held_for >= HELD
        assert [status for _, status in answers] == ["ok"] * 5
        # each answered while the web loop was held, not after it
        assert sum(seconds for seconds, _ in answers) < HELD / 2, answers


async def test_the_web_side_changes_the_router_in_its_own_loop(db_url: str) -> None:
    async with running_service(db_url) as service:
        router = service.app.state.router  # type: ignore[attr-defined]
        agi = service.app.state.agi  # type: ignore[attr-defined]
        assert agi.loop is not asyncio.get_running_loop() and agi.loop.is_running()
        seen: list[asyncio.AbstractEventLoop] = []
        decide = router.decide

        async def recording_decide(**kwargs: object) -> dict[str, str]:
            seen.append(asyncio.get_running_loop())
            return await decide(**kwargs)  # type: ignore[no-any-return]

        router.decide = recording_decide
        answer = await service.client.post(
            "/api/v1/routing/route", json={"linkedid": "1796510000.1", "previous": ""}
        )
        assert answer.status_code == 200
        assert answer.json()["variables"]["CALLAGENT_STATUS"] == "wait"  # nobody is ready
        assert seen == [agi.loop]
        assert "pbx1:1796510000.1" in router.waiting
        # a call that ended (AMI, from the state driver's side) leaves the list there too
        router.forget("pbx1:1796510000.1")
        await wait_for(lambda: "pbx1:1796510000.1" not in router.waiting)
