"""The schedule per team on the planning page in headless Chromium: the teams' table
(share, operators, need, gap, bound, excess, and the whole centre) says what the API
says, a team's coverage chart is drawn for its need and staff, in ru, uk and en. The
page shows the API's numbers: SQLite is enough (the API test runs on both)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.planning.rules import SLOTS_WEEK
from tests.conftest import migrated_sqlite, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"
MONDAY = date(2026, 11, 23)


def _need(agents: int, days: range) -> list[int]:
    required = [0] * SLOTS_WEEK
    for day in days:
        for slot in range(day * 96 + 36, day * 96 + 68):  # 09:00-17:00
            required[slot] = agents
    return required


async def test_the_teams_on_the_planning_page(tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    async with running_service(
        migrated_sqlite(tmp_path / "callagent.db"), timezone="Europe/Kyiv"
    ) as service:
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
            for team, count in (("справки", 4), ("запись", 1)):
                for k in range(count):
                    create_user(
                        db, login=f"{team[0]}{k}", role=Role.OPERATOR, password=None, group=team
                    )
        built = await service.client.post(
            "/api/v1/planning/schedule/build",
            json={
                "week_start": MONDAY.isoformat(),
                # справки: 2 agents on weekdays (4 operators cover it); запись: 2 agents
                # on Monday with one operator: a gap only it has
                "required_by_team": {"справки": _need(2, range(5)), "запись": _need(2, range(1))},
                "seconds": 5,
            },
        )
        assert built.status_code == 200, built.text
        teams = {t["team"]: t for t in built.json()["teams"]}
        assert teams["справки"]["under_agent_slots"] == 0
        gap = teams["запись"]["under_agent_slots"]
        assert gap >= 32  # one of two agents missing all day at least
        async with page_of(browser, "planning-teams") as page:
            page.set_default_timeout(30_000)
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await page.goto(
                f"{service.base_url}/supervisor/planning?week={MONDAY.isoformat()}&lang=ru"
            )
            table = page.locator("#sch-teams")
            await expect(table.locator("thead")).to_contain_text("Доля звонков")
            row = table.locator("tr[data-team='запись']")
            await expect(row.locator("[data-figure='gap']")).to_have_text(str(gap))
            await expect(row.locator("[data-figure='operators']")).to_have_text("1")
            await expect(row.locator("[data-figure='need']")).to_have_text(str(2 * 32))
            await expect(row.locator("[data-figure='share']")).to_have_text(
                f"{100 * teams['запись']['share']:.0f} % (задано)"
            )
            await expect(table.locator("tr[data-team='справки'] [data-figure='gap']")).to_have_text(
                "0"
            )
            whole = table.locator("tr[data-team-whole]")
            await expect(whole).to_contain_text("Весь центр")
            await expect(whole).to_have_attribute("aria-current", "true")
            await expect(page.locator("#chart-coverage")).to_contain_text(
                "Покрытие: нужно и в смене"
            )
            await row.locator("a").click()
            await expect(row).to_have_attribute("aria-current", "true")
            await expect(page.locator("#chart-coverage")).to_contain_text(
                "Покрытие команды «запись»"
            )
            await page.screenshot(path=str(ARTIFACTS / "planning-teams-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(table.locator("thead")).to_contain_text("Частка дзвінків")
            await expect(page.locator("#chart-coverage")).to_contain_text(
                "Покриття команди «запись»"
            )
            await page.click("button[data-lang='en']")
            await expect(whole).to_contain_text("Whole centre")
            await expect(row.locator("[data-figure='share']")).to_contain_text("(given)")
