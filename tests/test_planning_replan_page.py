"""The break re-plan on the planning page in headless Chromium: a week built for 4
agents from 09:00 to 17:00, the volume doubling from 12:00 on Monday; the page proposes
what the API proposes (the same changes, the same shortfall before and after), nothing
is stored until the supervisor applies, then the schedule holds the new breaks; ru, uk
and en words."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from tests.conftest import running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_planning_schedule_api import SETTINGS, need

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"
MONDAY = date(2026, 11, 23)
OPERATORS = 7


def _breaks(data: dict[str, object]) -> dict[int, list[tuple[str, str, str]]]:
    """Monday's breaks per shift id as (kind, from, to)."""
    return {
        shift["id"]: [(b["kind"], b["from"], b["to"]) for b in shift["breaks"]]
        for operator in data["operators"]  # type: ignore[attr-defined]
        for shift in operator["shifts"]
        if shift["day"] == 0
    }


async def test_the_break_replan_on_the_planning_page(db_url: str, browser: Browser) -> None:  # noqa: F811
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
        before = _breaks(built.json())
        body = {"at": f"{MONDAY}T12:00", "factor": 2.0}
        expected = (await client.post("/api/v1/planning/schedule/replan", json=body)).json()
        # the doubled need moves breaks: a proposal with something in it
        assert expected["changes"], expected
        assert expected["under_after"] <= expected["under_before"]
        name = f"replan-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            page.set_default_timeout(60_000)
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await page.goto(
                f"{service.base_url}/supervisor/planning?week={MONDAY.isoformat()}&day=0&lang=ru"
            )
            form = page.locator("#sch-replan")
            await expect(form.locator("h3")).to_have_text(
                f"Перепланировать перерывы — {MONDAY.isoformat()}"
            )
            await page.fill("#sch-replan-at", "12:00")
            await page.fill("#sch-replan-factor", "2")
            await page.click("#sch-replan-propose")
            summary = page.locator("#sch-replan-summary")
            await expect(summary).to_have_text(
                f"Нехватка после 12:00: было {expected['under_before']}, станет "
                f"{expected['under_after']} агенто-интервалов."
            )
            items = page.locator("#sch-replan-changes li")
            await expect(items).to_have_count(len(expected["changes"]))
            first = expected["changes"][0]
            first_after = ", ".join(
                f"{'обед' if b['kind'] == 'lunch' else 'перерыв'} {b['from']}–{b['to']}"
                for b in first["after"]
            )
            await expect(
                page.locator(f"#sch-replan-changes li[data-shift='{first['shift']}']")
            ).to_contain_text(f"{first['operator']}: ")
            await expect(
                page.locator(f"#sch-replan-changes li[data-shift='{first['shift']}']")
            ).to_contain_text(f"→ {first_after}")
            # proposed only: nothing stored yet
            stored = await client.get("/api/v1/planning/schedule", params={"week": MONDAY})
            assert _breaks(stored.json()) == before
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("#sch-replan-apply")
            await page.wait_for_load_state("load")
            await expect(page.locator("#sch-replan-at")).to_have_value("")  # shown again

            async def applied() -> dict[int, list[tuple[str, str, str]]]:
                answer = await client.get("/api/v1/planning/schedule", params={"week": MONDAY})
                return _breaks(answer.json())

            after = await applied()
            for change in expected["changes"]:
                assert after[change["shift"]] == [
                    (b["kind"], b["from"], b["to"]) for b in change["after"]
                ]
            assert after != before
            await page.click("button[data-lang='uk']")
            await expect(form.locator("h3")).to_contain_text("Перепланувати перерви")
            await page.click("button[data-lang='en']")
            await expect(form.locator("h3")).to_contain_text("Re-plan the breaks")
            await page.fill("#sch-replan-at", "12:00")
            await page.fill("#sch-replan-factor", "2")
            await page.click("#sch-replan-propose")
            await expect(summary).to_contain_text("Short after 12:00")
