"""The operator's page in headless Chromium against the real service and the PBX simulator.

Screenshots of every test are written to ``artifacts/operator-page/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Response, async_playwright, expect
from sqlalchemy import select, update

from callagent.auth.scopes import Role
from callagent.auth.service import create_user, now
from callagent.campaigns.scheduler import live_preview
from callagent.db.campaign_models import RegistryEntry
from callagent.db.models import AuthSession, User
from callagent.db.wrapup_models import Question, Wrapup
from callagent.sim.pbx import SimulatedPbx
from tests.conftest import IN_CI, TRACES, RunningService, running_service, wait_for
from tests.test_dialer import Clock, add_entries, dial, make_campaign, simulated_outbound
from tests.test_routing import agi_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "operator-page"
PASSWORD = "operator-password"
CALLER = "79161112233"
CALLER_SHOWN = "+7 916 111-22-33"  # as the pages show it (libphonenumber's format for RU)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def require_chromium() -> None:
    """Skip without Chromium (fail when CI=true: CI installs it)."""
    if not CHROMIUM.exists():
        message = (
            f"the operator page tests need Chromium at {CHROMIUM} "
            "(Debian: apt-get install chromium; .ci/run installs it)"
        )
        if IN_CI:
            pytest.fail("CI=true but " + message)
        pytest.skip(message)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the whole module (a launch costs a second or two)."""
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@contextlib.asynccontextmanager
async def page_of(browser: Browser, name: str) -> AsyncIterator[Page]:
    """A fresh browser profile; a screenshot at the end (``-failed`` when the test failed)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    context.set_default_timeout(5000)
    page = await context.new_page()
    page.on("response", _print_errors)  # shown by pytest when the test fails
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        yield page
    except BaseException:
        failed = True
        raise
    finally:
        suffix = "-failed" if failed else ""
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        await context.close()  # closes the live stream before the service stops


def _print_errors(response: Response) -> None:
    if response.status >= 400:
        print("HTTP", response.status, response.request.method, response.url)


def backend(db_url: str) -> str:
    return "postgres" if db_url.startswith("postgresql") else "sqlite"


def add_operator(service: RunningService, login: str = "ivanova") -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(
            session,
            login=login,
            role=Role.OPERATOR,
            password=PASSWORD,
            full_name="Иванова Мария",
            endpoints=["PJSIP/op1001"],
        )
        session.commit()
        return user.id


async def log_in(page: Page, service: RunningService, login: str = "ivanova") -> None:
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{service.base_url}/operator")
    await expect(page.locator("#state")).to_have_attribute("data-state", re.compile(r"\w+"))


@contextlib.asynccontextmanager
async def operator_page(
    browser: Browser, service: RunningService, name: str
) -> AsyncIterator[Page]:
    """The operator page in a fresh profile (see :func:`page_of`), logged in as ivanova."""
    async with page_of(browser, name) as page:
        await page.goto(f"{service.base_url}/operator")
        await log_in(page, service)
        yield page


async def simulator(service: RunningService) -> SimulatedPbx:
    """The PBX simulator, once the service's AMI client is connected to it."""
    await wait_for(lambda: service.monitor.clients[0].connected)
    return SimulatedPbx(service.pbx, TRACES, agi_port=agi_port(service), speed=20.0)


def row(service: RunningService, model: Any, **where: Any) -> Any:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        query = select(model).filter_by(**where)
        return session.scalars(query).all()


