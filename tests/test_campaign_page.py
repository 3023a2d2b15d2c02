"""The supervisor's campaign pages: over HTTP with a session cookie, and in headless Chromium.

Screenshots are written to ``artifacts/campaign-page/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.campaigns import registry_import
from callagent.db.campaign_models import NotificationAttempt, RegistryEntry
from tests.conftest import IN_CI, RunningService, make_token, running_service

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "campaign-page"
SAMPLE = Path(registry_import.__file__).parent / "samples" / "registry_sample.csv"
SAMPLE_XLSX = SAMPLE.with_suffix(".xlsx")  # the same layout, another file
PASSWORD = "supervisor-password"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _add_user(service: RunningService, login: str, role: Role) -> None:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        create_user(session, login=login, role=role, password=PASSWORD, full_name="Орлова Анна")
        session.commit()


async def _cookie(service: RunningService, login: str) -> str:
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return response.cookies["callagent_session"]


async def _campaign(service: RunningService, name: str = "Ноябрь") -> int:
    response = await service.client.post("/api/v1/campaigns", json={"name": name})
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    return campaign_id


async def test_pages_over_http_with_a_session(db_url: str) -> None:
    async with running_service(db_url) as service:
        _add_user(service, "orlova", Role.SUPERVISOR)
        _add_user(service, "op", Role.OPERATOR)
        cid = await _campaign(service, "Паспорта <ноябрь>")
        anonymous = httpx.AsyncClient(base_url=service.base_url)
        page = await anonymous.get(f"/supervisor/campaigns/{cid}", headers={"Accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == f"/operator/login?next=/supervisor/campaigns/{cid}"
        api_like = await anonymous.get(f"/supervisor/campaigns/{cid}")
        assert api_like.status_code == 401
        supervisor = httpx.AsyncClient(
            base_url=service.base_url,
            cookies={"callagent_session": await _cookie(service, "orlova")},
        )
        shown = await supervisor.get(f"/supervisor/campaigns/{cid}")
        assert shown.status_code == 200
        assert "Паспорта &lt;ноябрь&gt;" in shown.text  # escaped
        assert f"/api/v1/campaigns/{cid}/registry/export?format=xlsx" in shown.text
        assert 'id="upload"' in shown.text and 'id="start"' in shown.text
        nonce = re.search(r"script-src 'nonce-([^']+)'", shown.headers["content-security-policy"])
        assert nonce and f'<script nonce="{nonce.group(1)}">' in shown.text
        listed = await supervisor.get("/supervisor/campaigns")
        assert f'href="/supervisor/campaigns/{cid}"' in listed.text
        missing = await supervisor.get("/supervisor/campaigns/999")
        assert missing.status_code == 404
        operator = httpx.AsyncClient(
            base_url=service.base_url, cookies={"callagent_session": await _cookie(service, "op")}
        )
        denied = await operator.get(f"/supervisor/campaigns/{cid}")
        assert denied.status_code == 403
        # a registry file refused with a code the page translates (issue #17 item 8)
        empty = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry/preview",
            files={"file": ("empty.csv", b"", "text/csv")},
        )
        assert empty.status_code == 422, empty.text
        assert empty.json()["code"] == "registry_empty"
        assert empty.json()["params"] == {"file": "empty.csv"}
        assert empty.json()["detail"].startswith("empty.csv: the file is empty")
        # the header's pages are those the principal may open: no reports without the scope
        assert 'href="/supervisor/reports"' in shown.text
        token = make_token(service.app, frozenset({Scope.CAMPAIGNS_READ}), "campaigns-only")
        reader = httpx.AsyncClient(
            base_url=service.base_url, headers={"Authorization": f"Bearer {token}"}
        )
        for path in (f"/supervisor/campaigns/{cid}", "/supervisor/campaigns"):
            only = await reader.get(path, params={"lang": "en"})
            assert only.status_code == 200, only.text
            assert 'href="/supervisor/campaigns"' in only.text
            assert "/supervisor/reports" not in only.text and "/supervisor/live" not in only.text
            assert '<html lang="en">' in only.text and "Sign out" in only.text
        for client in (anonymous, supervisor, operator, reader):
            await client.aclose()


@contextlib.asynccontextmanager
async def _browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        message = f"the campaign page test needs Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def _page(
    browser: Browser, service: RunningService, name: str, allowed: tuple[str, ...] = ()
) -> AsyncIterator[Page]:
    """A page whose script errors and CSP refusals fail the test; ``allowed``: console
    errors the test provokes (the browser logs a refused request as one)."""
    # UTC, whatever the machine's zone: a time shown in the browser's zone would not pass
    # for the office's (Europe/Moscow and further east in these tests)
    context = await browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale="ru-RU", timezone_id="UTC"
    )
    context.set_default_timeout(8000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        yield page
        unexpected = [e for e in errors if not any(a in e for a in allowed)]
        assert unexpected == []  # no script errors, no CSP refusals
    except BaseException:
        failed = True
        raise
    finally:
        with contextlib.suppress(Exception):
            suffix = "-failed" if failed else ""
            await page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        await context.close()


async def test_upload_start_watch_and_download_in_chromium(db_url: str) -> None:
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    # The in-service dialer is off: the test plays the dialer's part in the database.
    async with (
        _browser() as browser,
        running_service(db_url, campaign_scheduler="off") as service,
    ):
        _add_user(service, "orlova", Role.SUPERVISOR)
        async with _page(browser, service, f"progress-{backend}") as page:
            await page.goto(f"{service.base_url}/supervisor/campaigns")  # no session yet
            await page.wait_for_url(re.compile(r"/operator/login\?next=/supervisor/campaigns$"))
            await page.fill("#login", "orlova")
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}/supervisor/campaigns")
            await page.fill("#new-name", "Ноябрь")
            await page.click("#create button[type=submit]")
            await page.wait_for_url(re.compile(r"/supervisor/campaigns/\d+$"))
            cid = int(page.url.rsplit("/", 1)[1])
            await expect(page.locator("#name")).to_have_text("Ноябрь")
            await page.set_input_files("#file", str(SAMPLE))
            await page.click("#upload button[type=submit]")
            await expect(page.locator("#report-summary")).to_contain_text(
                "Строк: 21, к обзвону: 16, не звоним: 5"
            )
            await expect(page.locator("#report-rows li")).to_have_count(5)
            # the code's word only: the API's reason is English (issue #17 item 8)
            await expect(page.locator("#report-rows li").first).to_have_text(
                "строка 10: неверный номер"
            )
            await expect(page.locator("#imports tbody tr")).to_have_count(1)
            await expect(page.locator("#imports tbody")).to_contain_text("registry_sample.csv")
            pending = page.locator('#by-status tr[data-status="pending"] [data-count]')
            await expect(pending).to_have_text("16")
            await page.click("#start")
            await expect(page.locator("#status")).to_have_attribute("data-status", "running")
            # The dialer's work shows up on the next refresh.
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                entry = session.scalars(
                    select(RegistryEntry).where(RegistryEntry.status == "pending")
                ).first()
                assert entry is not None
                entry.status = "notified"
                session.add(
                    NotificationAttempt(
                        campaign_id=cid,
                        entry_id=entry.id,
                        phone=entry.phones[0],
                        action_id="page-test-1",
                        started_at=datetime.now(UTC),
                        originated_at=datetime.now(UTC),
                        result="",
                    )
                )
                session.commit()
            await expect(page.locator("#in-flight")).to_have_text("1", timeout=8000)
            notified = page.locator('#by-status tr[data-status="notified"] [data-count]')
            await expect(notified).to_have_text("1")
            in_flight = page.locator('#by-result tr[data-result="in_flight"]')
            await expect(in_flight).to_contain_text("звонок идёт")  # a value, in Russian
            async with page.expect_download() as download_info:
                await page.click("#export-xlsx")
            download = await download_info.value
            path = await download.path()
            assert path is not None
            workbook = openpyxl.load_workbook(
                io.BytesIO(await asyncio.to_thread(Path(path).read_bytes))
            )
            sheet = workbook.active
            assert sheet is not None
            rows = list(sheet.iter_rows(values_only=True))
            # the registry row for row: its title on row 1, the header on row 2
            assert rows[1][1] == "ФИО заявителя" and rows[1][8] == "Статус"
            assert len(rows) == 23
            assert sum(1 for r in rows if r[8] == "уведомлён") == 1
            await page.click("#pause")
            await expect(page.locator("#status")).to_have_attribute("data-status", "paused")


async def test_the_page_says_why_nothing_is_dialled_in_the_offices_time(db_url: str) -> None:
    """Issue #17 items 4 and 9: the reason and its time, in the office's zone, not UTC."""
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    async with (
        _browser() as browser,
        running_service(db_url, campaign_scheduler="off") as service,
    ):
        _add_user(service, "orlova", Role.SUPERVISOR)
        cid = await _campaign(service, "Владивосток")
        patched = await service.client.patch(
            f"/api/v1/campaigns/{cid}", json={"office_timezone": "Asia/Vladivostok"}
        )
        assert patched.status_code == 200, patched.text
        uploaded = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("registry_sample.csv", SAMPLE.read_bytes(), "text/csv")},
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        async with _page(browser, service, f"idle-{backend}") as page:
            await page.context.add_cookies(
                [
                    {
                        "name": "callagent_session",
                        "value": await _cookie(service, "orlova"),
                        "url": service.base_url,
                    }
                ]
            )
            await page.goto(f"{service.base_url}/supervisor/campaigns/{cid}")
            idle = page.locator("#idle")
            await expect(idle).to_have_attribute("data-reason", "draft")
            await expect(idle).to_contain_text("Кампания не запущена")
            # the import's time as Vladivostok's clock shows it (UTC+10)
            imported = await service.client.get(f"/api/v1/campaigns/{cid}/registry/imports")
            at = datetime.fromisoformat(imported.json()[0]["created_at"])
            local = at.astimezone(ZoneInfo("Asia/Vladivostok"))
            await expect(page.locator("#imports thead")).to_contain_text("Asia/Vladivostok")
            await expect(page.locator("#imports tbody")).to_contain_text(f"{local:%H:%M}")
            # running, every entry deferred (as the dialer's lease does) to the window's
            # opening tomorrow in Vladivostok; the window is one minute, not open now
            here = ZoneInfo("Asia/Vladivostok")
            hour = 10 if datetime.now(here).hour == 9 else 9
            window = {d: [[f"{hour:02d}:00", f"{hour:02d}:01"]] for d in DAYS}
            changed = await service.client.patch(
                f"/api/v1/campaigns/{cid}", json={"window": window}
            )
            assert changed.status_code == 200, changed.text
            assert (await service.client.post(f"/api/v1/campaigns/{cid}/start")).status_code == 200
            tomorrow = datetime.now(here).date() + timedelta(days=1)
            opens = datetime.combine(tomorrow, time(hour, 0), tzinfo=here)
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                for entry in session.scalars(
                    select(RegistryEntry).where(RegistryEntry.status == "pending")
                ):
                    entry.next_attempt_at = opens
                session.commit()
            await expect(idle).to_have_attribute("data-reason", "outside_window", timeout=8000)
            await expect(idle).to_contain_text("вне окна звонков до")
            await expect(idle).to_contain_text(f"{hour:02d}:00 (Asia/Vladivostok)")


