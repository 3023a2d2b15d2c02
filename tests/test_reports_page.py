"""The supervisor's reports page in headless Chromium (issue #12): the KPI engine's
figures of real traffic per operator, a chart drawn on the server, in ru, uk and en."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import AuditEntry, Call
from callagent.db.store import CallStore
from callagent.replay import replay_bytes
from tests.conftest import RunningService, running_service, trace_bytes
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "supervisor-password"
MOSCOW = ZoneInfo("Europe/Moscow")


async def today_traffic(service: RunningService) -> datetime:
    """The 50 real calls, moved to earlier today (Moscow); when the first one started."""
    sessions = service.app.state.sessions  # type: ignore[attr-defined]
    await replay_bytes(trace_bytes("load_50_calls"), CallStore(sessions))
    now = datetime.now(UTC)
    # an hour ago, or today's first second when Moscow's day began less than an hour ago
    local = now.astimezone(MOSCOW)
    midnight = datetime(local.year, local.month, local.day, tzinfo=MOSCOW).astimezone(UTC)
    target = max(now - timedelta(hours=1), midnight + timedelta(seconds=1))
    with sessions.begin() as db:
        first = db.scalar(select(Call.started_at).order_by(Call.started_at).limit(1))
        assert first is not None
        shift = target - first
        for call in db.scalars(select(Call)):
            call.started_at += shift
        return target


async def test_reports_per_operator_with_a_chart(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url) as service:
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        await today_traffic(service)
        name = f"reports-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.wait_for_url(re.compile(r"/operator/login\?next=/supervisor/reports"))
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await expect(page.locator("h1")).to_have_text("Отчёты")
            # by hour (the default): one or two hours of today hold the 50 calls
            total = page.locator("#kpi-table tr[data-total]")
            await expect(total.locator('[data-figure="offered"]')).to_have_text("50")
            await expect(total.locator('[data-figure="answered"]')).to_have_text("50")
            await expect(page.locator("svg.chart rect").first).to_be_attached()
            await page.select_option("#by", "operator")
            await page.click("#report-form button[type=submit]")
            await page.wait_for_url(re.compile(r"by=operator"))
            for phone in ("PJSIP/op1001", "PJSIP/op1002"):
                row = page.locator(f'#kpi-table tr[data-key="{phone}"]')
                await expect(row.locator('[data-figure="offered"]')).to_have_text("25")
                await expect(row.locator('[data-figure="service_level"]')).to_have_text("100 %")
            bars = page.locator("svg.chart rect title")
            await expect(bars.first).to_contain_text("PJSIP/op1001: Поступило 25")
            await expect(page.locator("nav.pages a[href='/supervisor/campaigns']")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / f"{name}-ru.png"), full_page=True)
            await page.click("button[data-lang='uk']")
            await expect(page.locator("h1")).to_have_text("Звіти")
            await expect(page.locator("#kpi-table thead")).to_contain_text("Надійшло")
            assert "by=operator" in page.url  # the switch keeps the report
            # yesterday: no calls, zeros and a plain sentence instead of a chart
            yesterday = (datetime.now(MOSCOW).date() - timedelta(days=1)).isoformat()
            await page.goto(f"{service.base_url}/supervisor/reports?from={yesterday}&lang=en")
            await expect(page.locator("#no-calls")).to_have_text("No calls in this period.")
            await expect(total.locator('[data-figure="offered"]')).to_have_text("0")


async def test_the_report_downloads_as_xlsx_and_csv_and_is_audited(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        await today_traffic(service)
        async with page_of(browser, "reports-export") as page:
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            await page.goto(f"{service.base_url}/supervisor/reports?by=operator&lang=en")
            async with page.expect_download() as info:
                await page.click("#export-xlsx")
            xlsx = Path(await (await info.value).path())
            workbook = openpyxl.load_workbook(io.BytesIO(await asyncio.to_thread(xlsx.read_bytes)))
            rows = [[c.value for c in row] for row in workbook.active.iter_rows()]
            assert rows[0][:4] == ["Operator", "Offered", "Answered", "Abandoned"]
            assert rows[1][:3] == ["PJSIP/op1001", 25, 25] and rows[2][:3] == [
                "PJSIP/op1002",
                25,
                25,
            ]
            assert rows[-1][:3] == ["Total", 50, 50] and rows[-1][4] == 1.0
            async with page.expect_download() as info:
                await page.click("#export-csv")
            csv_path = Path(await (await info.value).path())
            text = (await asyncio.to_thread(csv_path.read_bytes)).decode("utf-8-sig")
            assert text.splitlines()[-1].startswith("Total;50;50;0;1.0")
        with sessions() as db:
            audited = db.scalars(
                select(AuditEntry).where(AuditEntry.action == "reports.kpi_export")
            ).all()
        assert [(a.detail["format"], a.rows) for a in audited] == [("xlsx", 2), ("csv", 2)]
