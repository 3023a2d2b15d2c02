"""Every service's refusal answers alike over real HTTP: its own status and
``{"detail": "..."}`` (one handler in the app for any ServiceError), with ``code`` and
``params`` when the error has a code for pages to translate; on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from callagent.campaigns.service import CampaignError, Conflict, NotFound
from callagent.errors import ServiceError
from callagent.originate import OriginateError
from callagent.questions.service import QuestionError
from callagent.wrapup.service import WrapupError
from tests.conftest import running_service, wait_for
from tests.test_wrapups_api import add_user, browser, call_ends_with


def _problem(response: httpx.Response, status: int) -> str:
    """The detail of a JSON error with ``status`` and nothing but ``detail`` in it (and a
    code with its params)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) in (["detail"], ["detail", "code", "params"]), body
    assert isinstance(body["detail"], str), body
    detail: str = body["detail"]
    return detail


def test_the_four_kinds_are_service_errors_with_their_status() -> None:
    kinds = [
        WrapupError(409, "w"),
        QuestionError(409, "q"),
        OriginateError(429, "o", retry_after=7),
        NotFound("n"),
        Conflict("c"),
    ]
    assert all(isinstance(e, ServiceError) for e in kinds)
    assert [e.status for e in kinds] == [409, 409, 429, 404, 409]
    assert [e.detail for e in kinds] == ["w", "q", "o", "n", "c"]
    assert kinds[2].headers == {"Retry-After": "7"} and kinds[0].headers is None
    assert isinstance(kinds[3], CampaignError) and str(kinds[4]) == "c"  # the CLI prints str()


async def test_each_service_error_answers_its_status_and_detail(db_url: str) -> None:
    async with running_service(db_url, originate_per_minute=1) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        client = service.client

        # CampaignError: NotFound and Conflict
        missing = await client.get("/api/v1/campaigns/999")
        assert _problem(missing, 404) == "no campaign with id 999"
        page = await client.get("/supervisor/campaigns/999", headers={"Accept": "text/html"})
        assert _problem(page, 404) == "no campaign with id 999"  # the page's 404 is JSON too
        assert (await client.post("/api/v1/campaigns", json={"name": "Паспорта"})).is_success
        taken = await client.post("/api/v1/campaigns", json={"name": "Паспорта"})
        assert "exists already" in _problem(taken, 409)

        # QuestionError: a jump the register does not allow; the edit with it is not kept
        ivanova_id = add_user(service, "ivanova", endpoint="PJSIP/op1001")
        petrov_id = add_user(service, "petrov", endpoint="PJSIP/op1002")
        ivanova = await browser(service, "ivanova")
        made = await ivanova.post("/api/v1/questions", json={"text": "Где получить СНИЛС?"})
        assert made.status_code == 201, made.text
        url = f"/api/v1/questions/{made.json()['id']}"
        jump = await ivanova.patch(url, json={"text": "changed", "status": "informed"})
        assert "allowed: escalated, answered, closed" in _problem(jump, 409)
        kept = (await ivanova.get(url)).json()
        assert (kept["text"], kept["status"]) == ("Где получить СНИЛС?", "open")

        # OriginateError: from the questions router (a bad number) and from click-to-call
        bad = await ivanova.post("/api/v1/questions", json={"text": "x", "applicant_phone": "call"})
        assert _problem(bad, 422).startswith("'call' is not a phone number")
        originate = "/api/v1/calls/originate"
        nobody = await client.post(originate, json={"number": "79161234567", "operator_id": 99})
        assert _problem(nobody, 404) == "no active operator with id 99"
        placed = await client.post(
            originate, json={"number": "79161234567", "operator_id": petrov_id}
        )
        assert placed.status_code == 202, placed.text
        limited = await client.post(
            originate, json={"number": "79161234567", "operator_id": petrov_id}
        )
        assert _problem(limited, 429).startswith("at most 1 calls a minute; try again in ")
        assert int(limited.headers["retry-after"]) > 0

        # WrapupError: a pending wrap-up cannot be corrected, and is extended only once
        await call_ends_with(service, ivanova_id)
        (pending,) = (await ivanova.get("/api/v1/wrapups/pending")).json()
        wrapup_url = f"/api/v1/wrapups/{pending['id']}"
        early = await ivanova.patch(
            wrapup_url, json={"category": "wrong_number", "fields": {"kind": "silent"}}
        )
        assert (
            _problem(early, 409) == f"wrap-up {pending['id']} is not submitted yet: submit it first"
        )
        assert (await ivanova.post(f"{wrapup_url}/extend")).status_code == 200
        again = await ivanova.post(f"{wrapup_url}/extend")
        assert _problem(again, 409) == f"wrap-up {pending['id']} was already extended once"
        assert again.json()["code"] == "wrapup_extended_once"  # the page says it in its words
        assert again.json()["params"] == {"wrapup": pending["id"]}
        await ivanova.aclose()
