"""Click-to-call from either of two instances (issue #16): real ``callagent serve``
processes on one PostgreSQL, the simulator as the PBX node answering Originates.

The instance asked may not follow the node: it sends the Originate over an AMI session
of its own (events off), the node's holder follows the call's events and completes the
record the asker created, under the linkedid the asker chose: one record, final,
answered, whichever instance was asked.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
from sqlalchemy import select

from callagent.db.models import Call
from callagent.sim.ami_server import frame
from callagent.sim.outbound import OutboundPbx
from tests.conftest import TRACES, wait_for
from tests.test_node_takeover import Cluster, Instance, pg_url  # noqa: F401
from tests.test_routing_shared import _seed, two  # noqa: F401


def _records(cluster: Cluster) -> list[tuple[str, str, bool, str]]:
    with cluster.engine.connect() as conn:
        rows = conn.execute(select(Call.node, Call.linkedid, Call.final, Call.disposition))
        return [(n, linkedid, bool(final), d) for n, linkedid, final, d in rows]


async def _place(instance: Instance, token: str, operator_id: int) -> httpx.Response:
    async with httpx.AsyncClient(base_url=instance.url, timeout=15) as client:
        return await client.post(
            "/api/v1/calls/originate",
            json={"number": "+7 916 123-45-67", "operator_id": operator_id},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_click_to_call_from_the_instance_that_does_not_follow_the_node(
    two: Cluster,  # noqa: F811
) -> None:
    pbx = two.pbxs["pbx1"]
    outbound = OutboundPbx(pbx, TRACES)
    ids, token = _seed(two.url)
    await wait_for(lambda: set(two.owners()) == {"pbx1"}, timeout=20)
    holder_name = two.owners()["pbx1"][0]
    holder = two.instance(holder_name)
    other = next(i for i in two.instances if i.name != holder_name)
    try:
        placed: dict[str, Any] = {}
        for instance in (other, holder):
            response = await _place(instance, token, ids[0])
            assert response.status_code == 202, (instance.name, response.text)
            placed[instance.name] = response.json()
            assert placed[instance.name]["node"] == "pbx1"
        await outbound.wait_idle()

        def done() -> bool:
            rows = _records(two)
            return len(rows) == 2 and all(final for _, _, final, _ in rows)

        await wait_for(done, timeout=15)
        rows = _records(two)
        assert sorted(linkedid for _, linkedid, _, _ in rows) == sorted(
            p["linkedid"] for p in placed.values()
        )
        assert {(node, disposition) for node, _, _, disposition in rows} == {("pbx1", "answered")}
        # the non-holder's Originate went over a session of its own, with no events
        sessions = [c for c in pbx.connections if any(a.action == "Originate" for a in c.actions)]
        assert len(sessions) == 2
        logins = [next(a for a in c.actions if a.action == "Login") for c in sessions]
        assert sorted(login.get("Events") for login in logins) == ["off", "on"]
        # the holder is as it was: the node was not taken over by the dial-out
        assert two.owners()["pbx1"][0] == holder_name
        assert (await other.readyz())["owned_nodes"] == []
        # a clean stop logs the dial-out session off (it does not wait for its idle end)
        (dial_out,) = [
            c for c, login in zip(sessions, logins, strict=True) if login.get("Events") == "off"
        ]
        assert not any(a.action == "Logoff" for a in dial_out.actions)
        other.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(other.process.wait(), 30)
        assert any(a.action == "Logoff" for a in dial_out.actions), [
            a.action for a in dial_out.actions
        ]
    finally:
        await outbound.stop()


async def test_a_click_to_call_that_fails_later_is_closed_by_the_nodes_holder(
    two: Cluster,  # noqa: F811
) -> None:
    """Asterisk queued the Originate (Success), then the operator's phone never answered:
    the OriginateResponse (Failure) goes to every session with events, so only the
    node's holder hears it; the record the other instance created is closed there."""
    pbx = two.pbxs["pbx1"]
    queued: list[str] = []

    def accept(_conn: Any, action: Any) -> list[bytes]:
        queued.append(action.action_id)
        return [
            frame(
                ("Response", "Success"),
                ("ActionID", action.action_id),
                ("Message", "Originate successfully queued"),
            )
        ]

    pbx.originate_handler = accept
    ids, token = _seed(two.url)
    await wait_for(lambda: set(two.owners()) == {"pbx1"}, timeout=20)
    other = next(i for i in two.instances if i.name != two.owners()["pbx1"][0])
    response = await _place(other, token, ids[0])
    assert response.status_code == 202, response.text
    linkedid = response.json()["linkedid"]
    assert queued == [f"callagent-{linkedid}"]
    assert _records(two) == [("pbx1", linkedid, False, "in_progress")]
    await pbx.broadcast(
        frame(
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            ("ActionID", queued[0]),
            ("Response", "Failure"),
            ("Channel", "PJSIP/op1001"),
            ("Context", "from-operators"),
            ("Exten", "79161234567"),
            ("Reason", "3"),
            ("Uniqueid", "<null>"),
        )
    )
    await wait_for(lambda: _records(two) == [("pbx1", linkedid, True, "failed")], timeout=10)
