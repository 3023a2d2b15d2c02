"""An operator may read the history of the caller ringing at their phone at once (issue #17
point 11a): the page asks for it when the ringing event arrives, before the writer has
stored the call (here: a writer that waits 3 s between batches, as under load). It used to
answer 403 then, and 200 only once the call was in the database.
"""

from __future__ import annotations

import asyncio
import contextlib

from callagent.sim.pbx import SimulatedPbx
from tests.conftest import TRACES, running_service, wait_for
from tests.test_live_events import add_user, events, logged_in, next_of
from tests.test_routing import agi_port

CALLER = "79161112233"


async def test_the_history_of_the_ringing_caller_answers_at_once(db_url: str) -> None:
    async with running_service(db_url, writer_flush_interval=3.0) as service:
        mine = add_user(service, "op1001", "PJSIP/op1001")
        add_user(service, "op1002", "PJSIP/op1002")
        me, csrf = await logged_in(service, "op1001")
        other, _ = await logged_in(service, "op1002")
        await wait_for(lambda: service.monitor.clients[0].connected)
        ready = await me.post(
            f"/api/v1/operators/{mine}/state",
            json={"state": "ready"},
            headers={"X-CSRF-Token": csrf},
        )
        assert ready.status_code == 200
        sim = SimulatedPbx(service.pbx, TRACES, agi_port=agi_port(service), speed=1.0)
        played = asyncio.create_task(sim.call("answered", CALLER))
        try:
            async with me.stream("GET", "/api/v1/live/events") as response:
                stream = events(response)
                ringing = await next_of(stream, "call", phase="ringing")
                assert ringing.data["caller_number"] == CALLER
                history = await me.get(f"/api/v1/callers/{CALLER}/history")
                assert history.status_code == 200, history.text
                assert history.json()["number"] == CALLER
                # the call is not stored yet: what answered was the live call, not the table
                assert history.json()["calls"] == []
                # an operator whose phone it is not still may not look the number up
                theirs = await other.get(f"/api/v1/callers/{CALLER}/history")
                assert theirs.status_code == 403
                assert (await me.get("/api/v1/callers/79160000000/history")).status_code == 403
        finally:
            played.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await played
            await me.aclose()
            await other.aclose()
