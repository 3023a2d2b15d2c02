"""The state machine's pauses checked live against the published break plan: the rule
(pure), ``GET /api/v1/planning/pauses`` and the wallboard's picture on SQLite and
PostgreSQL (a pause in its planned break, one over it, one off the plan, one of an
operator without a shift, one in a draft week), and the wallboard in headless Chromium
flagging them in ru, uk and en."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.planning import models as db
from callagent.planning.pause_check import PlannedBreak, check_pause
from tests.conftest import make_token, migrated_sqlite, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

PASSWORD = "supervisor-password"
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_pause_against_the_planned_breaks() -> None:
    breaks = [PlannedBreak("break", _at(0), _at(15)), PlannedBreak("lunch", _at(120), _at(150))]
    # within the planned break, or begun within the grace before it: the plan's
    assert check_pause(_at(0), _at(10), breaks) is None
    assert check_pause(_at(-0.5), _at(14), breaks) is None
    assert check_pause(_at(-0.5), _at(-0.2), breaks) is None  # the break starts in 18 s
    # over: longer than the break, or on after its end (by more than the grace)
    over = check_pause(_at(0), _at(17), breaks)
    assert over is not None and over.kind == "over" and over.over_seconds == 120
    assert over.planned == breaks[0]
    assert check_pause(_at(0), _at(15.9), breaks) is None  # 54 s over: within the grace
    long_ago = check_pause(_at(-30), _at(5), breaks)  # paused 30 min before the break
    assert long_ago is not None and long_ago.kind == "over" and long_ago.over_seconds == 20 * 60
    # off the plan: no planned break overlaps the pause
    off = check_pause(_at(40), _at(45), breaks)
    assert off is not None and off.kind == "unplanned" and off.seconds == 300
    assert off.planned is None
    nothing = check_pause(_at(40), _at(45), [])
    assert nothing is not None and nothing.kind == "unplanned"
    assert check_pause(_at(125), _at(140), breaks) is None  # the lunch


def _plan(sessions: sessionmaker[Session], now: datetime) -> dict[str, int]:
    """Operators paused now against a published week (and one in a draft week)."""
    ids: dict[str, int] = {}
    with sessions.begin() as session:
        create_user(session, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        for login, name, minutes_paused in (
            ("inbreak", "Иванова Мария", 3),  # within their planned break
            ("overrun", "Петров Пётр", 20),  # their break ended 5 minutes ago
            ("offplan", "Сидорова Анна", 2),  # no break planned now
            ("noshift", "Кузнецов Олег", 2),  # no shift: not checked
            ("draft", "Орлов Иван", 2),  # a shift of a draft week only: not checked
            ("working", "Волков Юрий", None),  # not paused
        ):
            user = create_user(session, login=login, role=Role.OPERATOR, password=None)
            user.full_name = name
            if minutes_paused is not None:
                user.state, user.state_reason = "paused", "break"
                user.state_since = now - timedelta(minutes=minutes_paused)
            else:
                user.state, user.state_since = "ready", now - timedelta(hours=1)
            session.flush()
            ids[login] = user.id
        for week, status, logins in (
            (date(2026, 1, 5), "published", ("inbreak", "overrun", "offplan")),
            (date(2026, 1, 12), "draft", ("draft",)),
        ):
            schedule = db.Schedule(
                week_start=week,
                zone="UTC",
                status=status,
                required=[],
                built_at=now,
                updated_at=now,
            )
            for login in logins:
                shift = db.ScheduleShift(
                    user_id=ids[login],
                    start_at=now - timedelta(hours=2),
                    end_at=now + timedelta(hours=6),
                )
                start = {"inbreak": -5, "overrun": -20, "offplan": 60, "draft": 60}[login]
                shift.breaks = [
                    db.ScheduleBreak(
                        kind="break",
                        start_at=now + timedelta(minutes=start),
                        end_at=now + timedelta(minutes=start + 15),
                    )
                ]
                schedule.shifts.append(shift)
            session.add(schedule)
    return ids


@pytest.mark.asyncio(loop_scope="module")
async def test_pauses_off_the_plan_in_the_api(db_url: str) -> None:
    async with running_service(db_url) as service:
        app = service.app
        _plan(app.state.sessions, datetime.now(UTC))  # type: ignore[attr-defined]
        token = make_token(app, frozenset({Scope.REPORTS_READ}), "wallboard")
        headers = {"Authorization": f"Bearer {token}"}
        answer = await service.client.get("/api/v1/planning/pauses", headers=headers)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        checks = {one["login"]: one["check"] for one in data["operators"]}
        assert set(checks) == {"inbreak", "overrun", "offplan", "noshift", "draft"}
        assert checks["inbreak"] is None and checks["noshift"] is None
        assert checks["draft"] is None
        assert checks["overrun"]["kind"] == "over"
        assert 290 <= checks["overrun"]["over_seconds"] <= 330  # the break ended 5 min ago
        assert checks["overrun"]["planned"]["kind"] == "break"
        assert checks["offplan"]["kind"] == "unplanned" and checks["offplan"]["planned"] is None
        assert data["flagged"] == 2
        board = (await service.client.get("/api/v1/reports/live", headers=headers)).json()
        plans = {one["login"]: one["plan"] for one in board["operators"]}
        assert plans["overrun"]["kind"] == "over" and plans["offplan"]["kind"] == "unplanned"
        assert plans["inbreak"] is None and plans["working"] is None
        assert board["plan_flags"] == 2
        none = make_token(app, frozenset({Scope.CALLS_READ}), "nobody")
        refused = await service.client.get(
            "/api/v1/planning/pauses", headers={"Authorization": f"Bearer {none}"}
        )
        assert refused.status_code == 403


@pytest.mark.asyncio(loop_scope="module")
async def test_the_wallboard_flags_pauses_off_the_plan(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
) -> None:
    # the page shows the API's picture: SQLite is enough (the API test runs on both)
    async with running_service(migrated_sqlite(tmp_path / "callagent.db")) as service:
        _plan(service.app.state.sessions, datetime.now(UTC))  # type: ignore[attr-defined]
        async with page_of(browser, "wallboard-pauses") as page:
            page.set_default_timeout(30_000)
            await page.goto(f"{service.base_url}/supervisor/live")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/live")
            await page.goto(f"{service.base_url}/supervisor/live?lang=ru")
            over = page.locator("#operators tr[data-login='overrun']")
            await expect(over).to_have_attribute("data-plan", "over")
            await expect(over.locator(".plan-flag")).to_have_text(
                re.compile(r"^перерыв дольше плана на [45]:\d\d$")
            )
            off = page.locator("#operators tr[data-login='offplan']")
            await expect(off.locator(".plan-flag")).to_have_text("пауза вне плана")
            for login in ("inbreak", "noshift", "draft", "working"):
                row = page.locator(f"#operators tr[data-login='{login}']")
                await expect(row).to_be_visible()
                await expect(row.locator(".plan-flag")).to_have_count(0)
            await expect(page.locator("#counts")).to_contain_text("Паузы вне плана: 2")
            await page.screenshot(path=str(ARTIFACTS / "wallboard-pauses-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(off.locator(".plan-flag")).to_have_text("пауза поза планом")
            await expect(page.locator("#counts")).to_contain_text("Паузи поза планом: 2")
            await page.click("button[data-lang='en']")
            await expect(off.locator(".plan-flag")).to_have_text("pause off the plan")
            await expect(over.locator(".plan-flag")).to_contain_text("break over the plan by")
