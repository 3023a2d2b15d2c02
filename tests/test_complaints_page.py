"""The complaints register's page (``/complaints``, issue #13) in headless Chromium on
SQLite and PostgreSQL: a supervisor registers a complaint and takes it registered ->
in_work -> decided -> answered -> closed, the overdue one is marked, the history grows; the
page in Ukrainian has no English word and says a refusal in Ukrainian."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from callagent.auth.scopes import Role
from callagent.complaints.models import Complaint
from callagent.web.i18n import STRINGS
from tests.conftest import RunningService, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_questions_page import add_user, backend

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "questions-password"  # tests.test_questions_page.add_user's
SHOTS = ARTIFACTS.parent / "complaints-page"
LATIN = re.compile(r"[A-Za-z]")
RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")


async def log_in(page: Page, service: RunningService, login: str) -> None:
    """Open /complaints, log in on the login page it leads to, wait for the register."""
    await page.goto(f"{service.base_url}/complaints")
    await page.wait_for_url(re.compile(r"/operator/login\?next=/complaints"))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(re.compile(r"/complaints(\?.*)?$"))
    # the first load reads the register three times over: slow on a busy 2-core machine
    await expect(page.locator("#shown")).not_to_have_text(
        re.compile("Загрузка|Завантаження"), timeout=20_000
    )


def row(page: Page, complaint_id: int) -> Any:
    return page.locator(f'#register tbody tr[data-id="{complaint_id}"]')


async def overdue_complaint(service: RunningService) -> int:
    """A complaint registered 40 days ago, still undecided."""
    made = await service.client.post(
        "/api/v1/complaints",
        json={"subject": "Не перезвонили", "cause": "deadline_missed", "office": "МФЦ-2"},
    )
    assert made.status_code == 201, made.text
    now = datetime.now(UTC)
    with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        session.execute(
            update(Complaint)
            .where(Complaint.id == made.json()["id"])
            .values(registered_at=now - timedelta(days=40), deadline_at=now - timedelta(days=10))
        )
    return int(made.json()["id"])


async def test_register_take_decide_answer_close_and_overdue_marked(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "orlova", Role.SUPERVISOR, "Орлова Ольга")
        late = await overdue_complaint(service)
        SHOTS.mkdir(parents=True, exist_ok=True)
        async with page_of(browser, f"complaints-{backend(db_url)}") as page:
            await log_in(page, service, "orlova")
            await expect(page.locator("h1")).to_have_text("Жалобы и претензии")
            await expect(page.locator("nav.pages a[aria-current='page']")).to_have_attribute(
                "href", "/complaints"
            )
            await expect(page.locator("#overdue-count")).to_have_text("Просрочено: 1")
            await expect(row(page, late)).to_have_attribute("data-overdue", "1")
            await expect(row(page, late).locator(".mark-overdue")).to_have_text("просрочена")
            await page.click("#new-complaint")
            await page.fill("#n-subject", "Оператор не представился")
            await page.select_option("#n-cause", "staff")
            await page.fill("#n-office", "Контакт-центр")
            await page.fill("#n-name", "Сидоров Пётр")
            await page.fill("#n-phone", "+7 916 111-22-33")
            await page.click("#n-submit")
            pill = page.locator("#d-status .pill")
            await expect(pill).to_have_text("зарегистрирована")
            made = int((await page.locator("#detail-title").inner_text()).split()[-1])
            await expect(row(page, made)).to_have_attribute("data-overdue", "0")
            await expect(page.locator("#d-cause")).to_have_text("работа сотрудников")
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                registered = session.get(Complaint, made)
                assert registered is not None
                deadline = registered.deadline_at
            # the deadline is the next midnight after the last day: shown as that day
            zone = ZoneInfo(service.settings.timezone)
            last = (deadline - timedelta(seconds=1)).astimezone(zone).strftime("%d.%m.%Y")
            await expect(page.locator("#d-deadline")).to_have_text(f"по {last} включительно")
            # an empty decision is refused in Russian and changes nothing
            await page.click("#d-actions button[data-to='in_work']")
            await expect(pill).to_have_text("в работе")
            await expect(page.locator("#d-owner")).to_have_text("Орлова Ольга")
            await page.click("#c-decide")
            await expect(page.locator("#detail-error")).to_have_text(
                STRINGS["ru"]["error_complaint_decision_needed"]
            )
            await expect(pill).to_have_text("в работе")
            await page.fill("#c-decision", "Провести беседу с оператором")
            await page.click("#c-decide")
            await expect(pill).to_have_text("решение принято")
            await page.fill("#c-answer", "Приносим извинения, меры приняты")
            await page.select_option("#c-answer-channel", "letter")
            await page.click("#c-answer-save")
            await expect(pill).to_have_text("ответ дан")
            await expect(page.locator("#d-answered")).to_contain_text("письмо")
            await page.click("#d-actions button[data-to='closed']")
            await expect(pill).to_have_text("закрыта")
            history = page.locator("#d-history li")
            await expect(history).to_have_count(5)
            await expect(history.nth(4)).to_contain_text("«ответ дан» → «закрыта»")
            await expect(row(page, made).locator(".pill")).to_have_text("закрыта")
            await expect(page.locator("#causes-table tbody tr")).to_have_count(1)
            await expect(page.locator("#causes-table tbody")).to_contain_text("работа сотрудников")
            await page.screenshot(
                path=str(SHOTS / f"workflow-{backend(db_url)}.png"), full_page=True
            )
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            stored = session.get(Complaint, made)
            assert stored is not None and stored.status == "closed"
            assert stored.answer_channel == "letter" and stored.applicant_phone == "79161112233"


async def test_the_ukrainian_page_has_no_english_and_says_a_refusal(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "shevchenko", Role.SUPERVISOR, "Шевченко Тарас", language="uk")
        late = await overdue_complaint(service)
        async with page_of(browser, f"complaints-uk-{backend(db_url)}") as page:
            await log_in(page, service, "shevchenko")
            await expect(page.locator("h1")).to_have_text("Скарги та претензії")
            await row(page, late).click()
            await expect(page.locator("#d-status .pill")).to_have_text("зареєстрована")
            await expect(page.locator("#d-status .mark-overdue")).to_have_text("прострочена")
            # meanwhile a colleague decides it; rejecting it now is refused, both statuses
            # named in Ukrainian
            for body in ({"status": "in_work"}, {"status": "decided", "decision": "так"}):
                response = await service.client.patch(f"/api/v1/complaints/{late}", json=body)
                assert response.status_code == 200, response.text
            await page.fill("#c-note", "дубль")
            await page.click("#c-reject")
            await expect(page.locator("#detail-error")).to_have_text(
                "скаргу зі статусом «рішення ухвалено» не можна перевести в «відхилена»"
            )
            await page.reload()
            await expect(row(page, late).locator(".pill")).to_have_text("рішення ухвалено")
            await page.click("#new-complaint")  # its labels too
            main = await page.locator("main").inner_text()
            zone = service.settings.timezone
            assert not RUSSIAN_ONLY.search(main), main
            assert not LATIN.search(main.replace(zone, "")), LATIN.findall(main.replace(zone, ""))
            await page.screenshot(path=str(SHOTS / f"uk-{backend(db_url)}.png"), full_page=True)
