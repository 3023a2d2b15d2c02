"""A pause survives a phone gap (``live/live_reregister_while_paused``, issue #11 point 3).

On a real Asterisk 22, op1003 was set ready and then paused (lunch) through the API; its
phone unregistered and registered again. callagent made it ``ready`` and unpaused it in the
fallback queue: an operator at lunch got calls after a phone reboot. The phone coming back
must restore what the operator had chosen, and the history must show the gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callagent.routing.states import OperatorState, back_from_gap, resume_after
from callagent.sim.ami_server import trace_body
from tests.conftest import LIVE_TRACES, RunningService, running_service, wait_for
from tests.test_live_feature_codes import settle
from tests.test_live_replay import play
from tests.test_routing import add_operators

S = OperatorState
NOW = datetime(2026, 12, 3, 19, 0, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "reason", "remembered"),
    [
        (S.PAUSED, "lunch", (S.PAUSED, "lunch")),
        (S.READY, "", (S.READY, "")),
        (S.RINGING, "", (S.READY, "")),  # the lost phone cannot take that call any more
        (S.WRAP_UP, "", (S.WRAP_UP, "")),
    ],
)
def test_what_is_remembered_when_the_phone_goes(
    before: OperatorState, reason: str, remembered: tuple[OperatorState, str]
) -> None:
    assert resume_after(before, reason) == remembered


def test_where_the_operator_goes_when_the_phone_is_back() -> None:
    later, earlier = NOW + timedelta(seconds=30), NOW - timedelta(seconds=1)
    assert back_from_gap("paused", "lunch", None, NOW) == (S.PAUSED, "lunch")
    assert back_from_gap("ready", "", None, NOW) == (S.READY, "")
    assert back_from_gap("wrap_up", "", later, NOW) == (S.WRAP_UP, "")
    assert back_from_gap("wrap_up", "", earlier, NOW) == (S.READY, "")  # its time is over
    assert back_from_gap(None, "", None, NOW) == (S.READY, "")  # nothing remembered
    assert back_from_gap("ready", "lunch", None, NOW) == (S.READY, "")  # no stray reason


def pieces() -> list[bytes]:
    """The stream cut before each QueueMemberPause: where the API calls were made."""
    body = trace_body((LIVE_TRACES / "live_reregister_while_paused.ami").read_bytes())
    marker = b"Event: QueueMemberPause\r\n"
    cuts = [i for i in range(len(body)) if body.startswith(marker, i)]
    # The lunch pause's QueueMemberPause comes right after its queue device's change.
    lunch_device = body.rfind(b"Event: DeviceStateChange\r\n", 0, cuts[1])
    bounds = [0, cuts[0], lunch_device, len(body)]
    return [body[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


async def set_state(service: RunningService, user_id: int, **body: str) -> None:
    response = await service.client.post(f"/api/v1/operators/{user_id}/state", json=body)
    assert response.status_code == 200, response.text


async def test_a_pause_survives_the_phone_registering_again(db_url: str) -> None:
    registered, to_ready, to_lunch = pieces()
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        *_, op = add_operators(service, 3)  # op1003: PJSIP/op1003
        await play(service, registered)
        await settle(service)
        await set_state(service, op, state="ready")
        await play(service, to_ready)
        await set_state(service, op, state="paused", reason="lunch")
        await play(service, to_lunch)  # unregistered, then registered again
        await settle(service)

        history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
        assert [(h["from_state"], h["to_state"], h["reason"], h["cause"]) for h in history][
            ::-1
        ] == [
            ("offline", "ready", "", "api"),
            ("ready", "paused", "lunch", "api"),
            ("paused", "unavailable", "", "device"),
            ("unavailable", "paused", "lunch", "device"),
        ]
        view = service.app.state.book.view(op)  # type: ignore[attr-defined]
        assert (view.state, view.reason) == ("paused", "lunch")

        # The fallback queue never unpaused them: paused again with lunch on return (the
        # gap itself may be mirrored as a pause "unavailable": routing/queue_sync).
        def pauses() -> list[tuple[str, str]]:
            return [
                (a.get("Paused"), a.get("Reason"))
                for a in service.pbx.actions
                if a.action == "QueuePause" and a.get("Interface") == "PJSIP/op1003"
            ]

        await wait_for(lambda: len(pauses()) >= 3 and pauses()[-1] == ("true", "lunch"))
        sent = pauses()
        assert sent[:2] == [("false", "ready"), ("true", "lunch")]
        assert all(paused == "true" for paused, _ in sent[1:]), sent
