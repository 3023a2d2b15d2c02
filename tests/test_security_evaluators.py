"""A QA evaluator sees only the calls given to them (issue #13), on SQLite and PostgreSQL,
over real HTTP with a session: the calls list (API and page), a call (API and page), its
recording, its wrap-ups and evaluating it; a call given to them for calibration opens, the others
answer 403 and nothing is stored; the evaluations (list, one, the report's calibration, the
calibration page) of the calls given to them only; the centre's sample is not theirs to
draw. Admins, supervisors and tokens are not limited so."""

from __future__ import annotations

import wave
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import Call
from callagent.quality.models import Assignment, Evaluation
from tests.conftest import RunningService, running_service
from tests.test_quality_api import CENTRE, STARTED, add_call, answers
from tests.test_security import _login

PASSWORD = "evaluator-password"


def users(service: RunningService) -> dict[str, int]:
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        made = {
            "ivanova": create_user(
                db, login="ivanova", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1001"]
            ),
            "qa": create_user(db, login="qa", role=Role.EVALUATOR, password=PASSWORD),
            "qa2": create_user(db, login="qa2", role=Role.EVALUATOR, password=PASSWORD),
            "chief": create_user(db, login="chief", role=Role.SUPERVISOR, password=PASSWORD),
        }
        db.flush()
        return {login: user.id for login, user in made.items()}