async def test_pages_send_browsers_to_log_in_and_api_clients_get_401(db_url: str) -> None:
    async with running_service(db_url) as service:
        add_operator(service)
        html = {"Accept": "text/html,application/xhtml+xml"}
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as anonymous:
            page = await anonymous.get("/operator", headers=html)
            assert page.status_code == 303
            assert page.headers["location"] == "/operator/login?next=/operator"
            assert (await anonymous.get("/operator")).status_code == 401  # not a browser
            login = await anonymous.get("/operator/login", params={"next": "//elsewhere.example"})
            assert login.status_code == 200
            assert "default-src 'self'" in login.headers["content-security-policy"]
            assert login.headers["cache-control"] == "no-store"
            assert 'data-next="/home"' in login.text  # never to another site: the role's home
            supervisor = await anonymous.get("/operator/login", params={"next": "/supervisor/x"})
            assert 'data-next="/supervisor/x"' in supervisor.text
            script = await anonymous.get("/static/operator.js")
            assert script.status_code == 200 and "EventSource" in script.text
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as browser:
            answer = await browser.post(
                "/api/v1/auth/login", json={"login": "ivanova", "password": PASSWORD}
            )
            csrf = answer.json()["csrf_token"]
            page = await browser.get("/operator", headers=html)
            assert page.status_code == 200
            assert csrf in page.text  # for the page's unsafe calls
            bad = await browser.post(
                "/operator/language", json={"language": "de"}, headers={"X-CSRF-Token": csrf}
            )
            assert bad.status_code == 422
            no_csrf = await browser.post("/operator/language", json={"language": "en"})
            assert no_csrf.status_code == 403
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                session.execute(update(AuthSession).values(expires_at=now() - timedelta(seconds=1)))
                session.commit()
            expired = await browser.get("/operator", headers=html)
            assert expired.status_code == 303
            assert expired.headers["location"].endswith("&expired=1")
        by_token = await service.client.get("/operator", headers=html)  # an API token
        assert by_token.status_code == 303
        assert by_token.headers["location"] == "/operator/login"


async def test_login_failure_then_login(db_url: str, browser: Browser) -> None:
    async with running_service(db_url) as service:
        add_operator(service)
        async with page_of(browser, f"login-{backend(db_url)}") as page:
            await page.goto(f"{service.base_url}/operator")  # no session: to the login page
            await page.wait_for_url(re.compile(r"/operator/login\?next=/operator$"))
            await expect(page.locator("html")).to_have_attribute("lang", "ru")
            await page.fill("#login", "ivanova")
            await page.fill("#password", "not the password")
            await page.click("button[type=submit]")
            error = page.locator("#login-error")
            await expect(error).to_have_text("Неверный логин или пароль.")
            await expect(page.locator("#password")).to_be_focused()
            await expect(page.locator("#password")).to_have_value("")
            await log_in(page, service)
            await expect(page.locator("h1")).to_have_text("Рабочее место оператора")
            state = page.locator("#state")
            await expect(state).to_have_text("Не на линии")
            await page.click("#go-ready")
            await expect(state).to_have_text("Готов")
            await page.select_option("#pause-reason", "lunch")
            await page.keyboard.press("Alt+P")
            await expect(state).to_have_text("Пауза · Обед")
            (user,) = row(service, User, login="ivanova")
            assert (user.state, user.state_reason) == ("paused", "lunch")
            await page.click("#sign-out")  # ends the session
            await page.wait_for_url(re.compile(r"/operator/login$"))
            await page.goto(f"{service.base_url}/operator")
            await page.wait_for_url(re.compile(r"/operator/login\?next=/operator"))


async def test_russian_by_default_english_on_request(db_url: str, browser: Browser) -> None:
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        async with page_of(browser, f"language-{backend(db_url)}") as page:
            await page.goto(f"{service.base_url}/operator/login")
            await expect(page.locator("h1")).to_have_text("Вход в callagent")
            await page.click("a[hreflang=en]")  # the login page itself, before logging in
            await expect(page.locator("h1")).to_have_text("Sign in to callagent")
            await page.click("a[hreflang=ru]")
            await log_in(page, service)
            await expect(page.locator("h1")).to_have_text("Рабочее место оператора")
            await page.click("button[data-lang=en]")  # saved for the user
            await expect(page.locator("h1")).to_have_text("Operator workplace")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            await expect(page.locator("#state")).to_have_text("Offline")
            (user,) = row(service, User, id=user_id)
            assert user.language == "en"
            await page.reload()
            await expect(page.locator("#go-ready")).to_contain_text("Ready")


