"""The administrator's pages (issue #17, one web app): users and their phones, API
tokens, webhooks and their deliveries, the do-not-call list; in headless Chromium on
SQLite and PostgreSQL, against the real service on 127.0.0.1. And the operator list of
the API, which now says each user's current state."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Dialog, Page, expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_token, create_user, now
from callagent.db.campaign_models import DoNotCall
from callagent.db.models import ApiToken, User
from callagent.webhooks.signing import verify
from tests.conftest import RunningService, running_service, wait_for
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "admin-password"
CYRILLIC = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ]")


def backend(db_url: str) -> str:
    return "postgres" if db_url.startswith("postgresql") else "sqlite"


def add_user(service: RunningService, login: str, role: Role, **extra: Any) -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(session, login=login, role=role, password=PASSWORD, **extra)
        session.commit()
        return user.id


async def log_in(page: Page, service: RunningService, path: str, login: str) -> None:
    """Open ``path``, be sent to the login page, log in and come back to ``path``."""
    await page.goto(f"{service.base_url}{path}")
    await page.wait_for_url(re.compile(r"/operator/login\?next="))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    where = path.split("?")[0]  # the login page brings back the path, not its query
    await page.wait_for_url(f"{service.base_url}{where}")
    if where != path:
        await page.goto(f"{service.base_url}{path}")


@contextlib.asynccontextmanager
async def admin_page(
    browser: Browser,  # noqa: F811
    service: RunningService,
    path: str,
    name: str,
) -> AsyncIterator[Page]:
    """``path`` in a fresh profile, logged in as the admin 'root' (added here)."""
    add_user(service, "root", Role.ADMIN, full_name="Админ Главный")
    async with page_of(browser, name) as page:
        await log_in(page, service, path, "root")
        yield page


def accept_dialogs(page: Page, seen: list[str]) -> None:
    """Answer every confirm() with OK, keeping what it asked."""

    async def accept(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)


async def test_the_operator_list_says_each_users_current_state(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        made = await client.post(
            "/api/v1/operators",
            json={"login": "ivanova", "endpoints": ["PJSIP/op1001"], "password": "long enough"},
        )
        user_id = made.json()["id"]
        assert made.json()["state"] == "offline" and made.json()["state_since"] is None
        for body in ({"state": "ready"}, {"state": "paused", "reason": "lunch"}):
            answer = await client.post(f"/api/v1/operators/{user_id}/state", json=body)
            assert answer.status_code == 200, answer.text
        listed = {u["login"]: u for u in (await client.get("/api/v1/operators")).json()}
        assert listed["ivanova"]["state"] == "paused"
        assert listed["ivanova"]["state_reason"] == "lunch"
        assert listed["ivanova"]["state_since"] is not None
        one = (await client.get(f"/api/v1/operators/{user_id}")).json()
        assert (one["state"], one["state_reason"]) == ("paused", "lunch")
        assert one["state_since"] == listed["ivanova"]["state_since"]
        schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
        documented = schema["OperatorOut"]["properties"]
        assert {"state", "state_reason", "state_since"} <= set(documented)
        assert "description" in documented["state"]
        # a login taken again: a code the pages translate
        again = await client.post("/api/v1/operators", json={"login": "ivanova"})
        assert again.status_code == 409
        assert again.json()["code"] == "login_taken"
        assert again.json()["params"] == {"login": "ivanova"}


async def test_an_admin_adds_an_operator_with_a_phone_who_can_then_log_in(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    name = f"admin-users-{backend(db_url)}"
    async with (
        running_service(db_url) as service,
        admin_page(browser, service, "/admin/users", name) as page,
    ):
        await expect(page.locator("h1")).to_have_text("Пользователи и телефоны")
        root = page.locator('#users tr[data-user="root"]')
        await expect(root.locator("[data-role]")).to_have_text("администратор")
        await expect(root.locator("[data-state]")).to_have_text("Не на линии")
        await expect(root.locator("[data-since]")).to_have_text("—")
        # an operator on a lunch break: the state and reason translated, since when
        user_id = add_user(service, "ivanova", Role.OPERATOR, endpoints=["PJSIP/op1001"])
        for body in ({"state": "ready"}, {"state": "paused", "reason": "lunch"}):
            answer = await service.client.post(f"/api/v1/operators/{user_id}/state", json=body)
            assert answer.status_code == 200, answer.text
        await page.reload()
        ivanova = page.locator('#users tr[data-user="ivanova"]')
        await expect(ivanova.locator("[data-state]")).to_have_text("Пауза Обед")
        await expect(ivanova.locator("[data-since]")).to_have_text(
            re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$")
        )
        form = page.locator("#new-user")
        await page.fill("#new-login", "petrova")
        await page.fill("#new-name", "Петрова Анна")
        await page.fill("#new-phones", "PJSIP/op1007")
        await page.fill("#new-skills", "passport:2, tax:1")
        await page.fill("#new-password", "short")  # the API's rule: at least 8
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#new-error")).to_have_text("пароль: от 8 до 256 символов")
        await page.fill("#new-password", "petrova-password")
        await page.fill("#new-phones", "op 1007")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#new-error")).to_contain_text("не телефон вида PJSIP/op1001")
        await page.fill("#new-phones", "PJSIP/op1007")
        await form.locator("button[type=submit]").click()
        row = page.locator('#users tr[data-user="petrova"]')
        await expect(row.locator('[data-field="phones"]')).to_have_text("PJSIP/op1007")
        await expect(row.locator("[data-role]")).to_have_text("оператор")
        await expect(row).to_contain_text("passport:2, tax:1")
        await expect(page.locator("#notice")).to_have_text("Пользователь petrova добавлен")
        # the same login again: the API's refusal, in Russian
        await page.fill("#new-login", "petrova")
        await page.fill("#new-password", "petrova-password")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#new-error")).to_have_text(
            "логин «petrova» уже занят: выберите другой"
        )
        # edit: group and a second phone; reset the password
        await row.locator("button[data-edit]").click()
        await expect(page.locator("#edit-title")).to_have_text("Изменить пользователя petrova")
        await page.locator("#edit-form input[name=group]").fill("north")
        await page.locator("#edit-form input[name=endpoints]").fill("PJSIP/op1007, PJSIP/op1008")
        await page.locator("#edit-form button[type=submit]").click()
        await expect(row.locator('[data-field="phones"]')).to_have_text(
            "PJSIP/op1007, PJSIP/op1008"
        )
        await row.locator("button[data-edit]").click()
        await page.locator("#password-form input[name=password]").fill("a-new-password")
        await page.locator("#password-form button[type=submit]").click()
        await expect(page.locator("#notice")).to_have_text("Пароль пользователя petrova изменён")
        await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            stored = db.scalar(select(User).where(User.login == "petrova"))
            assert stored is not None
            assert stored.endpoints == ["PJSIP/op1007", "PJSIP/op1008"]
            assert (stored.group, stored.skills) == ("north", {"passport": 2, "tax": 1})
            assert (stored.role, stored.full_name, stored.active) == (
                "operator",
                "Петрова Анна",
                True,
            )
        # the new operator logs in with the new password and lands on the workplace
        async with page_of(browser, f"{name}-operator") as operator:
            await operator.goto(f"{service.base_url}/")
            await operator.fill("#login", "petrova")
            await operator.fill("#password", "a-new-password")
            await operator.press("#password", "Enter")
            await operator.wait_for_url(f"{service.base_url}/operator")
            await expect(operator.locator("header .who")).to_contain_text("Петрова Анна")
            await expect(operator.locator("header .who")).to_contain_text("PJSIP/op1007")
        # disabled: the row says so, and the login is refused
        seen: list[str] = []
        accept_dialogs(page, seen)
        await row.locator("button[data-active-toggle]").click()
        await expect(row.locator("[data-active]")).to_have_text("отключён")
        assert seen == ["Отключить petrova? Пользователь больше не сможет войти."]
        async with httpx.AsyncClient(base_url=service.base_url) as anonymous:
            refused = await anonymous.post(
                "/api/v1/auth/login", json={"login": "petrova", "password": "a-new-password"}
            )
        assert refused.status_code == 401


async def test_a_token_is_shown_once_works_with_its_scopes_and_is_revoked(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    name = f"admin-tokens-{backend(db_url)}"
    async with (
        running_service(db_url) as service,
        admin_page(browser, service, "/admin/tokens?lang=en", name) as page,
    ):
        await expect(page.locator("h1")).to_have_text("API tokens")
        await expect(page.locator("#secret")).to_be_hidden()
        form = page.locator("#new-token")
        await page.fill("#token-name", "crm")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#new-error")).to_have_text("choose at least one scope")
        scope = form.locator("label.check", has=page.locator("input[value='calls:read']"))
        await expect(scope).to_contain_text("see calls (applicants' numbers and names masked)")
        await form.locator("input[value='calls:read']").check()
        await form.locator("input[value='reports:read']").check()
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#secret")).to_be_visible()
        await expect(page.locator("#secret-title")).to_have_text(
            "The secret of the new token 'crm'"
        )
        secret = await page.locator("#secret-value").input_value()
        assert len(secret) >= 32
        row = page.locator('#tokens tr[data-token="crm"]')
        await expect(row).to_have_attribute("data-status", "active")
        await expect(row.locator(".scopes")).to_have_text(re.compile(r"calls:read\s+reports:read"))
        await page.screenshot(path=str(ARTIFACTS / f"{name}-secret-en.png"), full_page=True)
        assert CYRILLIC.search(await page.locator("main").inner_text()) is None
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            stored = db.scalar(select(ApiToken).where(ApiToken.name == "crm"))
            assert stored is not None and sorted(stored.scopes) == ["calls:read", "reports:read"]
            assert secret not in str(stored.token_hash)  # only its hash is kept
        # reloaded: the secret is nowhere on the page any more
        await page.reload()
        await expect(page.locator("#secret")).to_be_hidden()
        assert secret not in await page.content()
        assert await page.locator("#secret-value").input_value() == ""
        # a token past its expiry says so, and offers no revocation
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            _, old = create_token(
                db,
                name="old",
                scopes=frozenset({Scope.CALLS_READ}),
                expires_at=now() + timedelta(hours=1),
                created_by=None,
            )
            old.expires_at = now() - timedelta(hours=1)
            db.commit()
        await page.reload()
        expired = page.locator('#tokens tr[data-token="old"]')
        await expect(expired).to_have_attribute("data-status", "expired")
        await expect(expired.locator(".status")).to_contain_text("expired")
        await expect(expired.locator("button[data-revoke]")).to_have_count(0)
        # the token works, with its scopes only
        bearer = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=service.base_url, headers=bearer) as crm:
            assert (await crm.get("/api/v1/calls")).status_code == 200
            assert (await crm.get("/api/v1/operators")).status_code == 403
            # revoked from the page, after a confirmation: 401 from then on
            seen: list[str] = []
            accept_dialogs(page, seen)
            await row.locator("button[data-revoke]").click()
            await expect(row).to_have_attribute("data-status", "revoked")
            await expect(row.locator(".status")).to_contain_text("revoked")
            assert seen == ["Revoke the token 'crm'? Programs using it will be refused."]
            assert (await crm.get("/api/v1/calls")).status_code == 401
            await expect(row.locator("button[data-revoke]")).to_have_count(0)
            await expect(row.locator("td").nth(3)).not_to_have_text("never used")


@dataclass
class Receiver:
    """An integrator's endpoint on 127.0.0.1: keeps each event whose signature checks out
    with the key the page showed."""

    secret: str = ""
    events: list[tuple[str, str]] = field(default_factory=list)  # (event id, type)
    bad_signatures: int = 0
    port: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        stamp = int(request.headers["X-Callagent-Timestamp"])
        if not verify(self.secret, stamp, body, request.headers["X-Callagent-Signature"]):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        payload = await request.json()
        self.events.append((request.headers["X-Callagent-Event-Id"], payload["type"]))
        return JSONResponse({"ok": True})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started)
    receiver.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


FAST = {"webhook_timeout": 0.5, "webhook_backoff_base": 0.1, "webhook_backoff_cap": 0.3}


async def test_an_admin_adds_a_webhook_sees_its_deliveries_and_sends_one_again(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    name = f"admin-webhooks-{backend(db_url)}"
    receiver = Receiver()
    async with (
        receiving(receiver),
        running_service(db_url, **FAST) as service,
        admin_page(browser, service, "/admin/webhooks?lang=uk", name) as page,
    ):
        await expect(page.locator("h1")).to_have_text("Вебхуки")
        await expect(page.locator("#deliveries tbody")).to_contain_text("Доставок поки немає.")
        form = page.locator("#new-sub")
        await page.fill("#sub-url", "ftp://example.org")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#new-error")).to_have_text(
            "адреса: потрібен URL на кшталт https://example.org/hooks"
        )
        await page.fill("#sub-url", receiver.url)
        await form.locator("input[value='operator.state_changed']").check()
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#secret")).to_be_visible()
        receiver.secret = await page.locator("#secret-value").input_value()
        assert len(receiver.secret) >= 16
        sub = page.locator("#subscriptions tbody tr").first
        await expect(sub.locator(".url")).to_have_text(receiver.url)
        await expect(sub).to_contain_text("стан оператора змінився")
        await expect(sub).to_have_attribute("data-active", "yes")
        await page.click("#secret-done")
        await expect(page.locator("#secret")).to_be_hidden()
        # an event: an operator goes ready
        user_id = add_user(service, "ivanova", Role.OPERATOR, endpoints=["PJSIP/op1001"])
        ready = await service.client.post(
            f"/api/v1/operators/{user_id}/state", json={"state": "ready"}
        )
        assert ready.status_code == 200, ready.text
        await wait_for(lambda: len(receiver.events) == 1, timeout=15)
        assert receiver.bad_signatures == 0  # signed with the key the page showed
        event_id = receiver.events[0][0]
        await page.reload()
        delivery = page.locator('#deliveries tr[data-event="operator.state_changed"]')
        await expect(delivery).to_have_count(1)
        await expect(delivery).to_have_attribute("data-status", "delivered")
        await expect(delivery.locator(".status")).to_have_text("доставлено")
        await expect(delivery.locator('[data-field="attempts"]')).to_have_text("1")
        # sent again from the page: the receiver gets the same event a second time
        await delivery.locator("button[data-redeliver]").click()
        await expect(page.locator("#notice")).to_contain_text("знову в черзі")
        await wait_for(lambda: len(receiver.events) == 2, timeout=15)
        assert receiver.events == [(event_id, "operator.state_changed")] * 2
        await page.screenshot(path=str(ARTIFACTS / f"{name}-uk.png"), full_page=True)
        # stopped after a confirmation: inactive, and no more deliveries to it
        seen: list[str] = []
        accept_dialogs(page, seen)
        await sub.locator("button[data-stop]").click()
        await expect(sub).to_have_attribute("data-active", "no")
        await expect(sub).to_contain_text("зупинена")
        assert seen and receiver.url in seen[0]
        paused = await service.client.post(
            f"/api/v1/operators/{user_id}/state", json={"state": "paused", "reason": "lunch"}
        )
        assert paused.status_code == 200
        await asyncio.sleep(1.0)
        assert len(receiver.events) == 2


async def test_do_not_call_numbers_are_added_found_and_removed(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    name = f"admin-dnc-{backend(db_url)}"
    async with (
        running_service(db_url) as service,
        admin_page(browser, service, "/admin/do-not-call", name) as page,
    ):
        await expect(page.locator("h1")).to_have_text("Список «не звонить»")
        await expect(page.locator("#dnc tbody")).to_contain_text("Список пуст.")
        await page.fill("#dnc-phone", "12345")
        await page.fill("#dnc-reason", "просто так")
        await page.click("#dnc-add button[type=submit]")
        await expect(page.locator("#add-error")).to_have_text("«12345» — не номер телефона")
        for phone, reason in (
            ("8 916 123-45-67", "попросил по телефону"),
            ("+7 (903) 555-00-11", "complaint"),  # data stays as written
        ):
            await page.fill("#dnc-phone", phone)
            await page.fill("#dnc-reason", reason)
            await page.click("#dnc-add button[type=submit]")
            await expect(page.locator("#dnc tbody")).to_contain_text(reason)
        await expect(page.locator("#add-error")).to_be_empty()
        first = page.locator('#dnc tr[data-phone="+79161234567"]')
        await expect(first.locator(".phone")).to_have_text("+7 916 123-45-67")
        await expect(page.locator("#dnc-count")).to_have_text("Всего номеров: 2")
        # search by digits, then by a word of the reason
        await page.fill("#dnc-q", "555")
        await page.click("#dnc-search button[type=submit]")
        await page.wait_for_url(re.compile(r"q=555"))
        await expect(page.locator("#dnc tbody tr")).to_have_count(1)
        await expect(page.locator("#dnc tbody")).to_contain_text("+7 903 555-00-11")
        await expect(page.locator("#dnc-count")).to_have_text("Найдено: 1 из 2")
        await page.fill("#dnc-q", "попросил")
        await page.click("#dnc-search button[type=submit]")
        await page.wait_for_url(re.compile(r"q=%D0"))
        await expect(page.locator("#dnc tbody tr")).to_have_count(1)
        await expect(first).to_be_visible()
        await page.fill("#dnc-q", "000000")
        await page.click("#dnc-search button[type=submit]")
        await expect(page.locator("#dnc tbody")).to_have_text("Ничего не найдено.")
        await page.click("#dnc-reset")
        await expect(page.locator("#dnc tbody tr")).to_have_count(2)
        await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
        # removed after a confirmation
        seen: list[str] = []
        accept_dialogs(page, seen)
        await first.locator("button[data-remove]").click()
        await expect(first).to_have_count(0)
        await expect(page.locator("#dnc-count")).to_have_text("Всего номеров: 1")
        assert seen == [
            "Убрать +7 916 123-45-67 из списка «не звонить»? Кампании снова смогут его набирать."
        ]
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            assert db.scalars(select(DoNotCall.phone)).all() == ["+79035550011"]
        # English: the refusal of an invalid number too
        await page.goto(f"{service.base_url}/admin/do-not-call?lang=en")
        await page.fill("#dnc-phone", "999")
        await page.click("#dnc-add button[type=submit]")
        await expect(page.locator("#add-error")).to_have_text("'999' is not a phone number")
        assert CYRILLIC.search(await page.locator("main").inner_text()) is None


async def test_a_supervisor_gets_no_admin_pages(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "orlova", Role.SUPERVISOR)
        async with page_of(browser, f"admin-supervisor-{backend(db_url)}") as page:
            await log_in(page, service, "/supervisor/campaigns", "orlova")
            nav = page.locator("nav.pages")
            await expect(nav.locator("a[href='/supervisor/campaigns']")).to_be_visible()
            for path in ("/admin/users", "/admin/tokens", "/admin/webhooks"):
                await expect(nav.locator(f"a[href='{path}']")).to_have_count(0)
                answer = await page.goto(f"{service.base_url}{path}")
                assert answer is not None and answer.status == 403, path
            # the do-not-call list is a campaign matter: a supervisor runs campaigns
            await page.goto(f"{service.base_url}/supervisor/campaigns")
            await expect(nav.locator("a[href='/admin/do-not-call']")).to_be_visible()
            answer = await page.goto(f"{service.base_url}/admin/do-not-call")
            assert answer is not None and answer.status == 200


RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")  # letters Ukrainian does not have
# The page's own text: without the languages' names (each written in its own language,
# as the switch shows them) and without the admin's row (their name is data)
WORDS_OF_MAIN = """() => {
  const main = document.querySelector("main").cloneNode(true);
  for (const node of main.querySelectorAll("option, tr[data-user=root]")) node.remove();
  return main.textContent;
}"""


async def test_every_admin_page_speaks_english_and_ukrainian(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    """Each page's words and values (roles, states, scopes, events, statuses) in the
    page's language: no Cyrillic on an English page, no Russian letter on a Ukrainian one."""
    paths = ("/admin/users", "/admin/tokens", "/admin/webhooks", "/admin/do-not-call")
    async with running_service(db_url) as service:
        add_user(service, "ivanova", Role.OPERATOR, endpoints=["PJSIP/op1001"])
        hook = await service.client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hooks", "event_types": ["call.ended"]},
        )
        assert hook.status_code == 201
        added = await service.client.post(
            "/api/v1/do-not-call", json={"phone": "+79161234567", "reason": "asked"}
        )
        assert added.status_code == 201
        async with admin_page(browser, service, paths[0], f"admin-lang-{backend(db_url)}") as page:
            for path in paths:
                await page.goto(f"{service.base_url}{path}?lang=en")
                text = await page.evaluate(WORDS_OF_MAIN)
                assert CYRILLIC.search(text) is None, (path, CYRILLIC.findall(text))
                await page.goto(f"{service.base_url}{path}?lang=uk")
                text = await page.evaluate(WORDS_OF_MAIN)
                assert CYRILLIC.search(text) is not None, path
                assert RUSSIAN_ONLY.search(text) is None, (path, RUSSIAN_ONLY.findall(text))
            await expect(page.locator("#dnc tbody")).to_contain_text("+7 916 123-45-67")
            await page.goto(f"{service.base_url}/admin/webhooks?lang=en")
            await expect(page.locator("#subscriptions tbody")).to_contain_text("call ended")
