"""An operator cannot go ready on a phone the PBX says is not registered (issue #11 point 7).

On a real Asterisk 22 the API let an operator go ``ready`` while their phone was
UNAVAILABLE: routing skipped them while the page showed them ready. Played here from
``live/live_reregister_while_paused``: op1003's phone registers, unregisters (Asterisk:
ContactStatus Removed, UNAVAILABLE) and registers again, while the operator is offline.
"""

from __future__ import annotations

from callagent.routing.operators import phones_down
from callagent.sim.agi_client import AgiCall, run_agi
from callagent.sim.ami_server import trace_body
from tests.conftest import LIVE_TRACES, RunningService, running_service, wait_for
from tests.test_live_feature_codes import settle
from tests.test_live_replay import play
from tests.test_routing import add_operators, agi_port, route


def halves() -> tuple[bytes, bytes]:
    """The stream up to op1003's unregistration (ContactStatus Removed), and the rest."""
    body = trace_body((LIVE_TRACES / "live_reregister_while_paused.ami").read_bytes())
    removed = body.index(b"ContactStatus: Removed\r\n")
    cut = body.index(b"\r\n\r\n", removed) + 4
    return body[:cut], body[cut:]


async def feature_code(service: RunningService, script: str, n: int) -> AgiCall:
    """``*51`` / ``*54`` dialled on op1003's phone, as the dialplan asks over FastAGI."""
    call = AgiCall(script, f"1796324500.{n}", channel=f"PJSIP/op1003-0000001{n}")
    return await run_agi(call, "127.0.0.1", agi_port(service))


def state_of(service: RunningService, user_id: int) -> str:
    view = service.app.state.book.view(user_id)  # type: ignore[attr-defined]
    return str(view.state)


async def test_ready_is_refused_while_the_phone_is_unregistered(db_url: str) -> None:
    gone, back = halves()
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        *_, op = add_operators(service, 3)  # op1003: PJSIP/op1003
        await play(service, gone)
        await settle(service)
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            assert phones_down(session, ["PJSIP/op1003", "PJSIP/op1001"]) == ["PJSIP/op1003"]

        url = f"/api/v1/operators/{op}/state"
        refused = await service.client.post(url, json={"state": "ready"})
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]  # the operator's language: Russian
        assert "PJSIP/op1003 не зарегистрирован на АТС" in detail and "«Готов»" in detail
        english = await service.client.post(url, params={"lang": "en"}, json={"state": "ready"})
        assert english.status_code == 409
        assert english.json()["detail"].startswith(
            "your phone PJSIP/op1003 is not registered with the PBX"
        )
        # The feature codes take the same path: refused, the dialplan plays an error.
        for n, script in enumerate(("login", "ready")):
            call = await feature_code(service, script, n)
            assert call.set["CALLAGENT_STATUS"] == "unchanged", script
        assert state_of(service, op) == "offline"
        # Pausing and logging out need no phone.
        paused = await service.client.post(url, json={"state": "paused", "reason": "lunch"})
        assert paused.status_code == 409  # offline -> paused is not a transition at all
        assert "cannot go to 'paused'" in paused.json()["detail"]
        assert (await route(service, "1796324600.1")).set["CALLAGENT_STATUS"] == "wait"

        await play(service, back)  # the phone registers again
        await settle(service)
        accepted = await service.client.post(url, json={"state": "ready"})
        assert accepted.status_code == 200, accepted.text
        again = await route(service, "1796324600.1")  # the waiting call asks again
        assert again.set["CALLAGENT_OPERATOR"] == "PJSIP/op1003"
        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert [(h["from_state"], h["to_state"]) for h in history] == [
            ("ready", "ringing"),
            ("offline", "ready"),
        ]


async def test_a_feature_code_goes_ready_once_the_phone_is_registered(db_url: str) -> None:
    gone, back = halves()
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        *_, op = add_operators(service, 3)
        await play(service, gone + back)
        await settle(service)
        call = await feature_code(service, "login", 0)
        assert call.set["CALLAGENT_STATUS"] == "ok"
        assert state_of(service, op) == "ready"
