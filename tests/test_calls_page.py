"""The call list (/calls) and a call's page (/calls/{id}) in headless Chromium, on SQLite
and PostgreSQL (issue #17): recorded calls replayed through the real pipeline, wrap-ups
submitted and corrected through the API, and every count checked against the database."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, or_, select

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import AuditEntry, Call, User
from callagent.db.store import CallStore
from callagent.replay import replay_bytes
from callagent.wrapup.service import open_wrapup
from tests.conftest import RunningService, make_token, running_service, trace_bytes
from tests.test_cacofonisk_replay import FIXTURES, TRUNK
from tests.test_operator_page import ARTIFACTS, backend, browser, page_of  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="module")
MOSCOW = ZoneInfo("Europe/Moscow")
TRACES = ("load_50_calls", "inbound_abandoned", "inbound_no_answer_then_next", "hold_unhold")
DAY = "2026-11-22"  # the traces were recorded that afternoon (Moscow)
PERIOD = f"from={DAY}&to={DAY}"
APPLICANT = "79031234567"  # the caller of the last three traces
APPLICANT_SHOWN = "+7 903 123-45-67"
NAMES = {
    "ivanova": "Іванова Ганна",
    "petrov": "Петров Пётр",
    "orlova": "Орлова Ольга",
    "lead": "Лидия Северная",
}
GOOD = {"category": "consultation", "fields": {"service": "passport", "result": "answered"}}
FIXED = {
    "category": "consultation",
    "fields": {"service": "passport", "result": "redirected", "where": "МФЦ"},
}


def sessions(service: RunningService) -> Any:
    return service.app.state.sessions  # type: ignore[attr-defined]


def add(
    service: RunningService, login: str, role: Role, endpoint: str | None = None, group: str = ""
) -> int:
    with sessions(service).begin() as db:
        user = create_user(
            db,
            login=login,
            role=role,
            password=f"{login}-password",
            full_name=NAMES[login],
            endpoints=[endpoint] if endpoint else [],
            group=group,
        )
        db.flush()
        return int(user.id)


def count(service: RunningService, *where: Any) -> int:
    """How many stored calls match: what the page must say."""
    with sessions(service)() as db:
        return int(db.scalar(select(func.count()).select_from(Call).where(*where)) or 0)


def call_of(service: RunningService, *where: Any) -> int:
    with sessions(service)() as db:
        found = db.scalars(select(Call.id).where(*where).order_by(Call.id)).all()
        assert len(found) == 1, found
        return int(found[0])


@contextlib.asynccontextmanager
async def session_of(service: RunningService, login: str) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in user's HTTP client: session cookie and the CSRF header."""
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        answer = await client.post(
            "/api/v1/auth/login", json={"login": login, "password": f"{login}-password"}
        )
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


async def seed(service: RunningService) -> dict[str, int]:
    """Operators, a supervisor, 53 recorded calls of one day (Moscow), topics on some,
    and wrap-ups: submitted (then corrected by the supervisor), missed and pending.
    Returns the ids of the calls the tests open."""
    ivanova = add(service, "ivanova", Role.OPERATOR, "PJSIP/op1001")
    add(service, "petrov", Role.OPERATOR, "PJSIP/op1002")
    add(service, "orlova", Role.SUPERVISOR)
    for name in TRACES:
        await replay_bytes(trace_bytes(name), CallStore(sessions(service)))
    now = datetime.now(UTC)
    with sessions(service).begin() as db:
        calls = db.scalars(select(Call).order_by(Call.started_at, Call.id)).all()
        assert {c.started_at.astimezone(MOSCOW).date().isoformat() for c in calls} == {DAY}
        for index, call in enumerate(calls):
            # the dialplan's topic (CALLAGENT_TOPIC) is a channel variable the AGI router
            # reads: the recorded AMI traces carry none, so every third call gets one here
            if index % 3 == 0:
                call.variables = {**call.variables, "CALLAGENT_TOPIC": "passport"}
    ids = {
        "transferred": call_of(service, Call.linkedid == "1795353469.4"),
        "abandoned": call_of(service, Call.disposition == "abandoned"),
        "held": call_of(service, Call.hold_seconds > 0),
    }
    # petrov's wrap-up of the call op1001 did not answer, submitted over the API from his
    # session (as his workplace does), then corrected by the supervisor from hers
    async with session_of(service, "petrov") as petrov, session_of(service, "orlova") as orlova:
        url = f"/api/v1/calls/{ids['transferred']}/wrapup"
        submitted = await petrov.post(url, json=GOOD)
        assert submitted.status_code == 201, submitted.text
        fixed = await orlova.patch(url, json=FIXED)
        assert fixed.status_code == 200, fixed.text
    forms = service.app.state.wrapups.forms  # type: ignore[attr-defined]
    with sessions(service).begin() as db:
        held = db.get(Call, ids["held"])
        assert held is not None
        open_wrapup(  # missed: its deadline has passed
            db,
            operator_id=ivanova,
            call_key=f"{held.node}:{held.linkedid}",
            now=now - timedelta(minutes=10),
            forms=forms,
            default_seconds=30,
        )
        first = db.scalars(
            select(Call).where(Call.operator_endpoint == "PJSIP/op1001").order_by(Call.id)
        ).first()
        assert first is not None
        ids["pending"] = first.id
        open_wrapup(  # pending: still due
            db,
            operator_id=ivanova,
            call_key=f"{first.node}:{first.linkedid}",
            now=now,
            forms=forms,
            default_seconds=600,
        )
    return ids


