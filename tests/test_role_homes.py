"""One web app (issue #17): each role signs in at ``/`` on the one login page, lands on
its home, and every page's bar lists exactly the pages that role may open — each of
which opens for it, while a page outside the bar is refused. The homes' screenshots
are the README's (``docs/home-*.png``, copied from ``artifacts/operator-page/``)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.routing.states import Signal
from tests.conftest import running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_reports_page import PASSWORD, today_traffic

pytestmark = pytest.mark.asyncio(loop_scope="module")

OPERATOR_PAGES = ["/operator", "/calls", "/questions", "/complaints", "/quality"]
SUPERVISOR_PAGES = [
    "/supervisor/live",
    "/supervisor/reports",
    "/supervisor/planning",
    "/supervisor/campaigns",
    *OPERATOR_PAGES,
    "/supervisor/callbacks",
    "/admin/do-not-call",
]
ADMIN_PAGES = [  # every page, in the bar's order
    *SUPERVISOR_PAGES[:-1],
    "/admin/users",
    "/admin/tokens",
    "/admin/webhooks",
    "/admin/do-not-call",
]
ROLES = {
    # login, role, where the login leads, the bar's pages in order
    "operator": ("op1001", Role.OPERATOR, "/operator", OPERATOR_PAGES),
    "supervisor": ("orlova", Role.SUPERVISOR, "/supervisor/live", SUPERVISOR_PAGES),
    "admin": ("root", Role.ADMIN, "/supervisor/live", ADMIN_PAGES),
}


@pytest.mark.parametrize("who", list(ROLES))
async def test_each_role_signs_in_at_the_root_and_sees_its_pages(
    db_url: str,
    browser: Browser,  # noqa: F811
    who: str,
) -> None:
    login, role, home, pages = ROLES[who]
    async with running_service(db_url) as service:
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            operators = [
                create_user(
                    db,
                    login=name,
                    role=Role.OPERATOR,
                    password=PASSWORD if name == login else None,
                    full_name=full_name,
                    endpoints=[f"PJSIP/{name}"],
                    group="справки",
                )
                for name, full_name in (("op1001", "Иванова Мария"), ("op1002", "Петров Пётр"))
            ]
            if role != Role.OPERATOR:
                create_user(
                    db,
                    login=login,
                    role=role,
                    password=PASSWORD,
                    full_name="Орлова Анна" if role == Role.SUPERVISOR else "Соколов Игорь",
                )
            db.flush()
            ids = [user.id for user in operators]
        await today_traffic(service)  # the wallboard and the lists have something to show
        book = service.app.state.book  # type: ignore[attr-defined]
        for user_id in ids:
            book.signal(user_id, Signal.LOGIN, cause="test")
        book.signal(ids[1], Signal.PAUSE, cause="test", reason="lunch")
        kind = "postgres" if db_url.startswith("postgresql") else "sqlite"
        async with page_of(browser, f"homes-{who}-{kind}") as page:
            await page.goto(f"{service.base_url}/")
            await expect(page.locator("h1")).to_have_text("Вход в callagent")
            await page.fill("#login", login)
            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.wait_for_url(f"{service.base_url}{home}")
            bar = page.locator("nav.pages a")
            hrefs = [await a.get_attribute("href") for a in await bar.all()]
            assert hrefs == pages
            await expect(page.locator(f'nav.pages a[href="{home}"]')).to_have_attribute(
                "aria-current", "page"
            )
            await page.screenshot(path=str(ARTIFACTS / f"home-{who}-{kind}.png"))
            for path in pages:  # every page in the bar opens, with the same bar
                response = await page.goto(f"{service.base_url}{path}")
                assert response is not None and response.status == 200, path
                again = [await a.get_attribute("href") for a in await bar.all()]
                assert again == pages, path
            for path in sorted(set(ADMIN_PAGES) - set(pages)):  # the others are refused
                response = await page.goto(f"{service.base_url}{path}")
                assert response is not None and response.status == 403, path
                # a page that says so in the user's language, with their own bar
                await expect(page.locator("h1")).to_have_text("Нет доступа")
                again = [await a.get_attribute("href") for a in await bar.all()]
                assert again == pages, path
