"""The operator's page in Ukrainian (issue #17 item 8), in headless Chromium against the
real service and the PBX simulator, on SQLite and PostgreSQL.

Every value the page shows comes in the page's language: the call's disposition and
direction, the refused state change (its states named in Ukrainian), a missed wrap-up's
row (its status, not the missed card's title); phone numbers as ``+7 916 111-22-33``
with the raw number in ``data-number``. Screenshots go to ``artifacts/operator-page/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from callagent.db.models import User
from callagent.db.wrapup_models import Wrapup
from tests.conftest import running_service
from tests.test_operator_page import (
    ARTIFACTS,
    CALLER,
    CALLER_SHOWN,
    CHROMIUM,
    add_operator,
    backend,
    log_in,
    page_of,
    require_chromium,
    row,
    simulator,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECOND = "380441234567"  # a Kyiv number: formatted in Ukraine's own grouping
SECOND_SHOWN = "+380 44 123 4567"
RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")  # letters Ukrainian does not have
# values as the API gives them: none may reach a Ukrainian page as they are
RAW_VALUES = re.compile(
    r"\b(answered|abandoned|no_answer|in_progress|inbound|outbound|internal|missed|pending|"
    r"submitted|ready|paused|offline|on_call|wrap_up|ringing|unavailable)\b"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the module."""
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


def leftovers(text: str) -> list[str]:
    """Russian-only letters and raw API values in a Ukrainian page's text."""
    return RUSSIAN_ONLY.findall(text) + RAW_VALUES.findall(text)


async def test_the_page_in_ukrainian_says_every_value_in_ukrainian(
    db_url: str, browser: Browser
) -> None:
    async with running_service(db_url, wrapup_seconds=4) as service:
        user_id = add_operator(service)
        sim = await simulator(service)
        name = f"ukrainian-{backend(db_url)}"
        async with page_of(browser, name) as page:
            await page.goto(f"{service.base_url}/operator/login")
            switch = page.locator("a[hreflang=uk]")
            await expect(switch).to_have_text("УКР")
            await switch.click()  # the login page itself, before logging in
            await expect(page.locator("html")).to_have_attribute("lang", "uk")
            await expect(page.locator("h1")).to_have_text("Вхід до callagent")
            await expect(page.locator("label[for=password]")).to_have_text("Пароль")
            await page.fill("#login", "ivanova")
            await page.fill("#password", "not the password")
            await page.click("button[type=submit]")
            await expect(page.locator("#login-error")).to_have_text(
                "Неправильний логін або пароль."
            )
            await page.screenshot(path=str(ARTIFACTS / f"{name}-login.png"))
            await log_in(page, service)
            await page.click("button[data-lang=uk]")  # saved for the user
            await expect(page.locator("h1")).to_have_text("Робоче місце оператора")
            await expect(page.locator("html")).to_have_attribute("lang", "uk")
            (user,) = row(service, User, id=user_id)
            assert user.language == "uk"
            state = page.locator("#state")
            await expect(state).to_have_text("Не на лінії")

            # offline -> paused is no transition: the refusal names both states in Ukrainian
            await page.keyboard.press("Alt+P")
            await expect(page.locator("#state-error")).to_have_text(
                "Зараз не можна: зі стану «Не на лінії» не можна перейти в «Пауза»"
            )
            await page.keyboard.press("Alt+R")
            await expect(state).to_have_text("Готовий")
            await expect(page.locator("#state-error")).to_have_text("")

            # an answered call: the number formatted, the form in Ukrainian
            assert await sim.call("answered", CALLER)
            number = page.locator("#caller-number")
            await expect(number).to_have_text(CALLER_SHOWN)
            await expect(number).to_have_attribute("data-number", CALLER)
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#wrapup-call")).to_contain_text(f"Дзвінок {CALLER_SHOWN}")
            await expect(page.locator("#category-list")).to_contain_text("Консультація")
            await page.keyboard.press("1")
            await expect(page.locator("label[for=field-service]")).to_contain_text("Послуга")
            await page.select_option("#field-service", "passport")
            await page.keyboard.press("Control+Enter")  # the result is missing
            await expect(page.locator("#err-result")).to_have_text("Заповніть поле «Результат».")
            await page.select_option("#field-result", "answered")
            await page.keyboard.press("Control+Enter")
            await expect(page.locator("#wrapup")).to_be_hidden()
            await expect(state).to_have_attribute("data-state", "ready")

            first = page.locator("#recent-table tbody tr").first
            cells = first.locator("td")
            await expect(cells.nth(1)).to_have_text(CALLER_SHOWN)
            await expect(cells.nth(1)).to_have_attribute("data-number", CALLER)
            await expect(cells.nth(2)).to_have_text("вхідний")
            await expect(cells.nth(3)).to_have_text("прийнятий")
            await expect(cells.nth(3)).to_have_attribute("data-disposition", "answered")
            await expect(cells.nth(5)).to_have_text(
                "Консультація · Паспорт громадянина РФ · Консультацію надано"
            )

            # a call whose wrap-up is missed: its row says so, not the missed card's title
            assert await sim.call("answered", SECOND)
            await expect(number).to_have_text(SECOND_SHOWN)
            await expect(page.locator("#wrapup")).to_be_visible()
            await expect(page.locator("#countdown")).to_contain_text("Час вийшов", timeout=8000)
            missed = page.locator("#missed-list li").first
            await expect(missed).to_contain_text(SECOND_SHOWN)
            await expect(missed.locator("span")).to_have_attribute("data-number", SECOND)
            await expect(missed.locator("button")).to_have_text("Заповнити")
            newest = page.locator("#recent-table tbody tr").first
            await expect(newest.locator("td").nth(1)).to_have_text(SECOND_SHOWN)
            await expect(newest.locator("td").nth(5)).to_have_text("пропущена")
            assert {w.status for w in row(service, Wrapup, operator_id=user_id)} == {
                "submitted",
                "missed",
            }

            text = await page.locator("main").inner_text()
            assert not leftovers(text), (leftovers(text), text)
            await page.screenshot(path=str(ARTIFACTS / f"{name}-page.png"), full_page=True)


async def test_a_refusal_comes_in_the_pages_language_by_its_code(db_url: str) -> None:
    """The API keeps its English detail and adds a code and params the pages translate."""
    async with running_service(db_url) as service:
        user_id = add_operator(service)
        refused = await service.client.post(
            f"/api/v1/operators/{user_id}/state", json={"state": "paused", "reason": "lunch"}
        )
        assert refused.status_code == 409
        assert refused.json() == {
            "detail": "an operator in state 'offline' cannot go to 'paused' now",
            "code": "state_refused",
            "params": {"state": "offline", "target": "paused"},
        }
        formatted = await service.client.post(
            "/operator/phones", json={"numbers": [CALLER, "+7 916 ***-**-33", "1001"]}
        )
        assert formatted.status_code == 200, formatted.text
        assert formatted.json() == {
            "numbers": {
                CALLER: CALLER_SHOWN,
                "+7 916 ***-**-33": "+7 916 ***-**-33",
                "1001": "1001",
            }
        }