async def login(page: Page, service: RunningService, who: str, path: str = "/calls") -> None:
    await page.goto(f"{service.base_url}{path}")
    await page.wait_for_url(re.compile(r"/operator/login"))
    await page.fill("#login", who)
    await page.fill("#password", f"{who}-password")
    await page.press("#password", "Enter")
    await page.wait_for_url(re.compile(re.escape(service.base_url + path) + r"($|\?)"))


async def shown_total(page: Page) -> int:
    return int(await page.locator("#total").get_attribute("data-total") or -1)


# ------------------------------------------------------------------------- API


async def test_the_api_filters_by_topic_and_wrapup_category(db_url: str) -> None:
    async with running_service(db_url) as service:
        ids = await seed(service)
        topical = count(service, Call.variables["CALLAGENT_TOPIC"].as_string() == "passport")
        assert 0 < topical < 53
        page = (await service.client.get("/api/v1/calls", params={"topic": "passport"})).json()
        assert page["total"] == topical
        assert {c["variables"]["CALLAGENT_TOPIC"] for c in page["items"]} == {"passport"}
        page = await service.client.get("/api/v1/calls", params={"category": "consultation"})
        assert [c["id"] for c in page.json()["items"]] == [ids["transferred"]]
        none = await service.client.get("/api/v1/calls", params={"category": "complaint"})
        assert none.json()["total"] == 0


# -------------------------------------------------------------------- the list


