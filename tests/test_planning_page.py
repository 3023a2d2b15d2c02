"""The supervisor's planning page in headless Chromium: the forecast of four stored weeks
with its backtest accuracy, the staff per interval by Erlang C and A, in ru, uk and en;
a plain sentence when the history is too short."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.planning.erlang import Target, agents_erlang_c, scheduled_staff
from tests.conftest import running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_planning_api import AHT, SETTINGS, WEEKDAY_SLOT, WEEKEND_SLOT, _today, seed

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"


async def test_the_planning_page(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url, **SETTINGS) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        today = await _today()
        seed(sessions, [today - timedelta(days=d) for d in range(28, 0, -1)])
        start = today + timedelta(days=1)
        per_slot = WEEKDAY_SLOT if start.weekday() < 5 else WEEKEND_SLOT
        name = f"planning-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            # each answer forecasts and staffs a week: seconds on a busy 2-core machine
            page.set_default_timeout(30_000)
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            # the navigation bar leads to the page
            await page.click("nav.pages a[href='/supervisor/planning']")
            await page.wait_for_url(f"{service.base_url}/supervisor/planning")
            await expect(page.locator("h1")).to_have_text("Планирование")
            await page.fill("#start", start.isoformat())
            await page.fill("#days", "1")
            await page.click("#plan-form button[type=submit]")
            await page.wait_for_url(re.compile(r"days=1"))
            await expect(page.locator("#plan-accuracy")).to_contain_text("по дням 0.0 %")
            await expect(page.locator("#plan-history")).to_contain_text(
                (today - timedelta(days=28)).isoformat()
            )
            await expect(page.locator("#plan-patience")).to_contain_text("измерено")
            rows = page.locator("#staff-table tbody tr[data-start]")
            busy = 18 if start.weekday() < 5 else 8  # half hours with calls that day
            await expect(rows).to_have_count(busy)
            target = Target(service_level=0.8, threshold=20, max_occupancy=0.85)
            agents = agents_erlang_c(per_slot, AHT, 1800, target).agents
            first = rows.first
            await expect(first.locator('[data-figure="offered"]')).to_have_text(f"{per_slot}.0")
            await expect(first.locator('[data-figure="agents_c"]')).to_have_text(str(agents))
            await expect(first.locator('[data-figure="staff_c"]')).to_have_text(
                str(scheduled_staff(agents, [0.10, 0.05, 0.08]))
            )
            # the charts are drawn on the server: one bar per interval of the day
            await expect(page.locator("#chart-forecast rect.bar")).to_have_count(48)
            await expect(page.locator("#chart-staff circle.point").first).to_be_attached()
            await expect(page.locator("#backtest-table tbody tr")).to_have_count(7)
            day_total = page.locator(f'#totals-table tr[data-day="{start.isoformat()}"] td')
            await expect(day_total).to_have_text(str(per_slot * busy))
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(page.locator("h1")).to_have_text("Планування")
            await expect(page.locator("#plan-accuracy")).to_contain_text("за днями 0.0 %")
            assert "days=1" in page.url  # the switch keeps the request
            await page.click("button[data-lang='en']")
            await expect(page.locator("#staff-table thead")).to_contain_text("Agents, Erlang A")
            # a day whose history holds no calls: a sentence in the page's language
            early = (today - timedelta(days=60)).isoformat()
            await page.goto(f"{service.base_url}/supervisor/planning?start={early}&lang=en")
            await expect(page.locator("#plan-error")).to_have_text(
                "Not enough stored calls for a forecast: at least one full week is needed."
            )
            await page.goto(f"{service.base_url}/supervisor/planning?start={early}&lang=uk")
            await expect(page.locator("#plan-error")).to_contain_text("Замало збережених")
