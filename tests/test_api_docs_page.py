"""/docs and /redoc on a network without internet (issue #17 point 7), in headless Chromium.

Every request the browser makes to anywhere but the service is refused (a route that
aborts it), as on an office intranet; the pages must still show the API's operations.
The pages do not touch the database, so SQLite alone serves them. Screenshots go to
``artifacts/api-docs/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from callagent.db.session import upgrade
from tests.conftest import running_service
from tests.test_operator_page import CHROMIUM, require_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "api-docs"
# hard-coded in ReDoc 2's sidebar; no option turns it off
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
RENDER_TIMEOUT_MS = 60_000
INTRANET = "callagent.intranet.test"  # a name that is not localhost, as an office's host


@contextlib.asynccontextmanager
async def _chromium() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # the intranet name is this machine: nothing leaves 127.0.0.1 through it
            args=[f"--host-resolver-rules=MAP {INTRANET} 127.0.0.1"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def _offline_page(browser: Browser, origin: str, name: str) -> AsyncIterator[Page]:
    """A page whose requests to anywhere but ``origin`` are aborted; on leaving, asserts
    that none was made and that the page logged no error (a CSP refusal is one)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    blocked: list[str] = []
    errors: list[str] = []
    served = urlsplit(origin).netloc

    async def only_the_service(route: Route) -> None:
        if urlsplit(route.request.url).netloc == served:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_the_service)
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield page
        assert blocked == []  # nothing reached the network but for the service
        # data: and blob: URLs are the page's own; ReDoc's sidebar logo is the only
        # other, and the page's CSP refuses it inside the browser (it hides on error)
        elsewhere = [u for u in requested if not u.startswith((origin, "data:", "blob:"))]
        assert set(elsewhere) <= {REDOCLY_LOGO}
        refused = [e for e in errors if REDOCLY_LOGO in e and "Content Security Policy" in e]
        assert len(refused) == len(elsewhere)
        assert [e for e in errors if e not in refused] == []
        assert any(u.endswith(".js") for u in requested)  # the bundle came from us
    finally:
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        await context.close()


async def test_docs_and_redoc_render_with_no_internet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'callagent.db'}"
    upgrade(url)
    async with running_service(url) as service, _chromium() as browser:
        port = urlsplit(service.base_url).port
        for origin in (service.base_url, f"http://{INTRANET}:{port}"):
            host = urlsplit(origin).hostname
            async with _offline_page(browser, origin, f"docs-{host}") as page:
                await page.goto(f"{origin}/docs")
                operations = page.locator(".opblock-summary-path")
                one_call = page.locator(
                    '.opblock-summary-path[data-path="/api/v1/calls/{call_id}"]'
                )
                # the bundles draw the whole API (70+ operations) in seconds, more on a
                # busy CI machine: expect's own 5 s is not the page's measure
                await expect(one_call).to_be_visible(timeout=RENDER_TIMEOUT_MS)
                assert await operations.count() > 40  # the whole API, not a stub
                await expect(page.locator(".btn.authorize")).to_be_visible()
            async with _offline_page(browser, origin, f"redoc-{host}") as page:
                await page.goto(f"{origin}/redoc")
                # an operation, drawn by the bundle
                heading = page.locator("h2", has_text="The process is alive")
                await expect(heading).to_be_visible(timeout=RENDER_TIMEOUT_MS)
                assert await page.locator("h2").count() > 40


async def test_assets_come_from_the_installed_package(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'callagent.db'}"
    upgrade(url)
    async with running_service(url) as service:
        client = httpx.AsyncClient(base_url=service.base_url)
        async with client:
            for path in ("/docs", "/redoc"):
                page = await client.get(path)
                assert page.status_code == 200
                assert "cdn." not in page.text and "fonts.googleapis" not in page.text
                assert "default-src 'self'" in page.headers["content-security-policy"]
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
                served = await client.get(f"/static/api-docs/{asset}")
                assert served.status_code == 200, asset
                assert len(served.content) > 100_000  # the real bundle
            assert (await client.get("/static/operator.js")).status_code == 200  # still ours
        schema = (await service.client.get("/openapi.json")).json()
        assert "/docs" not in schema["paths"] and "/redoc" not in schema["paths"]