async def test_a_supervisor_filters_by_operator_disposition_and_topic(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        ids = await seed(service)
        async with page_of(browser, f"calls-supervisor-{backend(db_url)}") as page:
            await login(page, service, "orlova")
            await expect(page.locator("h1")).to_have_text("Звонки")
            await expect(page.locator("#no-calls")).to_be_visible()  # today (the default)
            assert await shown_total(page) == 0
            await page.goto(f"{service.base_url}/calls?{PERIOD}")
            await expect(page.locator("nav.pages a[aria-current=page]")).to_have_text("Звонки")
            assert await shown_total(page) == count(service) == 53
            await expect(page.locator("#calls-table tbody tr")).to_have_count(50)
            await page.screenshot(path=str(ARTIFACTS / f"calls-list-{backend(db_url)}.png"))
            await page.click("#next")  # 53 calls: 50 and 3
            await page.wait_for_url(re.compile(r"page=2"))
            await expect(page.locator("#calls-table tbody tr")).to_have_count(3)
            assert await shown_total(page) == 53
            await expect(page.locator("#next")).to_have_count(0)
            await page.click("#prev")
            await expect(page.locator("#calls-table tbody tr")).to_have_count(50)

            await page.select_option("#operator", label=NAMES["ivanova"])
            await page.click("#calls-form button[type=submit]")
            await page.wait_for_url(re.compile(r"operator=\d+"))
            theirs = count(service, Call.operator_endpoint == "PJSIP/op1001")
            assert 0 < theirs < 53 and await shown_total(page) == theirs
            rows = page.locator("#calls-table tbody tr")
            await expect(rows).to_have_count(theirs)
            operators = await page.locator("td[data-col=operator]").all_inner_texts()
            assert set(operators) == {NAMES["ivanova"]}
            # her missed and pending wrap-ups read so, in Russian
            missed = page.locator(f"tr[data-call='{ids['held']}'] td[data-col=wrapup]")
            await expect(missed).to_have_text("пропущена")
            pending = page.locator(f"tr[data-call='{ids['pending']}'] td[data-col=wrapup]")
            await expect(pending).to_have_text("ждёт обработки")

            await page.select_option("#operator", "")
            await page.select_option("#disposition", "abandoned")
            await page.click("#calls-form button[type=submit]")
            await page.wait_for_url(re.compile(r"disposition=abandoned"))
            abandoned = count(service, Call.disposition == "abandoned")
            assert await shown_total(page) == abandoned == 1
            row = page.locator(f"tr[data-call='{ids['abandoned']}']")
            await expect(row.locator("td[data-col=disposition]")).to_have_text(
                "заявитель не дождался"
            )
            await expect(row.locator("td[data-col=number]")).to_have_text(APPLICANT_SHOWN)
            await expect(row.locator("td[data-col=operator]")).to_have_text("—")

            await page.select_option("#disposition", "answered")
            await page.select_option("#topic", "passport")
            await page.click("#calls-form button[type=submit]")
            await page.wait_for_url(re.compile(r"topic=passport"))
            answered_topical = count(
                service,
                Call.disposition == "answered",
                Call.variables["CALLAGENT_TOPIC"].as_string() == "passport",
            )
            assert answered_topical > 0 and await shown_total(page) == answered_topical
            topics = await page.locator("td[data-col=topic]").all_inner_texts()
            assert set(topics) == {"passport"}

            await page.goto(f"{service.base_url}/calls?{PERIOD}&category=consultation")
            assert await shown_total(page) == 1
            cell = page.locator(f"tr[data-call='{ids['transferred']}'] td[data-col=wrapup]")
            await expect(cell).to_have_text("Консультация")


async def test_an_operator_sees_only_their_own_calls(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        ids = await seed(service)
        async with page_of(browser, f"calls-operator-{backend(db_url)}") as page:
            await login(page, service, "ivanova")
            await page.goto(f"{service.base_url}/calls?{PERIOD}")
            await expect(page.locator("h1")).to_have_text("Мои звонки")
            own = count(service, Call.operator_endpoint == "PJSIP/op1001")
            assert await shown_total(page) == own
            await expect(page.locator("#calls-table tbody tr")).to_have_count(own)
            operators = await page.locator("td[data-col=operator]").all_inner_texts()
            assert set(operators) == {NAMES["ivanova"]}
            await expect(page.locator("#operator")).to_have_count(0)  # no operators:read
            await page.screenshot(path=str(ARTIFACTS / f"calls-my-calls-{backend(db_url)}.png"))
            # petrov's call (op1002 answered it): refused as the API refuses it
            answer = await page.goto(f"{service.base_url}/calls/{ids['transferred']}")
            assert answer is not None and answer.status == 403
            await expect(page.locator("#forbidden")).to_be_visible()  # a page, not JSON
            answer = await page.goto(f"{service.base_url}/calls/{ids['held']}")
            assert answer is not None and answer.status == 200
            missing = await page.goto(f"{service.base_url}/calls/999999")
            assert missing is not None and missing.status == 404


async def test_a_team_supervisor_sees_their_team_and_picks_among_its_operators(
    db_url: str,
) -> None:
    async with running_service(db_url) as service:
        await seed(service)
        with sessions(service).begin() as db:
            ivanova = db.scalars(select(User).where(User.login == "ivanova")).one()
            ivanova.group = "north"
        add(service, "lead", Role.SUPERVISOR, group="north")
        async with session_of(service, "lead") as lead:
            page = await lead.get(f"/calls?{PERIOD}")
            assert page.status_code == 200, page.text
            # the team's calls and those no operator took, as GET /api/v1/calls gives them
            team = count(
                service,
                or_(Call.operator_endpoint == "PJSIP/op1001", Call.operator_endpoint.is_(None)),
            )
            assert 0 < team < 53
            assert f'data-total="{team}"' in page.text
            api = (await lead.get("/api/v1/calls", params={"limit": 1})).json()
            assert api["total"] == team
            picks = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', page.text)
            assert [name for _, name in picks] == [NAMES["ivanova"]]
            # another team's operator is no choice: the filter is ignored, nothing widened
            with sessions(service)() as db:
                petrov = db.scalars(select(User.id).where(User.login == "petrov")).one()
            other = await lead.get(f"/calls?{PERIOD}&operator={petrov}")
            assert f'data-total="{team}"' in other.text
            answer = await lead.get(f"/calls/{call_of(service, Call.linkedid == '1795353469.4')}")
            assert answer.status_code == 403  # petrov's call, outside the team


# ----------------------------------------------------------------- one call


async def test_a_call_page_shows_its_timeline_in_order_and_its_wrapup(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        ids = await seed(service)
        async with page_of(browser, f"calls-call-{backend(db_url)}") as page:
            await login(page, service, "orlova")
            # the oldest answered call: on the second page of 52
            await page.goto(f"{service.base_url}/calls?{PERIOD}&disposition=answered&page=2")
            await page.click(f"tr[data-call='{ids['transferred']}'] a")
            await page.wait_for_url(re.compile(rf"/calls/{ids['transferred']}\?back="))
            await expect(page.locator("h1")).to_have_text(f"Звонок № {ids['transferred']}")
            events = [
                await row.get_attribute("data-event")
                for row in await page.locator("#timeline tbody tr").all()
            ]
            assert events == [
                "offered",
                "ringing",
                "not_answered",
                "ringing",
                "answered",
                "hangup",
                "hangup",
                "ended",
            ]
            texts = await page.locator("#timeline tbody tr").all_inner_texts()
            assert APPLICANT_SHOWN in texts[0]
            assert NAMES["ivanova"] in texts[1] and "не ответил(а)" in texts[2]
            assert NAMES["petrov"] in texts[3] and "Ответил: " + NAMES["petrov"] in texts[4]
            assert "Заявитель положил трубку" in texts[5]
            assert "Кто завершил: заявитель" in texts[7]
            times = [t.split("\t")[0].strip() for t in texts]
            assert all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in times), times
            assert times == sorted(times)
            with sessions(service)() as db:
                call = db.get(Call, ids["transferred"])
                assert call is not None
                started = call.started_at.astimezone(MOSCOW).strftime("%H:%M:%S")
            assert times[0] == started  # local (Moscow) time, not UTC
            wrapup = page.locator("#wrapups .wrapup")
            await expect(wrapup.locator("[data-fact=wrapup-category]")).to_have_text("Консультация")
            await expect(wrapup.locator("[data-fact=wrapup-operator]")).to_have_text(
                NAMES["petrov"]
            )
            await expect(wrapup).to_contain_text("Перенаправлен в другую организацию")
            await expect(wrapup).to_contain_text("МФЦ")
            history = page.locator("#wrapup-history li[data-action]")
            await expect(history).to_have_count(2)
            await expect(history.nth(0)).to_contain_text("сохранена")
            await expect(history.nth(1)).to_contain_text("исправлена")
            await expect(history.nth(1)).to_contain_text(
                "Результат: было: Консультация дана → стало: Перенаправлен в другую организацию"
            )
            await page.screenshot(
                path=str(ARTIFACTS / f"calls-call-page-{backend(db_url)}.png"), full_page=True
            )
            back = page.locator("#back")
            listed = f"/calls?{PERIOD}&disposition=answered&page=2"
            assert await back.get_attribute("href") == listed
            await back.click()
            await page.wait_for_url(service.base_url + listed)
            await expect(page.locator("#disposition")).to_have_value("answered")


async def test_a_search_by_number_is_audited_and_needs_the_pii_scope(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url, phone_search_per_minute=1) as service:
        await seed(service)
        async with page_of(browser, f"calls-search-{backend(db_url)}") as page:
            await login(page, service, "orlova")
            await page.goto(f"{service.base_url}/calls?{PERIOD}")
            await page.fill("#number", APPLICANT_SHOWN)
            await page.click("#calls-form button[type=submit]")
            await page.wait_for_url(re.compile(r"number="))
            theirs = count(service, Call.applicant_number == APPLICANT)
            assert theirs == 3 and await shown_total(page) == theirs
            numbers = await page.locator("td[data-col=number]").all_inner_texts()
            assert set(numbers) == {APPLICANT_SHOWN}
            await expect(page.locator("#refused")).to_have_count(0)
            # one search a minute here: the second is refused in the page's language
            await page.click("#calls-form button[type=submit]")
            await expect(page.locator("#refused")).to_have_text(
                "слишком много запросов, повторите через минуту"
            )
            assert await shown_total(page) == 0
        with sessions(service)() as db:
            searches = [
                a
                for a in db.scalars(select(AuditEntry).where(AuditEntry.action == "calls.list"))
                if "phone" in (a.detail or {})
            ]
        assert len(searches) == 1
        assert searches[0].rows == 3 and APPLICANT not in str(searches[0].detail)
        # without calls:read_pii numbers are masked, and a search is refused
        token = make_token(service.app, frozenset({Scope.CALLS_READ}), "masked")
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
            headers = {"Authorization": f"Bearer {token}"}
            listed = await client.get(f"/calls?{PERIOD}", headers=headers)
            assert listed.status_code == 200
            assert APPLICANT_SHOWN not in listed.text and "***" in listed.text
            refused = await client.get(f"/calls?number={APPLICANT}", headers=headers)
            assert refused.status_code == 403


# ------------------------------------------------------------------ languages

CYRILLIC = re.compile(r"[А-Яа-яЁёЇїІіЄєҐґ]")
LATIN = re.compile(r"[A-Za-z]")
RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")


def _without_names(text: str) -> str:
    """The page's words without what people typed: names, the free text of a wrap-up."""
    for name in [*NAMES.values(), FIXED["fields"]["where"]]:
        text = text.replace(name, "")
    return text


async def test_uk_and_en_pages_show_no_words_of_another_language(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        ids = await seed(service)
        async with page_of(browser, f"calls-languages-{backend(db_url)}") as page:
            await login(page, service, "orlova")
            for lang, foreign in (("uk", LATIN), ("en", CYRILLIC)):
                await page.goto(f"{service.base_url}/calls?{PERIOD}&lang={lang}")
                values = await page.locator(
                    "td[data-col=direction], td[data-col=disposition], td[data-col=wrapup], "
                    "#calls-table th, #calls-form label"
                ).all_inner_texts()
                assert values
                text = _without_names(" ".join(values))
                if lang == "uk":
                    text = text.replace("passport", "")  # a topic's id, not a word
                    assert not RUSSIAN_ONLY.search(text), text
                assert not foreign.search(text), (lang, foreign.findall(text))
                await page.screenshot(
                    path=str(ARTIFACTS / f"calls-list-{lang}-{backend(db_url)}.png")
                )
                for call in (ids["abandoned"], ids["held"], ids["transferred"]):
                    await page.goto(f"{service.base_url}/calls/{call}?lang={lang}")
                    main = _without_names(await page.locator("main").inner_text())
                    # the product's name and the time zone's id are not words to translate
                    main = main.replace("callagent", "").replace("Europe/Moscow", "")
                    if lang == "uk":
                        main = main.replace("passport", "")  # a topic's id, not a word
                        assert not RUSSIAN_ONLY.search(main), main
                    assert not foreign.search(main), (lang, call, main)
                await page.screenshot(
                    path=str(ARTIFACTS / f"calls-call-{lang}-{backend(db_url)}.png"),
                    full_page=True,
                )
            await page.goto(f"{service.base_url}/calls/{ids['transferred']}?lang=en")
            await expect(page.locator("#timeline")).to_contain_text("did not answer")
            await expect(page.locator("#wrapups")).to_contain_text("Redirected elsewhere")
            await page.goto(f"{service.base_url}/calls/{ids['transferred']}?lang=uk")
            await expect(page.locator("#timeline")).to_contain_text("не відповів(ла)")
            await expect(page.locator("#wrapups")).to_contain_text(
                "Перенаправлено до іншої організації"
            )


# ------------------------------------------------------------------ transfers


async def test_a_transfer_names_who_transferred_to_whom(db_url: str) -> None:
    """cacofonisk's recorded attended transfer: the line says who passed the call to which
    operator, and the Local channels' and a phone's second channel's hang-ups stay out."""
    async with running_service(db_url) as service:
        names = {"ivanova": "SIP/150010001", "petrov": "SIP/150010002", "orlova": "SIP/150010003"}
        for login, endpoint in names.items():
            add(service, login, Role.OPERATOR, endpoint)
        recording = (FIXTURES / "xfer_attended" / "xfer_abacbc.ami").read_bytes()
        await replay_bytes(recording, CallStore(sessions(service)), trunk_endpoints=(TRUNK,))
        call = call_of(service, Call.final.is_(True))
        page = await service.client.get(f"/calls/{call}?lang=en")  # the admin token
        assert page.status_code == 200, page.text
        rows = re.findall(
            r'<tr data-event="(\w+)"><td class="when">[^<]*</td><td>([^<]*)</td>', page.text
        )
        texts = [html.unescape(text) for _, text in rows]
        assert f"{NAMES['ivanova']}: transfer (attended) to {NAMES['orlova']}" in texts
        hangups = [text for event, text in rows if event == "hangup"]
        assert len(hangups) == len(set(hangups)) == 3, hangups
        assert not any("Local/" in text for text in texts), texts
