"""Schedule adherence over a period: ``GET /api/v1/planning/adherence/period`` on SQLite
and PostgreSQL (an operator late and early on Monday, pausing off the plan on Tuesday,
the others absent; the totals agree with the day reports; a team's supervisor sees their
team; a period backwards or too long refused), and the reports page's table in headless
Chromium in ru, uk and en."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import OperatorStateChange
from tests.conftest import RunningService, migrated_sqlite, running_service
from tests.test_calls_page import session_of
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_planning_schedule_api import SETTINGS, need

pytestmark = pytest.mark.asyncio(loop_scope="module")
MONDAY = date(2026, 11, 23)  # a past week: whole days
TUESDAY = MONDAY + timedelta(days=1)


def _free(shift: dict[str, Any], after: int) -> datetime:
    """A time ``after`` minutes or more into the shift, 15 minutes clear of its breaks."""
    start = datetime.fromisoformat(shift["start"])
    taken = [
        (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        for b in shift["breaks"]
    ]
    return next(
        start + timedelta(minutes=m)
        for m in range(after, 400, 15)
        if not any(
            a - timedelta(minutes=15) <= start + timedelta(minutes=m) < b + timedelta(minutes=5)
            for a, b in taken
        )
    )


async def _week(service: RunningService) -> tuple[dict[str, Any], str]:
    """Seven operators in two teams, a built week, one operator's states on Monday and
    Tuesday; that operator, and their team."""
    sessions = service.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as db:
        for k in range(7):
            create_user(
                db, login=f"op{k}", role=Role.OPERATOR, password=None, group="A" if k < 4 else "B"
            )
        for team in ("A", "B"):
            create_user(
                db,
                login=f"lead{team}",
                role=Role.SUPERVISOR,
                password=f"lead{team}-password",
                group=team,
            )
        create_user(db, login="orlova", role=Role.SUPERVISOR, password="orlova-password")
    built = await service.client.post(
        "/api/v1/planning/schedule/build",
        json={"week_start": MONDAY.isoformat(), "required": need(), "seconds": 5},
    )
    assert built.status_code == 200, built.text
    operator = next(
        o
        for o in built.json()["operators"]
        if {s["day"] for s in o["shifts"]} >= {0, 1}
        and all(s["template"] == "8h" for s in o["shifts"] if s["day"] < 2)
    )
    monday, tuesday = (next(s for s in operator["shifts"] if s["day"] == d) for d in (0, 1))
    free = _free(tuesday, 30)
    changes = [
        (datetime.fromisoformat(monday["start"]) + timedelta(minutes=10), "ready"),
        (datetime.fromisoformat(monday["end"]) - timedelta(minutes=30), "offline"),
        (datetime.fromisoformat(tuesday["start"]), "ready"),
        (free, "paused"),
        (free + timedelta(minutes=5), "ready"),
        (datetime.fromisoformat(tuesday["end"]), "offline"),
    ]
    with sessions.begin() as db:
        for at, to_state in changes:
            db.add(
                OperatorStateChange(
                    user_id=operator["id"],
                    at=at,
                    from_state="x",
                    to_state=to_state,
                    reason="coffee" if to_state == "paused" else "",
                    cause="api",
                )
            )
    team = "A" if int(operator["login"][2:]) < 4 else "B"
    return operator, team


async def test_adherence_over_a_period_in_the_api(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        operator, team = await _week(service)
        client = service.client
        answer = await client.get(
            "/api/v1/planning/adherence/period",
            params={"from": MONDAY.isoformat(), "to": TUESDAY.isoformat()},
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()
        rows = {row["operator"]: row for row in data["rows"]}
        mine = rows[operator["login"]]
        assert (mine["shifts"], mine["absent"]) == (2, 0)
        assert (mine["late"], mine["late_seconds"]) == (1, 600)
        assert (mine["early"], mine["early_seconds"]) == (1, 1800)
        assert mine["off_plan_seconds"] == 300
        # the share: the day reports' shares weighted by the shifts' lengths
        good = seconds = 0.0
        for day in (MONDAY, TUESDAY):
            one = await client.get("/api/v1/planning/adherence", params={"day": day.isoformat()})
            row = next(r for r in one.json()["rows"] if r["operator"] == operator["login"])
            length = (
                datetime.fromisoformat(row["end"]) - datetime.fromisoformat(row["start"])
            ).total_seconds()
            good += row["adherence"] * length
            seconds += length
        assert abs(mine["adherence"] - good / seconds) < 1e-3
        others = [row for login, row in rows.items() if login != operator["login"]]
        assert others and all(row["absent"] == row["shifts"] > 0 for row in others)
        total = data["total"]
        assert total["shifts"] == sum(row["shifts"] for row in rows.values())
        assert total["absent"] == total["shifts"] - 2
        # a team's supervisor: their team's operators only
        async with session_of(service, f"lead{team}") as lead:
            theirs = await lead.get(
                "/api/v1/planning/adherence/period",
                params={"from": MONDAY.isoformat(), "to": TUESDAY.isoformat()},
            )
        logins = {row["operator"] for row in theirs.json()["rows"]}
        assert operator["login"] in logins
        assert all((int(login[2:]) < 4) == (team == "A") for login in logins)
        # the CLI as a process: the same figures
        env = {
            **os.environ,
            "CALLAGENT_DATABASE_URL": service.settings.database_url,
            "CALLAGENT_TIMEZONE": str(SETTINGS["timezone"]),
        }
        printed = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "callagent",
                "plan",
                "schedule",
                "adherence-period",
                "--from",
                f"{MONDAY}",
                "--to",
                f"{TUESDAY}",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert printed.returncode == 0, printed.stderr
        assert json.loads(printed.stdout)["rows"] == data["rows"]
        for first, last in ((TUESDAY, MONDAY), (MONDAY, MONDAY + timedelta(days=93))):
            refused = await client.get(
                "/api/v1/planning/adherence/period",
                params={"from": first.isoformat(), "to": last.isoformat()},
            )
            assert refused.status_code == 422


async def test_adherence_over_a_period_on_the_reports_page(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
) -> None:
    # the page shows the API's numbers: SQLite is enough (the API test runs on both)
    async with running_service(migrated_sqlite(tmp_path / "callagent.db"), **SETTINGS) as service:
        operator, _team = await _week(service)
        api = await service.client.get(
            "/api/v1/planning/adherence/period",
            params={"from": MONDAY.isoformat(), "to": TUESDAY.isoformat()},
        )
        mine = next(r for r in api.json()["rows"] if r["operator"] == operator["login"])
        async with page_of(browser, "reports-adherence-period") as page:
            page.set_default_timeout(30_000)
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", "orlova-password")
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await page.goto(
                f"{service.base_url}/supervisor/reports?from={MONDAY}&to={TUESDAY}"
                f"&day={MONDAY}&lang=ru"
            )
            await expect(page.locator("#adherence-period-title")).to_have_text(
                f"Соблюдение расписания за период {MONDAY} — {TUESDAY}"
            )
            table = page.locator("#adherence-period-table")
            await expect(table.locator("tbody tr[data-login]")).to_have_count(
                len(api.json()["rows"])
            )
            row = table.locator(f"tr[data-login='{operator['login']}']")
            for figure, value in (
                ("shifts", "2"),
                ("absent", "0"),
                ("late", "1"),
                ("late-minutes", "10"),
                ("early", "1"),
                ("early-minutes", "30"),
                ("off-plan", "5"),
                ("share", f"{100 * mine['adherence']:.1f}"),
            ):
                await expect(row.locator(f"[data-figure='{figure}']")).to_have_text(value)
            total = table.locator("tr[data-total]")
            await expect(total.locator("th")).to_have_text("Итого")
            await expect(total.locator("[data-figure='shifts']")).to_have_text(
                str(api.json()["total"]["shifts"])
            )
            await page.locator("#adherence").screenshot(
                path=str(ARTIFACTS / "reports-adherence-day-ru.png")
            )
            await page.locator("#adherence-period").screenshot(
                path=str(ARTIFACTS / "reports-adherence-period-ru.png")
            )
            await page.click("button[data-lang='uk']")
            await expect(page.locator("#adherence-period-title")).to_contain_text(
                "Дотримання розкладу за період"
            )
            await page.click("button[data-lang='en']")
            await expect(table.locator("thead")).to_contain_text("Late log-ins")
            # a period without shifts says so
            sunday = MONDAY + timedelta(days=6)
            await page.goto(
                f"{service.base_url}/supervisor/reports?from={sunday}&to={sunday}&lang=en"
            )
            await expect(page.locator("#adherence-period-none")).to_have_text(
                "No shifts in the period."
            )
