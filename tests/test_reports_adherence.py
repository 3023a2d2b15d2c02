"""Schedule adherence on the reports page in headless Chromium (SQLite and PostgreSQL):
a built week, one operator logging in 10 minutes late and pausing off the plan, the
others absent; the page's table says what ``GET /api/v1/planning/adherence`` says, in
ru, uk and en; a day without shifts says so."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import OperatorStateChange
from tests.conftest import running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_planning_schedule_api import SETTINGS, ZONE, need

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"
MONDAY = date(2026, 11, 23)  # a past week: adherence reads its whole days
OPERATORS = 7


async def test_adherence_on_the_reports_page(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url, **SETTINGS) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
            for k in range(OPERATORS):
                create_user(db, login=f"op{k}", role=Role.OPERATOR, password=None)
        client = service.client
        built = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": MONDAY.isoformat(), "required": need(), "seconds": 10},
        )
        assert built.status_code == 200, built.text
        operator, planned = next(
            (o, s) for o in built.json()["operators"] for s in o["shifts"] if s["day"] == 0
        )
        start = datetime.fromisoformat(planned["start"])
        taken = [
            (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
            for b in planned["breaks"]
        ]
        free = next(
            start + timedelta(minutes=m)
            for m in range(30, 400, 15)
            if not any(
                a - timedelta(minutes=15) <= start + timedelta(minutes=m) < b for a, b in taken
            )
        )
        with sessions.begin() as db:
            for at, to_state, reason in (
                (start + timedelta(minutes=10), "ready", ""),
                (free, "paused", "coffee"),
                (free + timedelta(minutes=5), "ready", ""),
                (datetime.fromisoformat(planned["end"]), "offline", ""),
            ):
                db.add(
                    OperatorStateChange(
                        user_id=operator["id"],
                        at=at,
                        from_state="x",
                        to_state=to_state,
                        reason=reason,
                        cause="api",
                    )
                )
        api = await client.get("/api/v1/planning/adherence", params={"day": MONDAY.isoformat()})
        rows = {r["operator"]: r for r in api.json()["rows"]}
        mine = rows[operator["login"]]
        assert mine["late_seconds"] == 600
        pause_from = free.astimezone(ZONE).strftime("%H:%M")
        pause_to = (free + timedelta(minutes=5)).astimezone(ZONE).strftime("%H:%M")
        name = f"reports-adherence-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            page.set_default_timeout(60_000)
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            day = MONDAY.isoformat()
            await page.goto(
                f"{service.base_url}/supervisor/reports?from={day}&to={day}&day={day}&lang=ru"
            )
            await expect(page.locator("#adherence-title")).to_have_text(
                f"Соблюдение расписания — {day}"
            )
            table = page.locator("#adherence-table tbody tr[data-login]")
            await expect(table).to_have_count(len(rows))
            row = page.locator(f"#adherence-table tr[data-login='{operator['login']}']")
            await expect(row.locator('[data-figure="late"]')).to_have_text("10")
            await expect(row.locator('[data-figure="early"]')).to_have_text("0")
            await expect(row.locator('[data-figure="share"]')).to_have_text(
                f"{100 * mine['adherence']:.1f}"
            )
            await expect(row.locator('[data-figure="notes"]')).to_have_text(
                f"пауза вне плана {pause_from}–{pause_to}"
            )
            absent = [login for login, r in rows.items() if r["absent"]]
            assert absent  # the others never logged in
            other = page.locator(f"#adherence-table tr[data-login='{absent[0]}']")
            await expect(other.locator('[data-figure="absent"]')).to_have_text("не вышел")
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(page.locator("#adherence-title")).to_contain_text("Дотримання розкладу")
            await expect(row.locator('[data-figure="notes"]')).to_contain_text("пауза поза планом")
            await page.click("button[data-lang='en']")
            await expect(other.locator('[data-figure="absent"]')).to_have_text("absent")
            # Sunday: no shifts that day
            sunday = (MONDAY + timedelta(days=6)).isoformat()
            await page.goto(
                f"{service.base_url}/supervisor/reports?from={sunday}&to={sunday}"
                f"&day={sunday}&lang=en"
            )
            await expect(page.locator("#adherence-none")).to_have_text("No shifts that day.")
