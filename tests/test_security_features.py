"""Personal data and who may do what, for wrap-ups, questions, campaigns and the live pages.

Through the running service on SQLite and PostgreSQL: masking for credentials without
``calls:read_pii``, operators' and supervisors' views, the audit of exports, the logs of
an end-to-end run, CSRF and rate limits on the routes the pages use.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from callagent.api.security import PUBLIC_ROUTES
from callagent.auth.scopes import ALL_SCOPES, Role, Scope
from callagent.auth.service import Principal
from callagent.logs import DropQueryStringFilter
from callagent.sim.ami_server import trace_body
from callagent.web.live import LiveEvent, _masked
from tests.conftest import RunningService, make_token, running_service, trace_bytes, wait_for
from tests.test_dialer import ALWAYS, Clock, dial, make_campaign, simulated_outbound
from tests.test_live_replay import play
from tests.test_wrapups_api import add_user, browser, call_ends_with, user_state

INBOUND_CALLER = "79031234567"  # the applicant of the recorded inbound calls
APPLICANT = "Сидоров Пётр"
APPLICANT_PHONE = "+7 916 123-45-67"
CONTACT_PHONE = "+7 916 765-43-21"
# The operator's wrap-up of the inbound call: a non-standard question with the applicant's data.
QUESTION_WRAPUP = {
    "category": "non_standard_question",
    "fields": {
        "question": "Можно ли получить паспорт по временной регистрации?",
        "applicant_name": APPLICANT,
        "applicant_phone": APPLICANT_PHONE,
        "answer_channel": "call_back",
        "contact_phone": CONTACT_PHONE,
    },
}
# A question an operator writes down by hand, about another applicant.
OTHER_QUESTION = {
    "text": "Сколько делают СНИЛС?",
    "applicant_name": "Ковалёва Анна",
    "applicant_phone": "8 903 123-45-67",
}
REGISTRY = (
    "ФИО;Телефон;Номер дела;Офис\r\n"
    "Кузнецова Ольга Игоревна;8 (916) 100-00-01;Д-001;МФЦ-1\r\n"
    "Орлов Степан;+7 916 100-00-02;Д-002;МФЦ-1\r\n"
    "Белова Нина;+7 916 100-00-03;Д-003;МФЦ-1\r\n"
    "Кривой Номер;8 916 100 00;Д-004;МФЦ-2\r\n"
).encode("cp1251")
REGISTRY_PHONES = ("9161000001", "9161000002", "9161000003", "91610000")
REGISTRY_NAMES = ("Кузнецова", "Орлов", "Белова", "Кривой")
# Every applicant's number and name the tests put in (national digits: any format matches).
PHONES = ("9031234567", "9161234567", "9167654321", *REGISTRY_PHONES)
NAMES = ("Сидоров", "Пётр", "Ковалёва", *REGISTRY_NAMES)
MASKED = re.compile(r"\d ?\*\*\*|[А-ЯЁ]\. [А-ЯЁ]\.")  # a masked number or initials
_PHONE_LIKE = re.compile(r"\+?\d[\d\s\-().]{5,}\d|\d{7,}")


def digits_of_phones(text: str) -> str:
    """Every phone-like run in ``text`` with its separators dropped, space-separated."""
    return " ".join(re.sub(r"\D", "", m.group()) for m in _PHONE_LIKE.finditer(text))


def leaks(text: str, phones: Iterable[str] = PHONES, names: Iterable[str] = NAMES) -> list[str]:
    """The applicants' numbers and names found in ``text`` (empty: none)."""
    text = unquote(text)  # a number in a URL is as readable to whoever reads the log
    runs = digits_of_phones(text)
    return [p for p in phones if p in runs] + [n for n in names if n in text]


def dump(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), (response.request.url, response.text)
    return json.dumps(response.json(), ensure_ascii=False)


def auth(app: object, scopes: Iterable[Scope], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(app, frozenset(scopes), name)}"}


# ------------------------------------------------------------------ unit checks


