"""make run's demo: simulated operators submit their wrap-ups as a person does, and an
operator somebody signs in as is left to that person (issue #17, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from callagent.db.models import OperatorStateChange, User
from callagent.db.wrapup_models import Wrapup, WrapupChange
from callagent.sim.demo import DEMO_PASSWORD
from callagent.sim.demo_people import demo_category, demo_values
from callagent.wrapup.forms import load_forms
from tests.conftest import RunningService, running_service, wait_for

DEMO = {
    "ami_nodes": [],
    "simulator": "auto",
    "simulator_call_interval": 0.3,
    "simulator_speed": 5.0,
}


def submitted_by_simulator(service: RunningService) -> list[WrapupChange]:
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        return list(
            db.scalars(
                select(WrapupChange).where(
                    WrapupChange.action == "submitted",
                    WrapupChange.by_actor.like("simulator:%"),
                )
            )
        )


def feature_code_changes(service: RunningService) -> int:
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        return int(
            db.scalar(
                select(func.count())
                .select_from(OperatorStateChange)
                .where(OperatorStateChange.cause == "feature_code")
            )
            or 0
        )


def test_the_demo_form_is_one_the_default_forms_accept() -> None:
    forms = load_forms()
    category = demo_category(forms)
    assert not category.question
    values = demo_values(category, datetime.now(UTC))
    required = [f.name for f in category.fields if f.required and f.show_if is None]
    assert set(required) <= set(values)


async def test_simulated_operators_submit_their_wrap_ups(db_url: str) -> None:
    async with running_service(db_url, **DEMO) as service:
        await wait_for(lambda: len(submitted_by_simulator(service)) >= 3, timeout=60)
        changes = submitted_by_simulator(service)
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            wrapups = {w.id: w for w in db.scalars(select(Wrapup))}
            logins = {u.id: u.login for u in db.scalars(select(User))}
        for change in changes:
            wrapup = wrapups[change.wrapup_id]
            assert wrapup.status == "submitted" and wrapup.category == "consultation"
            assert change.by_actor == f"simulator:{logins[wrapup.operator_id]}"
        # after-call work ends by the form, never by *54
        assert feature_code_changes(service) == 0


async def operator_state(client: httpx.AsyncClient, user_id: int) -> dict[str, Any]:
    users = (await client.get("/api/v1/operators")).json()
    found: dict[str, Any] = next(u for u in users if u["id"] == user_id)
    return found


async def test_a_person_signed_in_as_a_demo_operator_is_left_alone(db_url: str) -> None:
    async with running_service(db_url, **DEMO) as service:
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            me = db.scalar(select(User).where(User.login == "op1001"))
            assert me is not None
            user_id = me.id
        async with httpx.AsyncClient(base_url=service.base_url) as person:
            login = await person.post(
                "/api/v1/auth/login", json={"login": "op1001", "password": DEMO_PASSWORD}
            )
            assert login.status_code == 200, login.text
            headers = {"X-CSRF-Token": login.json()["csrf_token"]}
            state = f"/api/v1/operators/{user_id}/state"

            async def in_wrap_up() -> bool:
                view = (await person.get(f"/api/v1/operators/{user_id}/state-history")).json()
                return bool(view) and view[0]["to_state"] == "wrap_up"

            await wait_for(in_wrap_up, timeout=60)  # a call ended: the form is mine
            paused = await person.post(
                state, json={"state": "paused", "reason": "break"}, headers=headers
            )
            assert paused.status_code == 200, paused.text
            people = service.app.state.demo_people  # type: ignore[attr-defined]
            # the demo's people finish 1-4 s after a call (0.2-0.8 s at speed 5): wait
            # until they have done so for my call and three more of the others'
            before = len(submitted_by_simulator(service))
            await wait_for(lambda: people.left_to_people >= 1, timeout=30)
            await wait_for(lambda: len(submitted_by_simulator(service)) >= before + 3, timeout=60)
            history = (await person.get(f"/api/v1/operators/{user_id}/state-history")).json()
            assert history[0]["to_state"] == "paused" and history[0]["cause"] == "api"
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                mine = db.scalars(select(Wrapup).where(Wrapup.operator_id == user_id)).all()
            assert mine and all(w.status != "submitted" for w in mine)
            others = {c.by_actor for c in submitted_by_simulator(service)}
            assert "simulator:op1001" not in others