async def test_columns_are_mapped_with_drop_downs_and_remembered(db_url: str) -> None:
    """Issue #17 item 9: no JSON. The file's first rows with each column's meaning in a
    drop-down; a changed meaning is what the import uses; the next registry of the same
    layout comes with that mapping chosen."""
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    async with (
        _browser() as browser,
        running_service(db_url, campaign_scheduler="off") as service,
    ):
        _add_user(service, "orlova", Role.SUPERVISOR)
        cid = await _campaign(service, "Сопоставление")
        async with _page(browser, service, f"mapping-{backend}") as page:
            await page.context.add_cookies(
                [
                    {
                        "name": "callagent_session",
                        "value": await _cookie(service, "orlova"),
                        "url": service.base_url,
                    }
                ]
            )
            before = datetime.now(ZoneInfo("Europe/Moscow"))
            await page.goto(f"{service.base_url}/supervisor/campaigns/{cid}")
            await expect(page.locator("#mapping")).to_have_count(0)  # the JSON field is gone
            # the refresh stamp in the office's zone too (the browser runs in UTC)
            refreshed = page.locator("#refreshed")
            await expect(refreshed).to_contain_text("(Europe/Moscow)", timeout=8000)
            after = datetime.now(ZoneInfo("Europe/Moscow"))
            shown = await refreshed.text_content() or ""
            assert f"{before:%H:%M}" in shown or f"{after:%H:%M}" in shown, shown
            await expect(page.locator("#import")).to_be_disabled()
            await page.set_input_files("#file", str(SAMPLE))
            await expect(page.locator("#preview-summary")).to_contain_text(
                "Шапка таблицы — строка 2, строк под ней: 21"
            )
            meanings = page.locator("#preview-table select.meaning")
            await expect(meanings).to_have_count(8)
            detected = [await m.input_value() for m in await meanings.all()]
            assert detected == [
                "ignore",
                "name",
                "phones",
                "case_number",
                "service",
                "office",
                "ready_date",
                "note",
            ]
            await expect(page.locator("#preview-table thead")).to_contain_text("Примечание")
            rows = page.locator("#preview-table tbody tr")
            await expect(rows).to_have_count(5)
            await expect(rows.first).to_contain_text("Иванова Мария Петровна")
            await expect(page.locator("#meaning-7 option")).to_have_count(8)
            await page.locator("#upload").screenshot(
                path=str(ARTIFACTS / f"mapping-preview-{backend}.png")
            )
            # the notes are not for the applicants: leave them out
            await page.select_option("#meaning-7", "ignore")
            await expect(page.locator("#meaning-7")).to_have_class(re.compile("changed"))
            # one case number column only: said on the page, nothing sent
            await page.select_option("#meaning-0", "case_number")
            await page.click("#import")
            await expect(page.locator("#mapping-error")).to_contain_text("«Номер дела»")
            await page.select_option("#meaning-0", "ignore")
            await page.locator("#upload").screenshot(
                path=str(ARTIFACTS / f"mapping-changed-{backend}.png")
            )
            await page.click("#import")
            await expect(page.locator("#report-summary")).to_contain_text(
                "Строк: 21, к обзвону: 16, не звоним: 5"
            )
            await expect(page.locator("#preview")).to_be_hidden()
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                entries = session.scalars(
                    select(RegistryEntry).where(RegistryEntry.campaign_id == cid)
                ).all()
            assert len(entries) == 19
            assert {e.note for e in entries} == {""}  # the sample has notes: left out
            assert all(e.office and e.case_number for e in entries)  # the rest as detected
            imported = await service.client.get(f"/api/v1/campaigns/{cid}/registry/imports")
            import_id = imported.json()[0]["id"]

            # the next registry of the same layout (the XLSX): the mapping comes chosen
            await page.set_input_files("#file", str(SAMPLE_XLSX))
            await expect(page.locator("#preview-summary")).to_contain_text(
                f"как при загрузке №{import_id} («registry_sample.csv») с той же шапкой"
            )
            assert await page.locator("#meaning-7").input_value() == "ignore"
            assert await page.locator("#meaning-1").input_value() == "name"
            await expect(page.locator("#meaning-7")).to_have_class(re.compile("changed"))
            await page.locator("#upload").screenshot(
                path=str(ARTIFACTS / f"mapping-remembered-{backend}.png")
            )