def access_line(method: str, path: str, status: int) -> str:
    """uvicorn's access log line for a request, after the filter (which keeps every line)."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status),
        None,
    )
    assert DropQueryStringFilter().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/callers/79031234567/history",
        "/api/v1/callers/%2B7%20903%20123-45-67/history",
        "/api/v1/callers/+7%20(903)%20123-45-67/history?limit=5",
        "/api/v1/do-not-call/+79031234567",
        "/api/v1/do-not-call/8%20903%201234567",
    ],
)
def test_access_log_lines_carry_no_number_from_the_path(path: str) -> None:
    # The operator page asks /api/v1/callers/{number}/history on every call: the
    # number is in the path, which uvicorn logs at INFO.
    line = access_line("GET", path, 200)
    assert not leaks(line, phones=("9031234567",)), line
    assert "/history" in line or "/do-not-call/" in line  # the route is still readable


def test_access_log_keeps_ids_in_paths() -> None:
    assert "/api/v1/wrapups/1234567/submit" in access_line(
        "POST", "/api/v1/wrapups/1234567/submit", 201
    )


def test_live_call_events_are_masked_without_the_pii_scope() -> None:
    event = LiveEvent(
        "b-1",
        "call",
        {"phase": "ringing", "caller_number": "79161234567", "caller_name": APPLICANT},
    )
    lite = Principal("user:x", ALL_SCOPES - {Scope.CALLS_READ_PII}, user_id=1)
    masked = _masked(event, lite).data
    assert (masked["caller_number"], masked["caller_name"]) == ("+7 916 ***-**-67", "С. П.")
    full = _masked(event, Principal("user:y", ALL_SCOPES, user_id=2)).data
    assert (full["caller_number"], full["caller_name"]) == ("79161234567", APPLICANT)
    assert event.data["caller_number"] == "79161234567"  # the hub's copy is not changed


# --------------------------------------------------------------------- the scene


@dataclass
class Scene:
    """Two operators in two groups, their supervisors, wrap-ups, questions, a campaign."""

    ivanova: int
    petrov: int
    lead: int
    chief: int
    call_id: int
    own_wrapup: int  # ivanova's, submitted: a non-standard question with the applicant
    other_wrapup: int  # petrov's, submitted: a pre-registration with the applicant's name
    pending_wrapup: int  # ivanova's second call, not filled in yet
    question: int  # ivanova's, opened by her wrap-up
    other_question: int  # petrov's, registered over the API
    campaign: int


async def build(service: RunningService) -> Scene:
    await wait_for(lambda: service.monitor.clients[0].connected)
    ivanova = add_user(service, "ivanova", endpoint="PJSIP/op1001", group="north")
    petrov = add_user(service, "petrov", endpoint="PJSIP/op1002", group="south")
    lead = add_user(service, "lead", role=Role.SUPERVISOR, group="north")
    chief = add_user(service, "chief", role=Role.SUPERVISOR)
    client = service.client
    await call_ends_with(service, ivanova)

    async def recorded() -> bool:
        return bool((await client.get("/api/v1/calls", params={"final": True})).json()["total"])

    await wait_for(recorded)
    call_id = (await client.get("/api/v1/calls")).json()["items"][0]["id"]
    page = await browser(service, "ivanova")
    (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
    own = await page.post(f"/api/v1/wrapups/{pending['id']}/submit", json=QUESTION_WRAPUP)
    assert own.status_code == 201, own.text
    (question,) = (await page.get("/api/v1/questions")).json()["items"]
    other = await client.post(
        f"/api/v1/calls/{call_id}/wrapup",
        json={
            "operator_id": petrov,
            "category": "pre_registration",
            "fields": {
                "service": "passport",
                "office": "central",
                "date": "2026-12-01",
                "time": "10:00",
                "applicant_name": "Ковалёва Анна",
            },
        },
    )
    assert other.status_code == 201, other.text
    petrov_page = await browser(service, "petrov")
    other_question = await petrov_page.post("/api/v1/questions", json=OTHER_QUESTION)
    assert other_question.status_code == 201, other_question.text
    # a second call of ivanova's: its wrap-up stays pending
    assert user_state(service, ivanova) == "ready"
    await play(service, trace_body(trace_bytes("inbound_answered_operator_hangs_up")))
    await wait_for(lambda: user_state(service, ivanova) == "wrap_up")
    (second,) = (await page.get("/api/v1/wrapups/pending")).json()
    campaign = await client.post("/api/v1/campaigns", json={"name": "Паспорта"})
    assert campaign.status_code == 201, campaign.text
    await page.aclose()
    await petrov_page.aclose()
    return Scene(
        ivanova=ivanova,
        petrov=petrov,
        lead=lead,
        chief=chief,
        call_id=call_id,
        own_wrapup=pending["id"],
        other_wrapup=other.json()["id"],
        pending_wrapup=second["id"],
        question=question["id"],
        other_question=other_question.json()["id"],
        campaign=campaign.json()["id"],
    )


async def upload(
    client: httpx.AsyncClient, campaign_id: int, data: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/v1/campaigns/{campaign_id}/registry",
        files={"file": ("реестр.csv", data, "text/csv")},
        headers=headers,
    )


# ------------------------------------------------------------------------ masking


async def test_new_endpoints_mask_applicants_without_the_pii_scope(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        scene = await build(service)
        client = service.client  # every scope: sees everything
        lite = auth(service.app, ALL_SCOPES - {Scope.CALLS_READ_PII}, "no-pii")
        cid = scene.campaign
        report = await upload(client, cid, REGISTRY)
        assert report.status_code == 200, report.text
        import_id = report.json()["id"]
        added = await client.post("/api/v1/do-not-call", json={"phone": "8 916 100-00-03"})
        assert added.status_code == 201
        own_upload = await upload(
            client, cid, "ФИО;Телефон\r\nКовалёва Анна;8 916 765 43 2\r\n".encode(), lite
        )
        checked = 0
        for url in (
            "/api/v1/questions",
            f"/api/v1/questions/{scene.question}",
            f"/api/v1/questions/{scene.other_question}",
            "/api/v1/wrapups",
            f"/api/v1/wrapups/{scene.own_wrapup}",
            f"/api/v1/wrapups/{scene.other_wrapup}",
            f"/api/v1/calls/{scene.call_id}/wrapup?operator_id={scene.ivanova}",
            f"/api/v1/wrapups/pending?operator_id={scene.ivanova}",
            f"/api/v1/campaigns/{cid}/entries",
            f"/api/v1/campaigns/{cid}/registry/imports/{import_id}",
            "/api/v1/do-not-call",
            "/api/v1/calls",
            f"/api/v1/calls/{scene.call_id}",
        ):
            masked, full = dump(await client.get(url, headers=lite)), dump(await client.get(url))
            assert not leaks(masked), (url, leaks(masked), masked)
            assert leaks(full), (url, full)  # the same data, in the clear with the scope
            assert MASKED.search(masked), (url, masked)  # there, but masked
            checked += 1
        assert checked == 13
        assert not leaks(dump(own_upload)) and "К. А." in own_upload.text  # the uploader's report
        repeated = await upload(client, cid, REGISTRY, lite)  # the same file: the earlier report
        assert repeated.json()["repeated"] is True and not leaks(dump(repeated))

        # field by field, where they are
        question = (await client.get(f"/api/v1/questions/{scene.question}", headers=lite)).json()
        assert (question["applicant_name"], question["applicant_phone"]) == (
            "С. П.",
            "+7 916 ***-**-67",
        )
        assert question["contact"] == "+7 916 ***-**-21"
        wrapup = (await client.get(f"/api/v1/wrapups/{scene.own_wrapup}", headers=lite)).json()
        assert wrapup["fields"]["applicant_name"] == "С. П."
        assert wrapup["fields"]["applicant_phone"] == "+7 916 ***-**-67"
        assert wrapup["fields"]["contact_phone"] == "+7 916 ***-**-21"
        assert wrapup["history"] == []  # old values would carry them again
        (pending,) = (
            await client.get(
                "/api/v1/wrapups/pending", params={"operator_id": scene.ivanova}, headers=lite
            )
        ).json()
        assert pending["caller_number"] == "+7 903 ***-**-67"
        # a number's history is a search by number: calls:read_pii or nothing (issue #15
        # point 10; tests/test_pii_search.py)
        for number in (INBOUND_CALLER, APPLICANT_PHONE):
            history = await client.get(f"/api/v1/callers/{number}/history", headers=lite)
            assert history.status_code == 403 and "calls:read_pii" in history.text
        # the live stream belongs to logged-in users (every role reads PII): not to tokens
        live = await client.get("/api/v1/live/events", headers=lite)
        assert live.status_code == 400 and "logged-in user" in live.json()["detail"]
        export = await client.get(f"/api/v1/campaigns/{cid}/registry/export", headers=lite)
        assert export.status_code == 403 and "calls:read_pii" in export.text


# ------------------------------------------------------------------ who sees what


def ids(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return {int(item["id"]) for item in items}


async def test_operators_see_their_own_wrapups_and_questions_supervisors_their_group(
    db_url: str,
) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        s = await build(service)
        ivanova, petrov, lead, chief = [
            await browser(service, name) for name in ("ivanova", "petrov", "lead", "chief")
        ]
        mine = {s.own_wrapup, s.pending_wrapup}
        assert ids(await ivanova.get("/api/v1/wrapups")) == mine
        assert ids(await petrov.get("/api/v1/wrapups")) == {s.other_wrapup}
        assert ids(await lead.get("/api/v1/wrapups")) == mine  # north: ivanova's only
        assert ids(await chief.get("/api/v1/wrapups")) == mine | {s.other_wrapup}  # no group
        form = {"category": "wrong_number", "fields": {"kind": "silent"}}
        for page, foreign, operator in (
            (ivanova, s.other_wrapup, s.petrov),
            (petrov, s.own_wrapup, s.ivanova),
            (lead, s.other_wrapup, s.petrov),
        ):
            for response in (
                await page.get(f"/api/v1/wrapups/{foreign}"),
                await page.patch(f"/api/v1/wrapups/{foreign}", json=form),
                await page.post(f"/api/v1/wrapups/{foreign}/submit", json=form),
                await page.post(f"/api/v1/wrapups/{foreign}/extend"),
                await page.get("/api/v1/wrapups/pending", params={"operator_id": operator}),
            ):
                assert response.status_code == 403, (response.request.url, response.text)
        listed = await ivanova.get("/api/v1/wrapups", params={"operator_id": s.petrov})
        assert listed.status_code == 403
        assert (await chief.get(f"/api/v1/wrapups/{s.other_wrapup}")).status_code == 200
        # questions: operators their own (the answered ones are the knowledge base)
        assert ids(await ivanova.get("/api/v1/questions")) == {s.question}
        assert ids(await petrov.get("/api/v1/questions")) == {s.other_question}
        for page, foreign in ((ivanova, s.other_question), (petrov, s.question)):
            url = f"/api/v1/questions/{foreign}"
            assert (await page.get(url)).status_code == 403
            assert (await page.patch(url, json={"status": "escalated"})).status_code == 403
            assert (await page.post(f"{url}/callback", json={})).status_code == 403
        # an operator looks up only numbers they talk to
        history = await petrov.get(f"/api/v1/callers/{INBOUND_CALLER}/history")
        assert history.status_code == 403
        assert (await ivanova.get(f"/api/v1/callers/{INBOUND_CALLER}/history")).status_code == 200
        for page in (ivanova, petrov, lead, chief):
            await page.aclose()


async def test_a_groups_supervisor_sees_only_the_groups_calls_in_a_callers_history(
    db_url: str,
) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        s = await build(service)
        add_user(service, "southlead", role=Role.SUPERVISOR, group="south")
        lead, south = await browser(service, "lead"), await browser(service, "southlead")
        try:
            url = f"/api/v1/callers/{INBOUND_CALLER}/history"
            north_view = (await lead.get(url)).json()
            seen = {w["id"] for c in north_view["calls"] for w in c["wrapups"]}
            assert seen == {s.own_wrapup}  # not petrov's (south)
            assert ids(await south.get("/api/v1/wrapups")) == {s.other_wrapup}
            assert (await south.get("/api/v1/calls")).json()["total"] == 0  # op1001: north
            south_view = await south.get(url)
            assert south_view.status_code == 403 or south_view.json()["calls"] == []
        finally:
            await lead.aclose()
            await south.aclose()


async def _two_groups_with_questions(service: RunningService) -> dict[str, httpx.AsyncClient]:
    add_user(service, "ivanova", endpoint="PJSIP/op1001", group="north")
    add_user(service, "petrov", endpoint="PJSIP/op1002", group="south")
    add_user(service, "lead", role=Role.SUPERVISOR, group="north")
    pages = {name: await browser(service, name) for name in ("ivanova", "petrov", "lead")}
    for name, applicant in (("ivanova", APPLICANT), ("petrov", "Ковалёва Анна")):
        made = await pages[name].post(
            "/api/v1/questions",
            json={
                "text": f"Вопрос про паспорт от {name}",
                "applicant_name": applicant,
                "applicant_phone": APPLICANT_PHONE if name == "ivanova" else CONTACT_PHONE,
            },
        )
        assert made.status_code == 201, made.text
    return pages


async def test_supervisors_see_only_their_groups_questions(db_url: str) -> None:
    async with running_service(db_url) as service:
        pages = await _two_groups_with_questions(service)
        listed = (await pages["lead"].get("/api/v1/questions")).json()["items"]
        try:
            assert [q["applicant_name"] for q in listed] == [APPLICANT]
        finally:
            for page in pages.values():
                await page.aclose()


async def test_the_knowledge_base_masks_other_operators_applicants(db_url: str) -> None:
    async with running_service(db_url) as service:
        pages = await _two_groups_with_questions(service)
        mine = (await pages["ivanova"].get("/api/v1/questions")).json()["items"][0]
        answered = await pages["lead"].patch(
            f"/api/v1/questions/{mine['id']}",
            json={"status": "answered", "answer": "Да.", "answer_source_kind": "website"},
        )
        assert answered.status_code == 200, answered.text
        found = await pages["petrov"].get("/api/v1/questions", params={"q": "от ivanova"})
        try:
            (item,) = found.json()["items"]
            assert item["text"].endswith("ivanova") and item["answer"] == "Да."  # knowledge
            assert not leaks(json.dumps(item, ensure_ascii=False)), item  # not her applicant
        finally:
            for page in pages.values():
                await page.aclose()


async def test_a_groups_supervisor_reads_other_groups_answers_masked_and_changes_none(
    db_url: str,
) -> None:
    async with running_service(db_url) as service:
        pages = await _two_groups_with_questions(service)
        add_user(service, "southlead", role=Role.SUPERVISOR, group="south")
        south = await browser(service, "southlead")
        try:
            (theirs,) = (await south.get("/api/v1/questions")).json()["items"]
            (mine,) = (await pages["lead"].get("/api/v1/questions")).json()["items"]
            other = f"/api/v1/questions/{theirs['id']}"
            assert (await pages["lead"].get(other)).status_code == 403  # open: south's own
            answered = await south.patch(
                other,
                json={"status": "answered", "answer": "Нет.", "answer_source_kind": "website"},
            )
            assert answered.status_code == 200, answered.text
            # answered: the north's supervisor finds it in the knowledge base, masked
            seen = await pages["lead"].get(other)
            assert seen.status_code == 200 and seen.json()["answer"] == "Нет."
            assert not leaks(seen.text) and MASKED.search(seen.text), seen.text
            listed = (await pages["lead"].get("/api/v1/questions")).json()["items"]
            assert {q["id"] for q in listed} == {mine["id"], theirs["id"]}
            assert [q["applicant_name"] for q in listed if q["id"] == mine["id"]] == [APPLICANT]
            # but changes, corrects the answer or calls back for none of the south's
            for body in ({"answer": "Да."}, {"text": "другой"}, {"contact": "+7 916 000-00-00"}):
                refused = await pages["lead"].patch(other, json=body)
                assert refused.status_code == 403, (body, refused.text)
            lead_calls = await pages["lead"].post(
                f"{other}/callback", json={"operator_id": theirs["operator_id"]}
            )
            assert lead_calls.status_code == 403, lead_calls.text
            assert (await south.get(other)).json()["answer"] == "Нет."
        finally:
            await south.aclose()
            for page in pages.values():
                await page.aclose()


async def test_question_listings_in_the_clear_are_audited_for_sessions_and_tokens(
    db_url: str,
) -> None:
    async with running_service(db_url) as service:
        pages = await _two_groups_with_questions(service)
        client = service.client
        try:
            lite = auth(service.app, {Scope.QUESTIONS_READ}, "lite")
            assert len((await client.get("/api/v1/questions", headers=lite)).json()["items"]) == 2
            assert (await client.get("/api/v1/audit")).json() == []  # masked: no export
            own = await pages["ivanova"].get("/api/v1/questions", params={"status": "open"})
            assert [q["applicant_name"] for q in own.json()["items"]] == [APPLICANT]
            mine = own.json()["items"][0]
            answered = await pages["lead"].patch(
                f"/api/v1/questions/{mine['id']}",
                json={"status": "answered", "answer": "Да.", "answer_source_kind": "website"},
            )
            assert answered.status_code == 200, answered.text
            # petrov finds ivanova's answer, her applicant masked: nothing read in the clear
            found = await pages["petrov"].get("/api/v1/questions", params={"q": "от ivanova"})
            assert [q["id"] for q in found.json()["items"]] == [mine["id"]]
            full = await client.get("/api/v1/questions", params={"q": "паспорт"})
            assert full.json()["total"] == 2
            entries = (await client.get("/api/v1/audit")).json()
        finally:
            for page in pages.values():
                await page.aclose()
        got = sorted((e["actor"], e["action"], e["rows"], e["detail"]) for e in entries)
        assert got == [
            ("token:1:tests-admin", "questions.list", 2, {"q": "True"}),
            ("user:ivanova", "questions.list", 1, {"status": "open"}),
        ], entries


# -------------------------------------------------------------------------- audit


async def test_exports_of_personal_data_are_audited(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        client = service.client
        add_user(service, "lead", role=Role.SUPERVISOR)
        cid = (await client.post("/api/v1/campaigns", json={"name": "Паспорта"})).json()["id"]
        assert (await upload(client, cid, REGISTRY)).status_code == 200
        await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))
        lite = auth(service.app, {Scope.CALLS_READ, Scope.CAMPAIGNS_READ}, "lite")

        async def stored() -> bool:  # masked listings are no export: not audited
            return bool((await client.get("/api/v1/calls", headers=lite)).json()["total"])

        await wait_for(stored)
        assert (await client.get(f"/api/v1/campaigns/{cid}/entries", headers=lite)).is_success
        assert (await client.get("/api/v1/audit")).json() == []
        assert (await client.get("/api/v1/calls")).json()["total"] == 1
        for fmt in ("csv", "xlsx"):
            export = await client.get(
                f"/api/v1/campaigns/{cid}/registry/export", params={"format": fmt}
            )
            assert export.status_code == 200 and export.content
        lead = await browser(service, "lead")
        assert (await lead.get(f"/api/v1/campaigns/{cid}/registry/export")).status_code == 200
        assert (await lead.get("/api/v1/calls")).json()["total"] == 1
        await lead.aclose()
        entries = (await client.get("/api/v1/audit")).json()
        got = sorted(
            (e["actor"].split(":")[0], e["action"], e["rows"], e["detail"].get("format", ""))
            for e in entries
        )
        assert got == [
            ("token", "calls.list", 1, ""),
            ("token", "campaigns.registry_export", 4, "csv"),
            ("token", "campaigns.registry_export", 4, "xlsx"),
            ("user", "calls.list", 1, ""),
            ("user", "campaigns.registry_export", 4, "xlsx"),
        ], entries
        assert {e["actor"] for e in entries} == {"user:lead", "token:1:tests-admin"}
        assert all(e["at"] and e["detail"].get("campaign_id", cid) == cid for e in entries)


# ------------------------------------------------------------- CSRF, rate limits

# The unsafe routes the operator's and the supervisor's pages call with their session.
PAGE_ROUTES = {
    ("POST", "/api/v1/wrapups/{wrapup_id}/submit"),
    ("POST", "/api/v1/wrapups/{wrapup_id}/extend"),
    ("PATCH", "/api/v1/wrapups/{wrapup_id}"),
    ("POST", "/api/v1/calls/{call_id}/wrapup"),
    ("POST", "/api/v1/questions"),
    ("PATCH", "/api/v1/questions/{question_id}"),
    ("POST", "/api/v1/questions/{question_id}/callback"),
    ("POST", "/api/v1/operators/{user_id}/state"),
    ("POST", "/operator/language"),
    ("POST", "/operator/phones"),
    ("POST", "/api/v1/campaigns"),
    ("POST", "/api/v1/campaigns/{campaign_id}/start"),
    ("POST", "/api/v1/campaigns/{campaign_id}/pause"),
    ("POST", "/api/v1/campaigns/{campaign_id}/registry"),
    ("POST", "/api/v1/campaigns/{campaign_id}/registry/preview"),
    ("POST", "/api/v1/auth/logout"),
}


async def test_a_session_without_the_csrf_header_changes_nothing(db_url: str) -> None:
    async with running_service(db_url, originate_per_minute=1) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        add_user(service, "boss", role=Role.ADMIN, endpoint="PJSIP/op1003")
        add_user(service, "ivanova", endpoint="PJSIP/op1001")
        schema = (await service.client.get("/openapi.json")).json()
        unsafe = {
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method in item
            if method in ("post", "put", "patch", "delete")
        } - PUBLIC_ROUTES
        assert unsafe >= PAGE_ROUTES  # the pages' routes are all in the document
        page = await browser(service, "boss")
        csrf = page.headers.pop("X-CSRF-Token")
        for wrong in (None, "not-the-token", csrf[:-1]):
            headers = {"X-CSRF-Token": wrong} if wrong else {}
            for method, path in sorted(unsafe):
                url = re.sub(r"\{[^}]+\}", "1", path)
                response = await page.request(method, url, json={}, headers=headers)
                assert response.status_code == 403, (method, path, response.text)
                assert "X-CSRF-Token" in response.json()["detail"]
        # nothing happened: the session is alive, nothing was created or changed
        assert (await page.get("/api/v1/auth/me")).status_code == 200
        assert (await service.client.get("/api/v1/campaigns")).json() == []
        assert (await service.client.get("/api/v1/questions")).json()["total"] == 0
        with_token = await page.post(
            "/operator/language", json={"language": "en"}, headers={"X-CSRF-Token": csrf}
        )
        assert with_token.status_code == 200, with_token.text
        await page.aclose()

        # a call back is a click-to-call: limited per user (CALLAGENT_ORIGINATE_PER_MINUTE)
        operator = await browser(service, "ivanova")
        made = await operator.post(
            "/api/v1/questions",
            json={"text": "Срок?", "applicant_name": APPLICANT, "applicant_phone": APPLICANT_PHONE},
        )
        url = f"/api/v1/questions/{made.json()['id']}/callback"
        first = await operator.post(url, json={})
        assert first.status_code == 202, first.text
        again = await operator.post(url, json={})
        assert again.status_code == 429 and int(again.headers["retry-after"]) > 0
        assert not leaks(again.text)
        originates = [a for a in service.pbx.actions if a.action == "Originate"]
        assert len(originates) == 1 and originates[0]["Channel"] == "PJSIP/op1001"
        await operator.aclose()


# ---------------------------------------------------------------------------- logs

WEBHOOK_SECRET = "a-webhook-secret-never-to-be-logged-42"
OUTBOUND_PLAN = {
    "+79161000001": "answered:1",
    "+79161000002": "busy",
    "+79161000003": "answered:9",
}


def _text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


async def test_logs_of_the_new_features_carry_no_applicant_nor_secret(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    access = logging.getLogger("uvicorn.access")
    async with running_service(db_url, campaign_scheduler="off") as service:
        # uvicorn logs every request at INFO in production (`callagent serve`)
        access.addHandler(caplog.handler)
        old_level = access.level
        access.setLevel(logging.INFO)
        try:
            client = service.client
            await wait_for(lambda: service.monitor.clients[0].connected)
            hook = await client.post(
                "/api/v1/webhooks",
                json={
                    "url": "http://127.0.0.1:9/hook",
                    "event_types": ["wrapup.submitted", "question.answered", "notification.result"],
                    "secret": WEBHOOK_SECRET,
                },
            )
            assert hook.status_code == 201
            ivanova = add_user(service, "ivanova", endpoint="PJSIP/op1001")
            add_user(service, "lead", role=Role.SUPERVISOR)
            wrong = await client.post(
                "/api/v1/auth/login", json={"login": "ivanova", "password": "wrong-pass-77"}
            )
            assert wrong.status_code == 401
            page, lead = await browser(service, "ivanova"), await browser(service, "lead")
            lite = auth(service.app, ALL_SCOPES - {Scope.CALLS_READ_PII}, "no-pii")

            # a registry with names and numbers, dialled against the simulator
            cid = make_campaign(service, name="docs", window=ALWAYS)
            uploaded = await upload(client, cid, REGISTRY)
            assert uploaded.status_code == 200 and uploaded.json()["rows_imported"] == 3
            async with simulated_outbound(service, OUTBOUND_PLAN):
                summary, _ = await dial(service, Clock(), ring_timeout=10.0)
            assert summary.results == {"answered": 2, "busy": 1}
            entries = await client.get(f"/api/v1/campaigns/{cid}/entries", headers=lite)
            assert entries.status_code == 200
            export = await lead.get(f"/api/v1/campaigns/{cid}/registry/export?format=csv")
            assert export.status_code == 200
            removed = await client.delete("/api/v1/do-not-call", params={"phone": "+79161000003"})
            assert removed.status_code == 204, removed.text

            # a call, its wrap-up with the applicant's name and numbers, the question
            await call_ends_with(service, ivanova)
            (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
            history = await page.get(f"/api/v1/callers/{INBOUND_CALLER}/history")
            assert history.status_code == 200
            submitted = await page.post(
                f"/api/v1/wrapups/{pending['id']}/submit", json=QUESTION_WRAPUP
            )
            assert submitted.status_code == 201, submitted.text
            made = await page.post("/api/v1/questions", json=OTHER_QUESTION)
            assert made.status_code == 201
            bad = await page.post(
                "/api/v1/questions", json={"text": "x", "applicant_phone": "Ковалёва 12345"}
            )
            assert bad.status_code == 422
            answered = await lead.patch(
                f"/api/v1/questions/{made.json()['id']}",
                json={
                    "status": "answered",
                    "answer": "Пять дней.",
                    "answer_source_kind": "website",
                },
            )
            assert answered.status_code == 200
            calls = await page.get("/api/v1/calls", params={"phone": INBOUND_CALLER})
            assert calls.status_code == 200
            await wait_for(lambda: service.app.state.webhooks.failed_attempts >= 1)
            secrets = [
                service.pbx.secret,
                client.headers["Authorization"].split()[1],
                lite["Authorization"].split()[1],
                page.cookies["callagent_session"],
                page.headers["X-CSRF-Token"],
                "ivanova-password",
                "lead-password",
                "wrong-pass-77",
                WEBHOOK_SECRET,
            ]
            await page.aclose()
            await lead.aclose()
        finally:
            access.removeHandler(caplog.handler)
            access.setLevel(old_level)

    # The service's own log lines (the test's HTTP client logs its URLs: not ours).
    ours = [r for r in caplog.records if r.name.startswith(("callagent", "uvicorn", "alembic"))]
    everything = "\n".join(_text(r) for r in ours)
    info = "\n".join(_text(r) for r in ours if r.levelno >= logging.INFO)
    # the flows were logged: the import, the dialer's refusals or results, requests
    assert "registry import" in info and "/history" in info and "/wrapups/" in info
    assert not leaks(info), leaks(info)
    for secret in secrets:
        assert secret not in everything, secret  # not even at DEBUG


async def test_a_failing_tts_command_does_not_log_the_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from callagent.campaigns.notify_agi import NotifyScript

    caplog.set_level(logging.DEBUG)
    # a TTS tool that complains about the text it was given, as many do
    command = "sh -c 'printf \"cannot speak: \" >&2; cat >&2; exit 3'"
    script = NotifyScript(None, tts_command=command, tts_dir=str(tmp_path))  # type: ignore[arg-type]
    text = f"{APPLICANT}, ваши документы готовы. Телефон для справок: {APPLICANT_PHONE}"
    assert await script._tts(text) is None  # falls back to the prompt files
    assert "TTS command exited 3" in caplog.text  # the failure is logged
    assert not leaks(caplog.text), caplog.text
