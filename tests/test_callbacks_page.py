"""The supervisor's call-back page in headless Chromium: reached from the navigation bar,
the KPI, status tabs with counts, reassigning a call-back to an operator through the API,
the page in ru/uk/en."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.callbacks.models import CallbackTask
from tests.conftest import running_service
from tests.test_callbacks_api import SETTINGS, seed
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_routing import add_operators

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"


async def test_the_call_back_page(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url, **SETTINGS) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        ids = seed(service)
        (op,) = add_operators(service, 1, full_name="Коваль Ірина")
        name = f"callbacks-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            await page.goto(f"{service.base_url}/complaints")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/complaints")
            await page.click("nav.pages a[href='/supervisor/callbacks']")
            await page.wait_for_url(f"{service.base_url}/supervisor/callbacks")
            await expect(page.locator("h1")).to_have_text("Обратные звонки с сайта")
            await expect(page.locator('[data-figure="requested"]')).to_have_text("5")
            await expect(page.locator('[data-figure="reached"]')).to_have_text("1")
            await expect(page.locator('[data-figure="median"]')).to_have_text("5:00")
            rows = page.locator("#callbacks-table tbody tr[data-task]")
            await expect(rows).to_have_count(5)
            await expect(page.locator('#status-tabs a[data-status="overdue"] .count')).to_have_text(
                "1"
            )
            # reassign the due one to the operator: the API stores it, the page shows it
            due = page.locator(f'tr[data-task="{ids["due"]}"]')
            await expect(due.locator(".status")).to_have_text("пора звонить")
            await due.locator("select").select_option(str(op))
            await due.locator("button").click()
            await expect(due.locator(".operator")).to_have_text("Коваль Ірина")
            # finished ones offer no reassigning
            await expect(page.locator(f'tr[data-task="{ids["done"]}"] form')).to_have_count(0)
            # a tab shows only its status
            await page.click('#status-tabs a[data-status="failed"]')
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_have_attribute("data-status", "failed")
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(page.locator("h1")).to_have_text("Зворотні дзвінки з сайту")
            await expect(rows.first.locator(".status")).to_have_text("не додзвонилися")
            await page.click("button[data-lang='en']")
            await expect(page.locator("h1")).to_have_text("Website call-backs")
            await expect(page.locator("#kpi-title")).to_have_text("Time from request to call-back")
        with sessions() as db:
            task = db.get(CallbackTask, ids["due"])
            assert task is not None and task.operator_id == op
