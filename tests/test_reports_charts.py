"""The reports page's charts in headless Chromium (issue #12): for the seeded 25-hour day
(Europe/Kyiv, 2026-10-25: see test_reports_occupancy) each chart has as many bars,
points or strips as the report's groups the API gives, with its title, axes and legend
in ru, uk and en; screenshots in artifacts/operator-page/reports-charts-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.reports.chart import Axes, Series, bar_chart, hbar_chart, line_chart, nice_top
from callagent.web.i18n import strings
from tests.conftest import RunningService, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_reports_occupancy import DAY, SINCE, UNTIL, seed

PASSWORD = "supervisor-password"


async def api(service: RunningService, path: str, **params: str) -> dict[str, Any]:
    got = await service.client.get(
        f"/api/v1/reports/{path}",
        params={"since": SINCE.isoformat(), "until": UNTIL.isoformat(), **params},
    )
    assert got.status_code == 200, got.text
    return dict(got.json())


async def count(page: Page, selector: str) -> int:
    return await page.locator(selector).count()


@pytest.mark.asyncio(loop_scope="module")
async def test_each_chart_draws_the_reports_groups_in_three_languages(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url, timezone="Europe/Kyiv") as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        seed(sessions)
        with sessions.begin() as db:
            create_user(db, login="orlova", role=Role.SUPERVISOR, password=PASSWORD)
        # what the API says: the page must draw the same groups
        hours = (await api(service, "kpi", by="interval", interval="60"))["groups"]
        operators = (await api(service, "kpi", by="operator"))["groups"]
        total = await api(service, "kpi")
        profile = await api(service, "profile")
        timeline = (await api(service, "timeline", day=DAY))["operators"]
        with_calls = [g for g in hours if g["offered"]]
        handled = [g for g in operators if g["answered"]]
        # by hand: petrenko logged in 00:00-06:00 local (+03:00, 6 hours), ivanova 4 hours,
        # the attempts at 13:00 and 14:00 (+02:00); calls in 5 of those hours
        assert len(hours) == 12 and len(with_calls) == 5 and len(handled) == 2
        segments = sum(len(o["spans"]) for o in timeline)
        assert segments == 26

        name = f"reports-charts-{'postgres' if db_url.startswith('postgresql') else 'sqlite'}"
        async with page_of(browser, name) as page:
            await page.goto(f"{service.base_url}/supervisor/reports")
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/reports")
            for lang in ("ru", "uk", "en"):
                words = strings(lang)
                await page.goto(
                    f"{service.base_url}/supervisor/reports?from={DAY}&to={DAY}"
                    f"&by=interval&interval=60&lang={lang}"
                )
                await expect(page.locator("h1")).to_have_text(words["rep_title"])
                # volumes: offered, answered, abandoned per hour of the report
                assert await count(page, "#chart-volume rect.bar") == 3 * len(hours)
                # service level: SL and SL2 per hour with calls
                assert await count(page, "#chart-sl circle.point") == 2 * len(with_calls)
                # AHT: a bar per operator who answered
                assert await count(page, "#chart-aht rect.bar") == len(handled)
                # pauses: a bar per reason of the period
                assert await count(page, "#chart-pauses rect.bar") == len(total["pauses"]) == 2
                # the intraday profile: 24 hours
                assert await count(page, "#chart-profile rect.bar") == len(profile["hours"]) == 24
                # the timeline: a strip per operator, a segment per span
                assert await count(page, "#chart-timeline rect.seg") == segments
                rows = await page.locator("#chart-timeline rect.seg").evaluate_all(
                    "els => new Set(els.map(e => e.dataset.row)).size"
                )
                assert rows == len(timeline) == 2
                # titles, axes, legends in the page's language
                for chart, title, words_in_it in (
                    ("volume", "rep_chart", ("rep_offered", "chart_calls", "rep_by_interval")),
                    ("sl", "chart_sl", ("rep_sl", "chart_interval_start", "chart_share")),
                    ("aht", "chart_aht", ("chart_aht_seconds", "rep_by_operator")),
                    ("pauses", "chart_pauses", ("chart_pause_minutes", "reason_break")),
                    ("profile", "chart_profile", ("chart_offered_avg", "chart_hour")),
                    ("timeline", "chart_hour", ("state_on_call", "state_paused", "state_ready")),
                ):
                    text = await page.locator(f"#chart-{chart}").text_content() or ""
                    for key in (title, *words_in_it):
                        assert words[key] in text, (lang, chart, key)
                timeline_title = words["chart_timeline"].format(day="25.10.2026")
                await expect(page.locator("#chart-timeline .chart-title")).to_have_text(
                    timeline_title
                )
                # the tables: occupancy of the day and the activity figures
                occupancy = page.locator('#time-table tr[data-total] [data-figure="occupancy"]')
                await expect(occupancy).to_have_text(f"{total['occupancy'] * 100:.0f} %")
                busy = page.locator('#notifications-table tr[data-key="busy"]')
                await expect(busy).to_contain_text(words["attempt_result_busy"])
                # consultations by topic: the form's service, named in the page's language
                forms = service.app.state.wrapup_forms  # type: ignore[attr-defined]
                snils = next(
                    o.label[lang]
                    for o in forms.category("consultation").field("service").options
                    if o.value == "snils"
                )
                topics = page.locator('#categories-table tr.service[data-category="consultation"]')
                await expect(topics).to_have_count(2)
                await expect(topics.filter(has_text=snils)).to_contain_text("1")
                await page.screenshot(path=str(ARTIFACTS / f"{name}-{lang}.png"), full_page=True)
            # printed: the form and the bar go, every chart stays
            await page.emulate_media(media="print")
            await expect(page.locator("#report-form")).to_be_hidden()
            await expect(page.locator("nav.pages")).to_be_hidden()
            await expect(page.locator("#period")).to_have_text(
                f"From {DAY} to {DAY} · Group by: Interval (60 min)"
            )
            for chart in ("volume", "sl", "aht", "pauses", "profile", "timeline"):
                await expect(page.locator(f"#chart-{chart}")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / f"{name}-print.png"), full_page=True)
            await page.emulate_media(media="screen")
            # without script: the same charts, and the form is a plain GET
            plain = await browser.new_context(
                java_script_enabled=False, viewport={"width": 1280, "height": 900}
            )
            try:
                await plain.add_cookies(await page.context.cookies())  # type: ignore[arg-type]
                no_js = await plain.new_page()
                await no_js.goto(
                    f"{service.base_url}/supervisor/reports?from={DAY}&by=interval&interval=60"
                )
                assert await count(no_js, "#chart-volume rect.bar") == 3 * len(hours)
                assert await count(no_js, "#chart-timeline rect.seg") == segments
                await no_js.select_option("#by", "day")
                await no_js.click("#report-form button[type=submit]")
                await no_js.wait_for_url(re.compile(r"by=day"))
                assert await count(no_js, "#chart-volume rect.bar") == 3
            finally:
                await plain.close()
            await page.select_option("#by", "operator")
            await page.click("#report-form button[type=submit]")
            await page.wait_for_url(re.compile(r"by=operator"))
            assert "lang=en" in page.url
            assert await count(page, "#chart-volume rect.bar") == 3 * len(operators)


def test_charts_escape_their_words_and_scale_to_the_largest_value() -> None:
    svg = bar_chart(
        ["<b>op</b>", "two"],
        [Series('"Offered" & co', "#123456", [5.0, 10.0])],
        title="T <x>",
        axes=Axes(x="X & Y", y="calls"),
    )
    assert "<b>" not in svg and "&lt;b&gt;op&lt;/b&gt;" in svg
    assert "T &lt;x&gt;" in svg and "X &amp; Y" in svg and "&quot;Offered&quot; &amp; co" in svg
    heights = [float(h) for h in re.findall(r'class="bar"[^>]* height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[1] == pytest.approx(2 * heights[0])
    assert nice_top(7.0) == 10.0 and nice_top(0.0) == 1.0 and nice_top(230.0) == 250.0
    line = line_chart(["a", "b"], [Series("SL", "#000", [0.5, 1.0])], title="SL", percent=True)
    assert line.count('class="point"') == 2 and "100 %" in line and "50 %" in line
    bars = hbar_chart(["x", "y", "z"], Series("AHT", "#000", [1.0, 2.0, 3.0]), title="AHT")
    assert bars.count('class="bar"') == 3