CYRILLIC = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ]")


async def test_campaign_pages_in_ukrainian_and_english(db_url: str) -> None:
    """Issue #17 item 8: both pages in uk and en, every word and value (statuses, mode,
    attempt results, the idle reason, a refusal), the header with the user, the pages,
    the language switch (it keeps the page) and sign-out."""
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    async with (
        _browser() as browser,
        running_service(db_url, campaign_scheduler="off") as service,
    ):
        _add_user(service, "orlova", Role.SUPERVISOR)
        cid = await _campaign(service, "November")  # its name is data, not a word
        uploaded = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("registry_sample.csv", SAMPLE.read_bytes(), "text/csv")},
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        refused = ("status of 409", "status of 422")  # the pause and the file refused below
        async with _page(browser, service, f"lang-{backend}", refused) as page:
            await page.context.add_cookies(
                [
                    {
                        "name": "callagent_session",
                        "value": await _cookie(service, "orlova"),
                        "url": service.base_url,
                    }
                ]
            )
            # the list in English: the header, the columns, the values
            await page.goto(f"{service.base_url}/supervisor/campaigns?lang=en")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            main = page.locator("main")
            await expect(main).to_contain_text("New campaign")
            assert not CYRILLIC.search(await main.inner_text()), await main.inner_text()
            row = page.locator("#campaigns tbody tr").first
            await expect(row.locator(".status")).to_have_text("not started")  # draft
            # a supervisor's bar: their pages in English, none of the administrator's own
            await expect(page.locator("nav.pages a[href='/supervisor/live']")).to_have_text(
                "Wallboard"
            )
            await expect(page.locator("nav.pages a[href='/supervisor/reports']")).to_have_text(
                "Reports"
            )
            await expect(
                page.locator("nav.pages a[href='/supervisor/campaigns']")
            ).to_have_attribute("aria-current", "page")
            hrefs = [await a.get_attribute("href") for a in await page.locator("nav.pages a").all()]
            assert not {"/admin/users", "/admin/tokens", "/admin/webhooks"} & set(hrefs), hrefs
            await expect(page.locator(".who")).to_contain_text("Орлова Анна")
            await expect(page.locator("#sign-out")).to_have_text("Sign out")
            await expect(page.locator('button[data-lang="en"]')).to_have_attribute(
                "aria-pressed", "true"
            )
            await page.screenshot(path=str(ARTIFACTS / f"list-en-{backend}.png"), full_page=True)

            # the campaign in English, a refusal too (pausing a campaign not started)
            await page.goto(f"{service.base_url}/supervisor/campaigns/{cid}?lang=en")
            await expect(page.locator("#idle")).to_have_text(
                "The campaign has not been started: upload a registry and press Start."
            )
            await expect(page.locator("#imports tbody tr")).to_have_count(1)
            await page.click("#pause")
            await expect(page.locator("#action-result")).to_have_text(
                "the campaign is not started: only a running one can be paused"
            )
            assert not CYRILLIC.search(await main.inner_text()), await main.inner_text()

            # running, with attempts of three results: the values in English
            assert (await service.client.post(f"/api/v1/campaigns/{cid}/start")).status_code == 200
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                entries = session.scalars(
                    select(RegistryEntry).where(RegistryEntry.status == "pending").limit(3)
                ).all()
                for n, (entry, result) in enumerate(
                    zip(entries, ("answered_operator", "busy", "no_answer"), strict=True)
                ):
                    at = datetime.now(UTC)
                    session.add(
                        NotificationAttempt(
                            campaign_id=cid,
                            entry_id=entry.id,
                            phone=entry.phones[0],
                            action_id=f"lang-test-{n}",
                            started_at=at,
                            originated_at=at,
                            ended_at=at,
                            result=result,
                        )
                    )
                session.commit()
            status = page.locator("#status")
            await expect(status).to_have_attribute("data-status", "running", timeout=8000)
            await expect(status).to_have_text("running")
            answered = page.locator('#by-result tr[data-result="answered_operator"]')
            await expect(answered).to_contain_text("answered, put through to an operator")
            await expect(page.locator('#by-result tr[data-result="no_answer"]')).to_contain_text(
                "no answer"
            )
            pending = page.locator('#by-status tr[data-status="pending"]')
            await expect(pending).to_contain_text("waiting for a call")
            await expect(page.locator("#mode")).to_have_text("message")
            await expect(page.locator("#refreshed")).to_contain_text("refreshed")
            assert not CYRILLIC.search(await main.inner_text()), await main.inner_text()
            await page.screenshot(
                path=str(ARTIFACTS / f"progress-en-{backend}.png"), full_page=True
            )

            # the switch: Ukrainian, the same campaign's page, and saved for the next page
            await page.click('button[data-lang="uk"]')
            await page.wait_for_url(f"{service.base_url}/supervisor/campaigns/{cid}")
            await expect(page.locator("html")).to_have_attribute("lang", "uk")
            await expect(page.locator("#name")).to_have_text("November")
            await expect(status).to_have_text("триває")
            await expect(answered).to_contain_text("відповів, з'єднано з оператором")
            await expect(page.locator('#by-result tr[data-result="busy"]')).to_contain_text(
                "зайнято"
            )
            await expect(pending).to_contain_text("чекають на дзвінок")
            await expect(page.locator("#mode")).to_have_text("повідомлення")
            await expect(main).to_contain_text("Хід обдзвону")
            await expect(main).to_contain_text("Завантажити реєстр")
            await expect(page.locator("#refreshed")).to_contain_text("оновлено", timeout=8000)
            await expect(page.locator("nav.pages a[href='/supervisor/reports']")).to_have_text(
                "Звіти"
            )
            await expect(page.locator("nav.pages a[href='/supervisor/live']")).to_have_text("Табло")
            await expect(page.locator("#sign-out")).to_have_text("Вийти з системи")
            # a file refused: said in Ukrainian, not in the API's English
            empty = {"name": "порожній.csv", "mimeType": "text/csv", "buffer": b""}
            await page.set_input_files("#file", files=[empty])
            await expect(page.locator("#report .error")).to_have_text(
                "порожній.csv: файл порожній: вивантажте реєстр із таблиці ще раз (CSV або XLSX)"
            )
            await page.screenshot(
                path=str(ARTIFACTS / f"progress-uk-{backend}.png"), full_page=True
            )
            await page.goto(f"{service.base_url}/supervisor/campaigns")
            await expect(page.locator("h1")).to_have_text(
                "Кампанії оповіщення про готовність документів"
            )
            await expect(page.locator("#campaigns .status")).to_have_text("триває")
            # sign-out from the header
            await page.click("#sign-out")
            await page.wait_for_url(re.compile(r"/operator/login"))
            again = await page.request.get(
                f"{service.base_url}/supervisor/campaigns",
                headers={"Accept": "text/html"},
                max_redirects=0,
            )
            assert again.status == 303