async def test_a_call_pops_up_and_its_wrapup_is_done_from_the_keyboard(
    db_url: str, browser: Browser
) -> None:
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        name = f"call-{backend(db_url)}"
        async with operator_page(browser, service, name) as page:
            state = page.locator("#state")
            await expect(state).to_have_attribute("data-state", "offline")
            await page.keyboard.press("Alt+R")
            await expect(state).to_have_attribute("data-state", "ready")
            await expect(state).to_have_text("Готов")

            # The first call: the applicant's number pops up, then the form opens by itself.
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#caller-number")).to_have_text(CALLER_SHOWN)
            await expect(page.locator("#caller-number")).to_have_attribute("data-number", CALLER)
            form = page.locator("#wrapup")
            await expect(form).to_be_visible()
            await expect(page.locator("#wrapup-title")).to_be_focused()
            await expect(state).to_have_attribute("data-state", "wrap_up")
            await expect(page.locator("#countdown")).to_have_text(re.compile(r"Осталось \d:\d\d"))
            await expect(page.locator("#caller-history")).to_contain_text("раньше не звонили")
            await page.keyboard.press("Alt+E")  # more time, once
            await expect(page.locator("#toast")).to_have_text("Срок продлён.")
            await expect(page.locator("#wrapup-extend")).to_be_hidden()
            (extended,) = row(service, Wrapup, operator_id=user_id)
            assert extended.extended
            await page.keyboard.press("1")  # consultation
            await expect(page.locator("#category-consultation")).to_be_checked()
            await expect(page.locator("#field-service")).to_be_focused()
            await page.select_option("#field-service", "passport")
            where = page.locator('.field[data-field="where"]')
            await expect(where).to_be_hidden()
            await page.select_option("#field-result", "redirected")
            await expect(where).to_be_visible()  # show_if
            await page.keyboard.press("Control+Enter")  # "where" is missing
            await expect(page.locator("#err-where")).to_contain_text("Куда направлен")
            await expect(page.locator("#field-where")).to_be_focused()
            await expect(page.locator("#field-where")).to_have_attribute("aria-invalid", "true")
            await page.keyboard.type("Налоговая инспекция")
            await page.keyboard.press("Control+Enter")
            await expect(state).to_have_attribute("data-state", "ready", timeout=1000)
            await expect(form).to_be_hidden()
            (first,) = row(service, Wrapup, operator_id=user_id)
            assert first.status == "submitted"
            assert first.category == "consultation"
            assert first.fields == {
                "service": "passport",
                "result": "redirected",
                "where": "Налоговая инспекция",
            }
            (user,) = row(service, User, id=user_id)
            assert user.state == "ready"
            recent = page.locator("#recent-table tbody tr").first
            await expect(recent).to_contain_text(CALLER_SHOWN)
            await expect(recent).to_contain_text("Консультация")

            # The same applicant calls again: the pop-up shows the first call's wrap-up.
            assert await sim.call("operator_hangs_up", CALLER)
            await expect(page.locator("#caller-history")).to_contain_text("Консультация")
            await expect(form).to_be_visible()
            await page.keyboard.press("Alt+2")  # pre-registration
            await expect(page.locator("#field-service")).to_be_focused()
            await page.select_option("#field-service", "passport")  # kept: same field
            await page.select_option("#field-office", "north")
            await page.fill("#field-applicant_name", "Петров Пётр Петрович")
            await page.fill("#field-date", "2026-11-30")
            await page.fill("#field-time", "10:30")
            await page.screenshot(path=str(ARTIFACTS / f"{name}-form-open.png"))
            await page.locator("#field-time").press("Control+Enter")
            await expect(state).to_have_attribute("data-state", "ready", timeout=1000)
            second = [w for w in row(service, Wrapup, operator_id=user_id) if w.id != first.id]
            assert [(w.status, w.category) for w in second] == [("submitted", "pre_registration")]
            assert second[0].fields["date"] == "2026-11-30"
            assert second[0].fields["time"] == "10:30"
            assert second[0].fields["office"] == "north"
            (user,) = row(service, User, id=user_id)
            assert user.state == "ready"


async def test_an_expired_session_keeps_the_draft(db_url: str, browser: Browser) -> None:
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        async with operator_page(browser, service, f"expired-{backend(db_url)}") as page:
            await page.click("#go-ready")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#wrapup")).to_be_visible()
            await page.keyboard.press("5")  # non-standard question
            question = "Можно ли подать документы по доверенности?"
            await page.fill("#field-question", question)
            await page.fill("#field-applicant_name", "Петров Пётр")
            await page.select_option("#field-answer_channel", "call_back")
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                session.execute(
                    update(AuthSession)
                    .where(AuthSession.user_id == user_id)
                    .values(expires_at=now() - timedelta(minutes=1))
                )
                session.commit()
            await page.keyboard.press("Control+Enter")
            banner = page.locator("#session-banner")
            await expect(banner).to_be_visible()
            await expect(banner).to_contain_text("Сеанс истёк")
            await expect(page.locator("#login-again")).to_be_focused()
            (pending,) = row(service, Wrapup, operator_id=user_id)
            assert pending.status in ("pending", "missed")  # nothing was stored
            await page.click("#login-again")
            await expect(page.locator(".notice")).to_contain_text("Сеанс завершён или истёк")
            await log_in(page, service)
            # the form opens again with everything typed before
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#category-non_standard_question")).to_be_checked()
            await expect(page.locator("#field-question")).to_have_value(question)
            await expect(page.locator("#field-applicant_name")).to_have_value("Петров Пётр")
            await expect(page.locator("#field-answer_channel")).to_have_value("call_back")
            await page.fill("#field-contact_phone", "+7 916 111-22-33")
            await page.keyboard.press("Control+Enter")
            await expect(page.locator("#wrapup")).to_be_hidden()
            (done,) = row(service, Wrapup, operator_id=user_id)
            assert done.status == "submitted" and done.fields["question"] == question
            drafts = await page.evaluate(
                "Object.keys(localStorage).filter(k => k.includes('wrapup-draft'))"
            )
            assert drafts == []


