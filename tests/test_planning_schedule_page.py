"""The schedule on the planning page in headless Chromium: build next week from four
stored weeks of calls, see the grid and the coverage chart, be refused a lunch out of
its window (said in Russian), edit a break and a shift, export the XLSX, in ru and uk."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from tests.conftest import running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_planning_api import SETTINGS, _today, seed

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"
OPERATORS = 8


async def test_the_schedule_on_the_planning_page(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url, **SETTINGS) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
            for k in range(OPERATORS):
                create_user(db, login=f"op{k}", role=Role.OPERATOR, password=None)
        today = await _today()
        seed(sessions, [today - timedelta(days=d) for d in range(28, 0, -1)])
        monday = today + timedelta(days=7 - today.weekday())
        name = f"schedule-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            page.set_default_timeout(60_000)  # a forecast and a build on a busy machine
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await page.goto(
                f"{service.base_url}/supervisor/planning?days=1&week={monday.isoformat()}"
            )
            await expect(page.locator("#sch-title")).to_have_text("Расписание смен")
            await expect(page.locator("#sch-none")).to_be_visible()
            await page.click("#sch-build")
            await expect(page.locator("#sch-grid tbody tr")).to_have_count(
                OPERATORS, timeout=60_000
            )
            await expect(page.locator("#sch-figures")).to_contain_text("нижняя граница 0")
            await expect(page.locator("#sch-figures")).to_contain_text("черновик")
            # Monday: calls 09:00-18:00 need staff; the chart draws need and staff
            await expect(page.locator("#chart-coverage")).to_be_attached()
            shifts = page.locator("#sch-grid button.sch-pick[data-kind=shift]")
            assert await shifts.count() > 0
            breaks = page.locator("#sch-breaks button.sch-pick[data-kind=break]")
            assert await breaks.count() > 0
            # a lunch moved to its shift's start: refused, the rule named in Russian
            row = page.locator("#sch-breaks tbody tr").first
            lunch = row.locator("button.sch-pick", has_text="обед")
            await lunch.click()
            shift_from = (await row.locator("td").first.inner_text()).split("–")[0]
            hours, minutes = map(int, shift_from.split(":"))
            end = hours * 60 + minutes + 30
            await page.fill("#sch-edit-from", shift_from)
            await page.fill("#sch-edit-to", f"{end // 60:02d}:{end % 60:02d}")
            await page.click("#sch-edit button[type=submit]")
            await expect(page.locator("#sch-message")).to_contain_text(
                "Нарушено правило труда: обед вне своего окна"
            )
            # the break saved as it stands: stored by hand, marked with *
            await lunch.click()
            await page.click("#sch-edit button[type=submit]")
            await expect(row.locator("td").nth(1)).to_contain_text("*")
            # a shift of Monday moved to 10:00-18:00: the grid shows it, breaks re-placed
            monday_shift = page.locator(
                "#sch-grid td[data-day='0'] button.sch-pick[data-kind=shift]"
            ).first
            login = await monday_shift.locator("xpath=ancestor::tr").get_attribute("data-login")
            await monday_shift.click()
            await page.fill("#sch-edit-from", "10:00")
            await page.fill("#sch-edit-to", "18:00")
            await page.click("#sch-edit button[type=submit]")
            cell = page.locator(f"#sch-grid tr[data-login='{login}'] td[data-day='0']")
            await expect(cell).to_have_text("10:00–18:00*")
            plan = page.locator(f"#sch-breaks tr[data-login='{login}']")
            await expect(plan.locator("td").nth(1)).to_contain_text("обед")
            # the XLSX: one row per operator, one column per day
            async with page.expect_download() as waiting:
                await page.click("#sch-export")
            download = await waiting.value
            assert download.suggested_filename == f"schedule_{monday:%Y%m%d}.xlsx"
            content = await asyncio.to_thread(Path(await download.path()).read_bytes)
            sheet = load_workbook(io.BytesIO(content)).active
            rows = list(sheet.iter_rows(values_only=True))
            assert len(rows) == 1 + OPERATORS
            assert rows[0][2] == monday.strftime("%d.%m")
            mine = next(r for r in rows if r[0] == login)
            assert mine[2] == "10:00–18:00"
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(page.locator("#sch-title")).to_have_text("Розклад змін")
            assert re.search(r"week=\d{4}-\d\d-\d\d", page.url)
