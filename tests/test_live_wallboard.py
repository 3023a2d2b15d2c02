"""The supervisor's wallboard (issue #12): the centre now from the database, in
headless Chromium; a supervisor pauses an operator from it, and that is audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import AuditEntry, Call, User
from callagent.routing.states import Signal
from tests.conftest import make_token, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_reports_page import PASSWORD, today_traffic

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_wallboard_shows_the_centre_and_acts(db_url: str, browser: Browser) -> None:  # noqa: F811
    # the centre's own levels: one caller waiting is already amber
    async with running_service(db_url, wallboard_waiting_amber=1) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
            ops = [
                create_user(
                    db,
                    login=login,
                    role=Role.OPERATOR,
                    password=None,
                    full_name=name,
                    endpoints=[f"PJSIP/{login}"],
                    group=team,
                )
                for login, name, team in (
                    ("op1001", "Иванова Мария", "справки"),
                    ("op1002", "Петров Пётр", "запись"),
                )
            ]
            db.flush()
            ids = [op.id for op in ops]
        await today_traffic(service)  # 50 answered calls today, 25 each
        book = service.app.state.book  # type: ignore[attr-defined]
        for user_id in ids:
            book.signal(user_id, Signal.LOGIN, cause="test")
        book.signal(ids[0], Signal.READY, cause="test")
        book.signal(ids[1], Signal.PAUSE, cause="test", reason="lunch")
        now = datetime.now(UTC)
        with sessions.begin() as db:  # a caller waiting for 40 s, not answered yet
            db.add(
                Call(
                    node="pbx1",
                    linkedid="1800000099.1",
                    direction="inbound",
                    caller_number="79161112233",
                    applicant_number="79161112233",
                    started_at=now - timedelta(seconds=40),
                    disposition="in_progress",
                    final=False,
                    updated_at=now,
                )
            )
        with sessions.begin() as db:  # op1002 talks to a caller (their claimed call)
            talking = db.get(User, ids[1])
            assert talking is not None
            talking.claimed_call = "pbx1:1800000099.1"
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "wallboard")
        view = (
            await service.client.get(
                "/api/v1/reports/live", headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        assert view["today"]["answered"] == 50 and len(view["waiting"]) == 1
        assert view["counts"] == {"ready": 1, "paused": 1}
        assert view["waiting"][0]["waited_seconds"] >= 40
        name = f"wallboard-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            await page.goto(f"{service.base_url}/supervisor/live")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/live")
            await expect(page.locator("#tile-answered b")).to_have_text("50")
            await expect(page.locator("#tile-waiting b")).to_have_text("1")
            await expect(page.locator("#tile-waiting")).to_have_attribute("data-level", "amber")
            # today per topic (the trace's calls carry none) and per team
            no_topic = page.locator('#topics tr[data-topic=""]')
            await expect(no_topic.locator("th")).to_have_text("без темы")
            await expect(no_topic.locator("td").nth(1)).to_have_text("50")
            await expect(page.locator("#teams tbody tr")).to_have_count(2)
            team = page.locator('#teams tr[data-team="справки"]')
            await expect(team.locator("td").nth(0)).to_have_text("Готов: 1")
            await expect(team.locator("td").nth(1)).to_have_text("25")
            await expect(page.locator("#tile-longest")).to_have_attribute("data-level", "amber")
            await expect(page.locator("#waiting-list li")).to_have_count(1)
            petrov = page.locator('#operators tr[data-login="op1002"]')
            await expect(petrov.locator("td[data-state]")).to_have_text(re.compile("Пауза.*Обед"))
            # the caller's number as every page shows it
            await expect(petrov.locator("td").nth(2)).to_contain_text("+7 916 111-22-33")
            ivanova = page.locator('#operators tr[data-login="op1001"]')
            await expect(ivanova.locator('[data-figure="handled"]')).to_have_text("25")
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            await page.select_option("#act-reason", "training")
            await ivanova.locator('button[data-act="paused"]').click()
            await expect(ivanova.locator("td[data-state]")).to_have_attribute(
                "data-state", "paused", timeout=3000
            )
        with sessions() as db:
            state, reason = db.execute(
                select(User.state, User.state_reason).where(User.id == ids[0])
            ).one()
            entries = db.scalars(
                select(AuditEntry).where(AuditEntry.action == "operator_state")
            ).all()
        assert (state, reason) == ("paused", "training")
        assert [(e.actor, e.detail["user_id"], e.detail["state"]) for e in entries] == [
            (entries[0].actor, ids[0], "paused")
        ]
        assert "orlova" in entries[0].actor