async def test_a_missed_wrapup_is_completed_and_the_applicant_called_back(
    db_url: str, browser: Browser
) -> None:
    async with running_service(db_url, wrapup_seconds=1.5) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        async with operator_page(browser, service, f"missed-{backend(db_url)}") as page:
            await page.keyboard.press("Alt+R")
            state = page.locator("#state")
            await expect(state).to_have_attribute("data-state", "ready")
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#wrapup")).to_be_visible()
            await page.keyboard.press("5")  # non-standard question
            question = "Нужна ли доверенность для получения чужих документов?"
            await page.fill("#field-question", question)
            # the deadline passes: ready again, the wrap-up is missed but still open to fill
            await expect(state).to_have_attribute("data-state", "ready")
            await expect(page.locator("#countdown")).to_contain_text("Срок вышел")
            await expect(page.locator("#wrapup-extend")).to_be_hidden()
            await expect(page.locator("#missed-list")).to_contain_text(CALLER_SHOWN)
            await page.fill("#field-applicant_name", "Сидоров Пётр")
            await page.select_option("#field-answer_channel", "call_back")
            await page.fill("#field-contact_phone", "8 916 123-45-67")
            await page.keyboard.press("Control+Enter")
            await expect(page.locator("#wrapup")).to_be_hidden()
            await expect(page.locator("#missed-list")).to_contain_text("нет")
            (wrapup,) = row(service, Wrapup, operator_id=user_id)
            assert wrapup.status == "submitted" and wrapup.missed_at is not None
            (asked,) = row(service, Question, operator_id=user_id)
            assert asked.text == question

            # a supervisor answers; the operator calls the applicant back from the page
            answered = await service.client.patch(
                f"/api/v1/questions/{asked.id}",
                json={
                    "status": "answered",
                    "answer": "Да, нужна нотариальная доверенность.",
                    "answer_source_kind": "supervisor",
                },
            )
            assert answered.status_code == 200, answered.text
            await page.reload()
            item = page.locator(f'#questions-list li[data-question-id="{asked.id}"]')
            await expect(item).to_contain_text("нотариальная доверенность")
            await item.get_by_role("button", name="Перезвонить").click()
            await expect(page.locator("#toast")).to_contain_text("Звоним")
            (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
            assert action["Channel"] == "PJSIP/op1001"
            assert action["Exten"] == "89161234567"
            (called,) = row(service, Question, id=asked.id)
            assert called.callback_call_id is not None and called.callback_by == user_id


ENTRY = {
    "applicant_name": "Петров Пётр Петрович",
    "case_number": "Д-2026/1187",
    "service": "Загранпаспорт",
    "office": "Офис на Ленина, 5",
    "ready_date": "20.11.2026",
    "note": "Взять с собой старый паспорт",
}


def shown_entry(phone: str, attempt: int, campaign: str) -> dict[str, str]:
    """The preview's texts by field, as the page should show them."""
    return {**ENTRY, "phone": phone, "attempt": str(attempt), "campaign": campaign}


async def expect_preview(page: Page, fields: dict[str, str]) -> None:
    panel = page.locator("#preview")
    await expect(panel).to_be_visible()
    for key, value in fields.items():
        await expect(page.locator(f"#preview-{key.replace('_', '-')}")).to_have_text(value)


async def test_an_operator_mode_campaign_entry_is_previewed_before_the_call(
    db_url: str, browser: Browser
) -> None:
    """The real dialer in operator mode, the simulator's call, the page between them."""
    async with running_service(db_url, campaign_scheduler="off") as service:
        user_id = add_operator(service)
        await wait_for(lambda: service.monitor.clients[0].connected)
        campaign = "Паспорта, ноябрь"
        campaign_id = make_campaign(service, name=campaign, mode="operator")
        (entry_id,) = add_entries(service, campaign_id, ["+79161110001"])
        with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            session.execute(update(RegistryEntry).where(RegistryEntry.id == entry_id).values(ENTRY))
        async with operator_page(browser, service, f"preview-{backend(db_url)}") as page:
            await page.keyboard.press("Alt+R")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            panel = page.locator("#preview")
            await expect(panel).to_be_hidden()
            await expect(page.locator("#preview-title")).to_have_text(
                "Уведомление о готовности документов"
            )
            async with simulated_outbound(service, {}, speed=3.0):
                run = asyncio.create_task(
                    dial(service, Clock(), preview=live_preview(service.app.state))  # type: ignore[attr-defined]
                )
                # shown before the applicant's leg, and kept while the call goes on
                await expect_preview(page, shown_entry("+7 916 111-00-01", 1, campaign))
                await expect(page.locator("#caller-phase")).to_have_text("разговор")
                # our phone rang first: the applicant shown is the preview's
                await expect(page.locator("#caller-number")).to_have_text("+7 916 111-00-01")
                await expect(panel).to_be_visible()
                await page.screenshot(path=str(ARTIFACTS / f"preview-{backend(db_url)}-call.png"))
                summary, _ = await asyncio.wait_for(run, 30)
            assert summary.results == {"answered": 1}
            await expect(panel).to_be_hidden()  # the call ended
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#category-document_notification")).to_be_checked()
            await page.select_option("#field-result", "notified")
            await page.fill("#field-comment", "Придёт в понедельник")
            await page.keyboard.press("Control+Enter")
            await expect(page.locator("#wrapup")).to_be_hidden()
            (done,) = row(service, Wrapup, operator_id=user_id)
            assert (done.status, done.category) == ("submitted", "document_notification")
            (entry,) = row(service, RegistryEntry, id=entry_id)
            assert (entry.status, entry.operator_comment) == ("notified", "Придёт в понедельник")


async def test_a_preview_suggests_the_category_of_its_calls_wrapup(
    db_url: str, browser: Browser
) -> None:
    """A preview straight from the hub, in English; the next call's wrap-up takes its hint."""
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        async with operator_page(browser, service, f"preview-hint-{backend(db_url)}") as page:
            await page.click("button[data-lang=en]")
            await expect(page.locator("h1")).to_have_text("Operator workplace")
            await page.keyboard.press("Alt+R")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            data: dict[str, Any] = {
                "campaign_id": 7,
                "campaign": "Passports, November",
                "entry_id": 42,
                "attempt_id": 99,
                "phone": "+" + CALLER,
                "attempt": 2,
                "category_hint": "document_notification",
                **ENTRY,
            }
            hub = service.app.state.live  # type: ignore[attr-defined]
            await asyncio.to_thread(hub.publish_threadsafe, user_id, "campaign_preview", data)
            await expect(page.locator("#preview-title")).to_have_text("Ready-document notification")
            await expect_preview(page, shown_entry(CALLER_SHOWN, 2, "Passports, November"))
            await expect(page.locator("#preview-phone")).to_have_attribute(
                "data-number", "+" + CALLER
            )
            await expect(page.locator("#preview")).to_have_attribute("data-entry-id", "42")
            # the call it announced: an inbound trace here, whose wrap-up suggests nothing
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#preview")).to_be_hidden()
            await expect(page.locator("#wrapup")).to_be_visible()
            (pending,) = row(service, Wrapup, operator_id=user_id)
            assert pending.category_hint is None  # the page's own suggestion, then
            await expect(page.locator("#category-document_notification")).to_be_checked()
            await expect(page.locator("#field-result")).to_be_visible()


async def test_ready_before_submitting_then_two_pending_wrapups(
    db_url: str, browser: Browser
) -> None:
    """Issue #17 item 2: the form says which call it tags; after going ready with a form
    unsubmitted, the next call's form opens, and the operator switches between the two
    (each keeps its draft)."""
    second_caller = "79037654321"
    second_shown = "+7 903 765-43-21"
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        name = f"two-pending-{backend(db_url)}"
        async with operator_page(browser, service, name) as page:
            state = page.locator("#state")
            await page.keyboard.press("Alt+R")
            await expect(state).to_have_attribute("data-state", "ready")
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#wrapup-call")).to_contain_text(CALLER_SHOWN)
            await expect(page.locator("#pending-nav")).to_be_hidden()  # only one
            await page.keyboard.press("1")  # consultation, not submitted
            await page.select_option("#field-service", "snils")
            await page.keyboard.press("Alt+R")  # ready before submitting
            await expect(state).to_have_attribute("data-state", "ready")

            assert await sim.call("answered", second_caller)
            await expect(page.locator("#caller-number")).to_have_text(second_shown)
            # the form of the call that just ended, not the older one
            await expect(page.locator("#wrapup-call")).to_contain_text(second_shown)
            tabs = page.locator("#pending-list button")
            await expect(tabs).to_have_count(2)
            await expect(tabs.first).to_contain_text(second_shown)
            await expect(tabs.first).to_have_attribute("aria-current", "true")
            await expect(page.locator("#category-consultation")).not_to_be_checked()
            await page.screenshot(path=str(ARTIFACTS / f"{name}-switch.png"), full_page=True)

            await tabs.nth(1).click()  # back to the first call: its draft is there
            await expect(page.locator("#wrapup-call")).to_contain_text(CALLER_SHOWN)
            await expect(page.locator("#category-consultation")).to_be_checked()
            await expect(page.locator("#field-service")).to_have_value("snils")
            await page.select_option("#field-result", "answered")
            await page.locator("#field-result").press("Control+Enter")
            # submitted: the other one opens, alone now
            await expect(page.locator("#wrapup-call")).to_contain_text(second_shown)
            await expect(page.locator("#pending-nav")).to_be_hidden()
            wrapups = {w.call_key: w for w in row(service, Wrapup, operator_id=user_id)}
            assert len(wrapups) == 2
            submitted = [w for w in wrapups.values() if w.status == "submitted"]
            (first,) = submitted
            assert first.fields == {"service": "snils", "result": "answered"}
            assert [w.status for w in wrapups.values() if w is not first] == ["pending"]


async def test_my_figures_for_today_and_this_week(db_url: str, browser: Browser) -> None:
    """Issue #12: the operator's own figures, from the KPI engine, on their page."""
    async with running_service(db_url) as service:
        add_operator(service)
        sim = await simulator(service)
        name = f"figures-{backend(db_url)}"
        async with operator_page(browser, service, name) as page:
            handled = page.locator('#figures-table tr[data-figure="handled"] td')
            await expect(handled).to_have_text(["0", "0"])
            await page.keyboard.press("Alt+R")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            assert await sim.call("answered", CALLER)
            await expect(page.locator("#wrapup")).to_be_visible()
            await page.keyboard.press("1")  # consultation
            await page.select_option("#field-service", "passport")
            await page.select_option("#field-result", "answered")
            await page.locator("#field-result").press("Control+Enter")
            await expect(page.locator("#wrapup")).to_be_hidden()
            await expect(handled).to_have_text(["1", "1"])
            consultations = page.locator('#figures-table tr[data-figure="category-consultation"]')
            await expect(consultations.locator("th")).to_have_text("Консультация")
            await expect(consultations.locator("td")).to_have_text(["1", "1"])
            aht = page.locator('#figures-table tr[data-figure="aht"] td').first
            await expect(aht).to_have_text(re.compile(r"^\d+:\d\d$"))
            await expect(page.locator("#figures-title")).to_have_text("Мои показатели")
            await page.locator("#figures").screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def test_one_address_and_one_login_page_lead_each_role_home(
    db_url: str, browser: Browser
) -> None:
    """Issue #17: / leads to the login page, and after it to the role's home."""
    async with running_service(db_url) as service:
        add_operator(service)
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            create_user(session, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
            session.commit()
        for login, home in (("orlova", "/supervisor/live"), ("ivanova", "/operator")):
            async with page_of(browser, f"home-{login}-{backend(db_url)}") as page:
                await page.goto(f"{service.base_url}/")
                await page.wait_for_url(re.compile(r"/operator/login\?next=/home$"))
                await expect(page.locator("h1")).to_have_text("Вход в callagent")
                await page.fill("#login", login)
                await page.fill("#password", PASSWORD)
                await page.press("#password", "Enter")
                await page.wait_for_url(f"{service.base_url}{home}")