def with_recording(service: RunningService, call_id: int) -> None:
    """A second of silence on disk as the call's recording."""
    name = f"evaluator-{call_id}.wav"
    with wave.open(str(Path(service.settings.recordings_dir) / name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        call = db.get(Call, call_id)
        assert call is not None
        call.recording_file = name


async def session(service: RunningService, login: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(base_url=service.base_url)
    response = await _login(client, login, PASSWORD)
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


def stored(service: RunningService) -> int:
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        return db.scalar(select(func.count(Evaluation.id))) or 0


async def test_an_evaluator_sees_only_the_calls_given_to_them(db_url: str) -> None:
    async with running_service(db_url) as service:
        ids = users(service)
        given, other = add_call(service, 1, "PJSIP/op1001"), add_call(service, 2, "PJSIP/op1001")
        for call_id in (given, other):
            with_recording(service, call_id)
        card = (await service.client.get("/api/v1/quality/scorecard")).json()
        wrapups = {}
        for call_id in (given, other):
            done = await service.client.post(
                f"/api/v1/calls/{call_id}/wrapup",
                json={
                    "category": "wrong_number",
                    "fields": {"kind": "silent"},
                    "operator_id": ids["ivanova"],
                },
            )
            assert done.status_code == 201, done.text
            wrapups[call_id] = done.json()["id"]
        chief, chief_csrf = await session(service, "chief")
        qa, qa_csrf = await session(service, "qa")
        try:
            # before anything is given: nothing to see
            listed = (await qa.get("/api/v1/calls")).json()
            assert listed["total"] == 0 and listed["items"] == []
            # the supervisor gives one call to the two evaluators to calibrate
            made = await chief.post(
                "/api/v1/quality/calibrations",
                json={"call_id": given, "evaluator_ids": [ids["qa"], ids["qa2"]]},
                headers={"X-CSRF-Token": chief_csrf},
            )
            assert made.status_code == 201, made.text
            listed = (await qa.get("/api/v1/calls")).json()
            assert [c["id"] for c in listed["items"]] == [given]
            assert listed["total"] == 1
            assert (await qa.get(f"/api/v1/calls/{given}")).status_code == 200
            refused = await qa.get(f"/api/v1/calls/{other}")
            assert refused.status_code == 403
            assert (await qa.get(f"/api/v1/calls/{given}/recording")).status_code == 200
            heard = await qa.get(f"/api/v1/calls/{other}/recording")
            assert (heard.status_code, heard.json()["code"]) == (403, "recording_not_yours")
            # the wrap-ups: those of the calls given to them
            seen = (await qa.get("/api/v1/wrapups")).json()
            assert [w["id"] for w in seen] == [wrapups[given]]
            assert (await qa.get(f"/api/v1/calls/{given}/wrapup")).status_code == 200
            assert (await qa.get(f"/api/v1/calls/{other}/wrapup")).status_code == 403
            assert (await qa.get(f"/api/v1/wrapups/{wrapups[other]}")).status_code == 403
            assert (await qa.get(f"/api/v1/wrapups/{wrapups[given]}")).status_code == 200
            assert len((await chief.get("/api/v1/wrapups")).json()) == 2
            # the calls page and a call's page, as a browser asks for them
            html = {"Accept": "text/html"}
            days = {
                "from": (STARTED - timedelta(days=1)).date().isoformat(),
                "to": date.today().isoformat(),
            }
            page = await qa.get("/calls", params=days, headers=html)
            assert page.status_code == 200
            assert f'href="/calls/{given}' in page.text
            assert f'href="/calls/{other}' not in page.text
            everything = await chief.get("/calls", params=days, headers=html)
            assert f'href="/calls/{other}' in everything.text  # there to be seen by others
            assert (await qa.get(f"/calls/{given}", headers=html)).status_code == 200
            assert (await qa.get(f"/calls/{other}", headers=html)).status_code == 403
            # evaluating: the call not given is refused and nothing is stored
            body: dict[str, Any] = {"call_id": other, "answers": answers(card)}
            headers = {"X-CSRF-Token": qa_csrf}
            refused = await qa.post("/api/v1/quality/evaluations", json=body, headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (
                403,
                "quality_call_not_visible",
            )
            assert stored(service) == 0
            body["call_id"] = given
            done = await qa.post("/api/v1/quality/evaluations", json=body, headers=headers)
            assert done.status_code == 201, done.text
            assert done.json()["kind"] == "calibration"
            # evaluated, the call stays one of theirs (its assignment is done)
            assert (await qa.get(f"/api/v1/calls/{given}")).status_code == 200
            # the others are not limited so: a supervisor without a group, the admin token
            assert (await chief.get("/api/v1/calls")).json()["total"] == 2
            assert (await service.client.get("/api/v1/calls")).json()["total"] == 2
            assert (await chief.get(f"/api/v1/calls/{other}")).status_code == 200
        finally:
            await qa.aclose()
            await chief.aclose()


async def test_an_evaluator_sees_the_evaluations_of_the_calls_given_to_them(db_url: str) -> None:
    """The evaluations list, one evaluation, the quality report's calibration calls and the
    calibration page show a QA evaluator the evaluations of the calls given to them (and
    the ones they made), not the centre's; the centre's sample is not theirs to draw (API
    403, nothing stored; the page has no form). A supervisor without a group sees all."""
    async with running_service(db_url) as service:
        ids = users(service)
        given, other = add_call(service, 1, "PJSIP/op1001"), add_call(service, 2, "PJSIP/op1001")
        card = (await service.client.get("/api/v1/quality/scorecard")).json()
        chief, chief_csrf = await session(service, "chief")
        qa, qa_csrf = await session(service, "qa")
        qa2, qa2_csrf = await session(service, "qa2")
        try:
            for call_id, evaluators in ((given, ["qa", "qa2"]), (other, ["qa2", "chief"])):
                made = await chief.post(
                    "/api/v1/quality/calibrations",
                    json={"call_id": call_id, "evaluator_ids": [ids[e] for e in evaluators]},
                    headers={"X-CSRF-Token": chief_csrf},
                )
                assert made.status_code == 201, made.text
            done: dict[tuple[str, int], int] = {}
            for who, client, csrf, call_id in (
                ("qa", qa, qa_csrf, given),
                ("qa2", qa2, qa2_csrf, given),
                ("qa2", qa2, qa2_csrf, other),
                ("chief", chief, chief_csrf, other),
            ):
                answered = await client.post(
                    "/api/v1/quality/evaluations",
                    json={"call_id": call_id, "answers": answers(card)},
                    headers={"X-CSRF-Token": csrf},
                )
                assert answered.status_code == 201, answered.text
                done[(who, call_id)] = answered.json()["id"]
            theirs = sorted([done[("qa", given)], done[("qa2", given)]])
            listed = (await qa.get("/api/v1/quality/evaluations")).json()
            assert sorted(e["id"] for e in listed["items"]) == theirs
            assert listed["total"] == 2
            by_call = await qa.get("/api/v1/quality/evaluations", params={"call_id": other})
            assert by_call.json()["total"] == 0
            assert (await chief.get("/api/v1/quality/evaluations")).json()["total"] == 4
            one = await qa.get(f"/api/v1/quality/evaluations/{done[('qa2', given)]}")
            assert one.status_code == 200  # a colleague's evaluation of a call given to them
            refused = await qa.get(f"/api/v1/quality/evaluations/{done[('chief', other)]}")
            assert (refused.status_code, refused.json()["code"]) == (
                403,
                "quality_not_your_evaluation",
            )
            assert (await qa.get("/api/v1/quality/evaluations/999999")).status_code == 404
            # the report's calibration: the calls given to them; the chief: both
            day = STARTED.astimezone(CENTRE).date().isoformat()
            span = {"from": day, "to": day}
            report = (await qa.get("/api/v1/quality/report", params=span)).json()
            assert [c["call_id"] for c in report["calibration"]["calls"]] == [given]
            everything = (await chief.get("/api/v1/quality/report", params=span)).json()
            assert [c["call_id"] for c in everything["calibration"]["calls"]] == [given, other]
            html = {"Accept": "text/html"}
            page = (await qa.get("/quality/calibration", params=span, headers=html)).text
            assert f'data-call="{given}"' in page and f'data-call="{other}"' not in page
            # the sample: drawn by the chief, not by an evaluator (nothing stored)
            body = {"week": day, "per_operator": 1, "evaluator_ids": [ids["qa"]]}
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                before = db.scalar(select(func.count(Assignment.id)))
            drawn = await qa.post(
                "/api/v1/quality/sample", json=body, headers={"X-CSRF-Token": qa_csrf}
            )
            assert (drawn.status_code, drawn.json()["code"]) == (403, "quality_sample_not_yours")
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                assert db.scalar(select(func.count(Assignment.id))) == before
            quality = (await qa.get("/quality", headers=html)).text
            assert 'id="sample-form"' not in quality and 'id="sample-given"' in quality
            assert 'id="sample-form"' in (await chief.get("/quality", headers=html)).text
            drawn = await chief.post(
                "/api/v1/quality/sample", json=body, headers={"X-CSRF-Token": chief_csrf}
            )
            assert drawn.status_code == 201, drawn.text
        finally:
            for client in (qa, qa2, chief):
                await client.aclose()
