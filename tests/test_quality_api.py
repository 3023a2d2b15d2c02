"""QA evaluation over real HTTP on SQLite and PostgreSQL (issue #13): the sample for the
evaluators' queues, an evaluation of a call the evaluator may not see refused and nothing
changed, the operator sees and disputes their own, the supervisor's list and revision
(the first revision kept as it was), a calibration's spread, the report by role, and
``callagent quality sample`` as cron runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callagent.auth.scopes import Role
from callagent.db.models import Call
from callagent.quality.models import Assignment, Evaluation
from tests.conftest import RunningService, running_service
from tests.test_wrapups_api import add_user, browser

# noon of yesterday in the centre's zone: the report's days are the centre's, and a UTC
# date is already tomorrow there after 21:00 UTC (a CI run at that hour failed)
CENTRE = ZoneInfo("Europe/Moscow")
STARTED = datetime.combine(
    datetime.now(CENTRE).date() - timedelta(days=1), time(12), tzinfo=CENTRE
).astimezone(UTC)


def add_call(service: RunningService, n: int, endpoint: str | None) -> int:
    """An answered (or, without endpoint, unanswered) inbound call of yesterday."""
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        call = Call(
            node="pbx1",
            linkedid=f"qa{n}",
            direction="inbound",
            applicant_number=f"7916000{n:04d}",
            started_at=STARTED + timedelta(minutes=n),
            answered_at=STARTED + timedelta(minutes=n, seconds=4) if endpoint else None,
            ended_at=STARTED + timedelta(minutes=n + 3),
            talk_seconds=180.0 if endpoint else None,
            operator_endpoint=endpoint,
            disposition="answered" if endpoint else "abandoned",
            updated_at=STARTED,
        )
        db.add(call)
        db.commit()
        return call.id


def answers(card: dict[str, Any], **given: str) -> dict[str, dict[str, str]]:
    """Every criterion yes and every critical error no, but for ``given``."""
    out = {c["id"]: {"answer": "yes"} for s in card["sections"] for c in s["criteria"]}
    out |= {e["id"]: {"answer": "no"} for e in card["critical_errors"]}
    out |= {key: {"answer": value, "comment": f"{key}?"} for key, value in given.items()}
    return out


def evaluations(service: RunningService) -> int:
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        return db.scalar(select(func.count(Evaluation.id))) or 0


async def test_sample_evaluate_dispute_revise_calibrate_report(db_url: str) -> None:
    async with running_service(db_url) as service:
        op1 = add_user(service, "op1", endpoint="PJSIP/op1001", group="north")
        op2 = add_user(service, "op2", endpoint="PJSIP/op1002", group="south")
        qa = add_user(service, "qa", role=Role.EVALUATOR)
        lead = add_user(service, "lead", role=Role.SUPERVISOR, group="north")
        chief = add_user(service, "chief", role=Role.SUPERVISOR)
        north, south = add_call(service, 1, "PJSIP/op1001"), add_call(service, 2, "PJSIP/op1002")
        unanswered = add_call(service, 3, None)
        clients = {name: await browser(service, name) for name in ("op1", "op2", "qa", "lead")}
        clients["chief"] = await browser(service, "chief")
        try:
            await _flow(service, clients, op1, op2, qa, lead, chief, north, south, unanswered)
        finally:
            for client in clients.values():
                await client.aclose()


async def _flow(
    service: RunningService,
    c: dict[str, Any],
    op1: int,
    op2: int,
    qa: int,
    lead: int,
    chief: int,
    north: int,
    south: int,
    unanswered: int,
) -> None:
    # the QA evaluator's home is the quality page
    home = await c["qa"].get("/home", follow_redirects=False)
    assert home.headers["location"] == "/quality"
    # the page's scorecard form and words in Ukrainian and English: no Russian left
    for lang, foreign in (("uk", r"[ЫыЭэЁёЪъ]"), ("en", r"[А-Яа-яЁёІіЇїЄєҐґ]")):
        html = (await c["qa"].get(f"/quality?lang={lang}")).text
        main = re.sub(r"<[^>]+>", " ", html[html.index("<main") : html.index("</main>")])
        assert 'name="a-correct_information"' in html
        assert not re.search(foreign, main), re.findall(foreign, main)
    card = (await c["qa"].get("/api/v1/quality/scorecard")).json()
    assert card["id"] == "public_services" and len(card["critical_errors"]) == 2
    # the week's sample, one call per operator: the north lead may take only op1's
    day = STARTED.astimezone(CENTRE).date().isoformat()
    body = {"week": day, "per_operator": 1, "evaluator_ids": [qa, lead], "seed": 3}
    refused = await c["lead"].post("/api/v1/quality/sample", json=body)
    assert refused.status_code == 403, refused.text  # a group's supervisor: not the centre's
    # the chief draws it for the QA evaluator alone: an evaluator evaluates only the calls
    # given to them
    drawn = await c["chief"].post("/api/v1/quality/sample", json={**body, "evaluator_ids": [qa]})
    assert drawn.status_code == 201, drawn.text
    got = {a["call_id"]: a["evaluator_id"] for a in drawn.json()["assigned"]}
    assert set(got) == {north, south} and got[south] == qa
    queue = (await c["qa"].get("/api/v1/quality/queue")).json()
    assert south in [a["call_id"] for a in queue]
    assert (await c["op1"].get("/api/v1/quality/queue")).status_code == 403

    # a call the evaluator may not see, one that does not exist, one nobody answered
    answer_all = answers(card)
    other = await c["lead"].post(
        "/api/v1/quality/evaluations", json={"call_id": south, "answers": answer_all}
    )
    assert other.status_code == 403 and "may see" in other.json()["detail"], other.text
    missing = await c["qa"].post(
        "/api/v1/quality/evaluations", json={"call_id": 999_999, "answers": answer_all}
    )
    assert missing.status_code == 404
    nobody = await c["chief"].post(
        "/api/v1/quality/evaluations", json={"call_id": unanswered, "answers": answer_all}
    )
    assert nobody.status_code == 422 and "not answered" in nobody.json()["detail"]
    not_given = await c["qa"].post(  # the evaluator: not a call given to them
        "/api/v1/quality/evaluations", json={"call_id": unanswered, "answers": answer_all}
    )
    assert not_given.status_code == 403
    assert not_given.json()["code"] == "quality_call_not_visible", not_given.text
    short = await c["qa"].post(
        "/api/v1/quality/evaluations",
        json={"call_id": north, "answers": {"greeting": {"answer": "yes"}}},
    )
    assert short.status_code == 422 and "identification" in short.json()["detail"]
    assert evaluations(service) == 0  # nothing of it stored

    made = await c["qa"].post(
        "/api/v1/quality/evaluations",
        json={
            "call_id": north,
            "answers": answers(card, correct_information="partial", pre_registration="na"),
            "comment": "fee not named",
        },
    )
    assert made.status_code == 201, made.text
    first = made.json()
    # partial half of 30, booking out of the weights: 65 of 80
    assert (first["score"], first["operator_id"], first["revision"]) == (81.25, op1, 1)
    assert (
        await c["qa"].put(f"/api/v1/quality/evaluations/{first['id']}", json={})
    ).status_code == 405

    # the operator sees their own and disputes it; the other operator sees nothing
    mine = (await c["op1"].get("/api/v1/quality/evaluations")).json()
    assert [e["id"] for e in mine["items"]] == [first["id"]]
    assert (await c["op2"].get("/api/v1/quality/evaluations")).json()["total"] == 0
    peek = await c["op2"].get(f"/api/v1/quality/evaluations/{first['id']}")
    assert peek.status_code == 403
    empty = await c["op1"].post(f"/api/v1/quality/evaluations/{first['id']}/dispute", json={})
    assert empty.status_code == 422
    disputed = await c["op1"].post(
        f"/api/v1/quality/evaluations/{first['id']}/dispute", json={"note": "I named the fee"}
    )
    assert disputed.status_code == 201, disputed.text
    again = await c["op1"].post(f"/api/v1/quality/evaluations/{first['id']}/acknowledge", json={})
    assert again.status_code == 409

    # the supervisors' list: the north lead and the chief see it, a south one would not
    listed = (await c["lead"].get("/api/v1/quality/disputes")).json()
    assert [d["dispute"]["note"] for d in listed] == ["I named the fee"]
    revised = await c["lead"].post(
        f"/api/v1/quality/evaluations/{first['id']}/revisions",
        json={"answers": answers(card, closing="no"), "reason": "fee named at 1:40"},
    )
    assert revised.status_code == 201, revised.text
    second = revised.json()
    assert (second["revision"], second["revision_of_id"], second["score"]) == (2, first["id"], 90.0)
    assert (second["evaluator_id"], second["revised_by_id"]) == (qa, lead)
    assert (await c["lead"].get("/api/v1/quality/disputes")).json() == []
    kept = (await c["op1"].get(f"/api/v1/quality/evaluations/{first['id']}")).json()
    assert (kept["score"], kept["superseded_by_id"]) == (81.25, second["id"])
    assert kept["response"]["outcome"] == "upheld"
    assert {a["item_id"]: a["answer"] for a in kept["answers"]}["correct_information"] == "partial"
    both = (await c["op1"].get("/api/v1/quality/evaluations?revisions=true")).json()
    assert both["total"] == 2

    # calibration: the chief scores the same call, with a critical error
    calib = await c["chief"].post(
        "/api/v1/quality/calibrations", json={"call_id": north, "evaluator_ids": [qa, chief]}
    )
    assert calib.status_code == 201, calib.text
    assert [a["evaluator_id"] for a in calib.json()] == [chief]  # qa has the call already
    chief_made = await c["chief"].post(
        "/api/v1/quality/evaluations",
        json={"call_id": north, "answers": answers(card, wrong_information="yes")},
    )
    assert chief_made.status_code == 201 and chief_made.json()["kind"] == "calibration"
    assert chief_made.json()["score"] == 0.0
    report = (await c["chief"].get(f"/api/v1/quality/report?from={day}&to={day}&lang=en")).json()
    # the calibration is not counted twice in the operator's figures
    assert [(o["operator_id"], o["average"]) for o in report["operators"]] == [(op1, 90.0)]
    assert report["errors"] == [
        {"item_id": "closing", "critical": False, "count": 1, "title": "Closing"}
    ]
    spread = {row["item_id"]: row["max_spread"] for row in report["calibration"]["criteria"]}
    assert spread["wrong_information"] == 100.0 and spread["greeting"] == 0.0
    assert report["calibration"]["calls"][0]["spread"] == 90.0
    own = (await c["op1"].get(f"/api/v1/quality/report?from={day}&to={day}")).json()
    assert own["evaluations"] == 1 and own["calibration"]["calls"] == []
    other_report = (await c["op2"].get(f"/api/v1/quality/report?from={day}&to={day}")).json()
    assert other_report["evaluations"] == 0

    # cron: the sample for the same week again draws nothing new; a bigger one, none left
    env = {**os.environ, "CALLAGENT_DATABASE_URL": service.settings.database_url}
    command = [sys.executable, "-m", "callagent", "quality", "sample", "-e", "qa", "-e", "chief"]
    run = await asyncio.to_thread(
        subprocess.run,
        [*command, "--week", day, "-n", "1", "--seed", "3", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["assigned"] == []
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        assert db.scalar(select(func.count(Assignment.id))) == 3
    bad = await asyncio.to_thread(
        subprocess.run, [*command, "-e", "nobody"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "nobody" in bad.stderr
