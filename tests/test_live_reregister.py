"""A pause survives a phone gap (``live/live_reregister_while_paused``, issue #11 point 3).

On a real Asterisk 22, op1003 was set ready and then paused (lunch) through the API; its
phone unregistered and registered again. callagent made it ``ready`` and unpaused it in the
fallback queue: an operator at lunch got calls after a phone reboot. The phone coming back
must restore what the operator had chosen, and the history must show the gap.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callagent.db.models import User
from callagent.routing.states import OperatorState, Signal, back_from_gap, next_state, resume_after
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
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


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


def test_offline_stays_offline_through_a_phone_gap() -> None:
    assert next_state(S.OFFLINE, Signal.PHONE_LOST) is None
    assert next_state(S.OFFLINE, Signal.PHONE_BACK) is None


async def test_after_call_work_survives_a_phone_gap_without_a_second_form(db_url: str) -> None:
    """wrap_up -> unavailable -> wrap_up: the same form and deadline, no new wrap-up."""
    async with running_service(db_url, wrapup_seconds=60) as service:
        (op,) = add_operators(service, 1)
        book = service.app.state.book  # type: ignore[attr-defined]
        for signal in (Signal.LOGIN, Signal.ANSWERED):
            book.signal(op, signal, cause="test", call="pbx1:1.1")
        book.signal(op, Signal.CALL_ENDED, cause="call", call="pbx1:1.1")

        def deadline() -> datetime:
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                user = session.get(User, op)
                assert user is not None and user.wrapup_until is not None
                return user.wrapup_until

        before = deadline()
        book.signal_endpoint("PJSIP/op1001", Signal.PHONE_LOST, cause="device")
        assert book.view(op).state == "unavailable"
        book.signal_endpoint("PJSIP/op1001", Signal.PHONE_BACK, cause="device")
        assert book.view(op).state == "wrap_up"
        assert deadline() == before
        pending = await service.client.get("/api/v1/wrapups/pending", params={"operator_id": op})
        assert [w["call_key"] for w in pending.json()] == ["pbx1:1.1"]
