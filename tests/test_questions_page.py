"""The register of non-standard questions (``/questions``, issue #17) in headless Chromium,
on SQLite and PostgreSQL: an operator registers and escalates a question, a supervisor
assigns and answers it, the operator informs the applicant; overdue questions; the page
in Ukrainian and English; a refusal said in the page's language. And the assignment over
HTTP (who may assign, to whom, audited) and migration 0014 on both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import AuditEntry
from callagent.db.session import alembic_config
from callagent.db.wrapup_models import Question
from callagent.web.i18n import STRINGS
from tests.conftest import RunningService, make_token, running_service, wait_for
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "questions-password"
SHOTS = ARTIFACTS.parent / "questions-page"
CYRILLIC = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ]")
RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")
LATIN = re.compile(r"[A-Za-z]")
APPLICANT = "79161112233"


def backend(db_url: str) -> str:
    return "postgres" if db_url.startswith("postgresql") else "sqlite"


def add_user(
    service: RunningService,
    login: str,
    role: Role,
    full_name: str,
    *,
    language: str = "ru",
    group: str = "",
) -> int:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        user = create_user(
            session,
            login=login,
            role=role,
            password=PASSWORD,
            full_name=full_name,
            endpoints=["PJSIP/op1001"] if role == Role.OPERATOR else [],
            language=language,
            group=group,
        )
        session.commit()
        return user.id


def question(service: RunningService, question_id: int) -> Question:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        found = session.get(Question, question_id)
        assert found is not None
        session.expunge(found)
        return found


async def log_in(page: Page, service: RunningService, login: str, lang: str = "") -> None:
    """Open /questions, log in on the login page it leads to, wait for the register."""
    suffix = f"?lang={lang}" if lang else ""
    await page.goto(f"{service.base_url}/questions{suffix}")
    await page.wait_for_url(re.compile(r"/operator/login\?next=/questions"))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(re.compile(r"/questions(\?.*)?$"))
    if lang:
        await page.goto(f"{service.base_url}/questions?lang={lang}")
    await expect(page.locator("#shown")).not_to_have_text(re.compile("Загрузка|Завантаження"))


def row(page: Page, question_id: int) -> Any:
    return page.locator(f'#register tbody tr[data-id="{question_id}"]')


async def register_through_api(
    service: RunningService, token: str, text: str, **fields: Any
) -> dict[str, Any]:
    response = await service.client.post(
        "/api/v1/questions",
        json={"text": text, **fields},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_operator_registers_supervisor_assigns_and_answers_operator_informs(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        operator_id = add_user(service, "ivanova", Role.OPERATOR, "Иванова Мария")
        supervisor_id = add_user(service, "orlova", Role.SUPERVISOR, "Орлова Ольга")
        add_user(service, "petrov", Role.OPERATOR, "Петров Павел")
        name = f"workflow-{backend(db_url)}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        async with page_of(browser, f"{name}-operator") as op:
            await log_in(op, service, "ivanova")
            await expect(op.locator("h1")).to_have_text("Нестандартные вопросы")
            await expect(op.locator("nav.pages a[aria-current='page']")).to_have_attribute(
                "href", "/questions"
            )
            await expect(op.locator("#shown")).to_have_text("Вопросов с такими условиями нет.")
            await op.click("#new-question")
            await op.fill("#n-text", "Можно ли подать заявление за родственника?")
            await op.fill("#n-name", "Петров Пётр")
            await op.fill("#n-phone", APPLICANT)
            await op.click("#n-submit")
            first = op.locator("#register tbody tr").first
            await expect(first.locator(".pill")).to_have_text("открыт")
            question_id = int(await first.get_attribute("data-id") or 0)
            await expect(op.locator("#detail-title")).to_have_text(f"Вопрос № {question_id}")
            await expect(op.locator("#d-phone")).to_have_text("+7 916 111-22-33")
            await expect(op.locator("#d-history li")).to_have_count(1)
            await expect(op.locator("#d-history li")).to_contain_text(
                "Зарегистрирован: Иванова Мария"
            )
            # an operator neither assigns nor is shown a form to do it
            await expect(op.locator("#assign-form")).to_have_count(0)
            await op.click("#d-actions button[data-to='escalated']")
            await expect(row(op, question_id).locator(".pill")).to_have_text("у руководителя")
            await expect(op.locator("#answer-form")).to_be_hidden()  # escalated: not theirs
            stored = question(service, question_id)
            assert (stored.status, stored.operator_id) == ("escalated", operator_id)
            assert stored.applicant_phone == APPLICANT

            async with page_of(browser, f"{name}-supervisor") as sv:
                await log_in(sv, service, "orlova")
                await sv.select_option("#f-status", "escalated")
                await expect(sv.locator("#register tbody tr")).to_have_count(1)
                target = row(sv, question_id)
                await expect(target.locator(".pill")).to_have_text("у руководителя")
                await expect(target).to_contain_text("+7 916 111-22-33")  # calls:read_pii
                await expect(target).to_contain_text("Иванова Мария")
                await target.click()
                await sv.select_option("#assignee", str(operator_id))
                await sv.click("#assign-submit")
                await expect(sv.locator("#d-assignee")).to_have_text("Иванова Мария")
                await expect(sv.locator("#d-history")).to_contain_text(
                    "Назначен исполнитель: Иванова Мария (назначил: Орлова Ольга)"
                )
                await sv.fill("#a-text", "Да, по нотариальной доверенности.")
                await sv.select_option("#a-source", "regulation")
                await sv.fill("#a-ref", "п. 4.2")
                await sv.click("#a-submit")
                await expect(sv.locator("#d-status .pill")).to_have_text("есть ответ")
                await expect(sv.locator("#d-source")).to_have_text(
                    "Источник ответа: регламент · п. 4.2"
                )
                await sv.screenshot(path=str(SHOTS / f"{name}-supervisor.png"), full_page=True)
            stored = question(service, question_id)
            assert (stored.status, stored.answered_by, stored.assignee_id) == (
                "answered",
                supervisor_id,
                operator_id,
            )
            assert (stored.answer_source_kind, stored.answer_source_ref) == ("regulation", "п. 4.2")
            with service.app.state.sessions() as session:  # type: ignore[attr-defined]
                audited = session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "questions.assign")
                ).all()
            assert [(a.actor, a.detail) for a in audited] == [
                ("user:orlova", {"question_id": question_id, "assignee_id": operator_id})
            ]

            # the operator: theirs (registered and assigned), answered, to inform
            await op.goto(f"{service.base_url}/questions?whose=mine")
            await expect(row(op, question_id).locator(".pill")).to_have_text("есть ответ")
            await expect(row(op, question_id).locator("[data-field=assignee]")).to_have_text(
                "Иванова Мария"
            )
            await row(op, question_id).click()
            await expect(op.locator("#d-answer")).to_have_text("Да, по нотариальной доверенности.")
            await op.click("#d-actions button[data-to='informed']")
            await expect(op.locator("#d-status .pill")).to_have_text("заявитель получил ответ")
            await expect(op.locator("#d-history li")).to_have_count(5)
            await op.screenshot(path=str(SHOTS / f"{name}-operator.png"), full_page=True)
            assert question(service, question_id).status == "informed"

        # another operator sees the answered question (the knowledge base), masked
        async with page_of(browser, f"{name}-other") as other:
            await log_in(other, service, "petrov")
            await expect(row(other, question_id)).to_contain_text("+7 916 ***-**-33")
            await expect(row(other, question_id)).not_to_contain_text("111-22")
            await expect(row(other, question_id)).not_to_contain_text("Петров Пётр")
            await row(other, question_id).click()
            await expect(other.locator("#d-actions button[data-to='closed']")).to_be_visible()


async def test_overdue_questions_are_marked_counted_and_filtered(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "orlova", Role.SUPERVISOR, "Орлова Ольга")
        token = make_token(service.app, frozenset({Scope.QUESTIONS_WRITE}), "desk")
        zone = ZoneInfo(service.settings.timezone)
        past = datetime.now(UTC) - timedelta(hours=2)
        tomorrow = (datetime.now(zone) + timedelta(days=1)).replace(
            hour=9, minute=30, second=0, microsecond=0
        )
        late = await register_through_api(
            service, token, "Просроченный вопрос", preferred_time=past.isoformat()
        )
        soon = await register_through_api(
            service, token, "Вопрос на завтра", preferred_time=tomorrow.isoformat()
        )
        # answered and informed after its time: no longer overdue
        done = await register_through_api(
            service, token, "Уже ответили", preferred_time=past.isoformat()
        )
        for body in (
            {"status": "answered", "answer": "Ответ", "answer_source_kind": "website"},
            {"status": "informed"},
        ):
            response = await service.client.patch(f"/api/v1/questions/{done['id']}", json=body)
            assert response.status_code == 200, response.text
        async with page_of(browser, f"overdue-{backend(db_url)}") as page:
            await log_in(page, service, "orlova")
            await expect(page.locator("#overdue-count")).to_have_text("Просрочено: 1")
            # soonest due first
            ids = await page.locator("#register tbody tr").evaluate_all(
                "rows => rows.map(r => Number(r.dataset.id))"
            )
            assert ids == [done["id"], late["id"], soon["id"]]
            await expect(row(page, late["id"])).to_have_attribute("data-overdue", "1")
            await expect(row(page, late["id"]).locator(".mark-overdue")).to_have_text("просрочен")
            await expect(row(page, soon["id"])).to_have_attribute("data-overdue", "0")
            await expect(row(page, done["id"])).to_have_attribute("data-overdue", "0")
            # times in the office's zone: tomorrow 09:30 there, whatever the browser's zone
            shown = tomorrow.strftime("%d.%m.%Y, 09:30")
            await expect(row(page, soon["id"]).locator("td").nth(1)).to_have_text(shown)
            await page.select_option("#f-due", "overdue")
            await expect(page.locator("#register tbody tr")).to_have_count(1)
            await expect(row(page, late["id"])).to_be_visible()
            assert "due=overdue" in page.url  # kept for a reload
            await page.screenshot(path=str(SHOTS / f"overdue-{backend(db_url)}.png"))
            await page.select_option("#f-due", "today")
            await expect(page.locator("#register tbody tr")).to_have_count(1)
            await page.select_option("#f-due", "")
            await page.fill("#f-q", "завтра")
            await page.press("#f-q", "Enter")
            await expect(page.locator("#register tbody tr")).to_have_count(1)
            await expect(row(page, soon["id"])).to_be_visible()


async def test_ukrainian_and_english_pages_and_a_refusal_in_the_pages_language(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        operator_id = add_user(service, "shevchenko", Role.OPERATOR, "Taras S", language="uk")
        add_user(service, "smith", Role.SUPERVISOR, "Anna Smith", language="en")
        token = make_token(service.app, frozenset({Scope.QUESTIONS_WRITE}), "desk")
        other = await register_through_api(service, token, "Passport for a child?")
        with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            registered = session.get(Question, other["id"])
            assert registered is not None
            registered.operator_id = operator_id  # the operator's own, registered earlier
        for body in (
            {"status": "escalated"},
            {"status": "answered", "answer": "Yes, both parents.", "answer_source_kind": "website"},
        ):
            response = await service.client.patch(f"/api/v1/questions/{other['id']}", json=body)
            assert response.status_code == 200, response.text
        uk = STRINGS["uk"]
        async with page_of(browser, f"uk-{backend(db_url)}") as page:
            await log_in(page, service, "shevchenko")
            await expect(page.locator("h1")).to_have_text("Нестандартні питання")
            await page.click("#new-question")
            await page.fill("#n-text", "Чи можна подати заяву за родича?")
            await page.fill("#n-phone", APPLICANT)
            await page.click("#n-submit")
            await expect(page.locator("#d-status .pill")).to_have_text("відкрите")
            own_id = int((await page.locator("#detail-title").inner_text()).split()[-1])
            assert question(service, own_id).operator_id == operator_id
            await expect(page.locator("#answer-form")).to_be_visible()  # their own, open
            # meanwhile it is escalated (another tab, a colleague): answering it now
            # needs questions:answer; the page says so in Ukrainian
            response = await service.client.patch(
                f"/api/v1/questions/{own_id}", json={"status": "escalated"}
            )
            assert response.status_code == 200
            await page.fill("#a-text", "Так, за довіреністю.")
            await page.click("#a-submit")
            await expect(page.locator("#detail-error")).to_have_text(
                uk["error_question_answer_scope"]
            )
            assert question(service, own_id).status == "escalated"
            # a transition the service refuses names both statuses in Ukrainian
            await row(page, other["id"]).click()
            await expect(page.locator("#d-status .pill")).to_have_text("є відповідь")
            response = await service.client.patch(
                f"/api/v1/questions/{other['id']}", json={"status": "closed"}
            )
            assert response.status_code == 200
            await page.click("#d-actions button[data-to='informed']")
            await expect(page.locator("#detail-error")).to_have_text(
                "питання зі статусом «закрите» не можна перевести в «заявник отримав відповідь»"
            )
            await page.click("#detail-hide")
            await page.reload()
            await expect(row(page, own_id).locator(".pill")).to_have_text("у керівника")
            # the page's own words and values: no Russian letters, no English
            main = await page.locator("main").inner_text()
            assert not RUSSIAN_ONLY.search(main), main
            for part in ("#register thead", "#register tbody .pill", "#filters label"):
                for text in await page.locator(part).all_inner_texts():
                    assert not LATIN.search(text), (part, text)
            await page.screenshot(path=str(SHOTS / f"uk-{backend(db_url)}.png"), full_page=True)

        async with page_of(browser, f"en-{backend(db_url)}") as page:
            await log_in(page, service, "smith")
            await expect(page.locator("h1")).to_have_text("Non-standard questions")
            await expect(row(page, other["id"]).locator(".pill")).to_have_text("closed")
            await row(page, own_id).click()
            await expect(page.locator("#d-status .pill")).to_have_text("escalated")
            await expect(page.locator("#d-history")).to_contain_text("Registered by Taras S")
            await expect(page.locator("#d-channel")).to_have_text("call back")
            await page.fill("#a-text", "Yes, by a notarised power of attorney.")
            await page.click("#a-submit")
            await expect(page.locator("#d-status .pill")).to_have_text("answered")
            await expect(row(page, own_id).locator(".pill")).to_have_text("answered")
            # a supervisor's own answer: the source is the supervisor by default
            await expect(page.locator("#d-source")).to_have_text("Source of the answer: supervisor")
            main = await page.locator("main").inner_text()
            # the Ukrainian question's text is data; everything else is English
            assert not CYRILLIC.search(main.replace("Чи можна подати заяву за родича?", "")), main
            await page.screenshot(path=str(SHOTS / f"en-{backend(db_url)}.png"), full_page=True)


async def test_assignment_over_http_who_may_and_to_whom(db_url: str) -> None:
    async with running_service(db_url) as service:
        north_op = add_user(service, "north-op", Role.OPERATOR, "N", group="north")
        south_op = add_user(service, "south-op", Role.OPERATOR, "S", group="south")
        add_user(service, "north-sv", Role.SUPERVISOR, "NS", group="north")
        token = make_token(service.app, frozenset({Scope.QUESTIONS_WRITE}), "desk")
        created = await register_through_api(service, token, "Who?")
        # the desk token registered it: nobody's; give it to the north's operator
        with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            found = session.get(Question, created["id"])
            assert found is not None
            found.operator_id = north_op
        url = f"/api/v1/questions/{created['id']}"
        writer = {"Authorization": f"Bearer {token}"}
        refused = await service.client.patch(url, json={"assignee_id": north_op}, headers=writer)
        assert refused.status_code == 403
        assert refused.json()["code"] == "question_assign_scope"
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as sv:
            login = await sv.post(
                "/api/v1/auth/login", json={"login": "north-sv", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            headers = {"X-CSRF-Token": login.json()["csrf_token"]}
            outside = await sv.patch(url, json={"assignee_id": south_op}, headers=headers)
            assert outside.status_code == 403 and outside.json()["code"] == "question_not_yours"
            unknown = await sv.patch(url, json={"assignee_id": 999_999}, headers=headers)
            assert unknown.status_code == 422
            assert unknown.json()["code"] == "question_assignee_unknown"
            given = await sv.patch(url, json={"assignee_id": north_op}, headers=headers)
            assert given.status_code == 200, given.text
            assert given.json()["assignee_id"] == north_op
            again = await sv.patch(url, json={"assignee_id": north_op}, headers=headers)
            assert again.status_code == 200  # no change: not audited twice
            cleared = await sv.patch(url, json={"assignee_id": None}, headers=headers)
            assert cleared.json()["assignee_id"] is None
            mine = await sv.get("/api/v1/questions?mine=true")
            assert mine.json()["total"] == 0
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            details = [
                a.detail
                for a in session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "questions.assign")
                    .order_by(AuditEntry.id)
                )
            ]
        assert details == [
            {"question_id": created["id"], "assignee_id": north_op},
            {"question_id": created["id"], "assignee_id": None},
        ]


async def test_migration_0014_adds_the_assignee_and_goes_back(db_url: str) -> None:
    """Down to 0013 and up again: the columns go and come back, questions kept."""
    config = alembic_config(db_url)
    engine = sa.create_engine(db_url)
    try:
        command.downgrade(config, "0013")
        assert "assignee_id" not in {c["name"] for c in sa.inspect(engine).get_columns("questions")}
        command.upgrade(config, "head")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("questions")}
        assert {"assignee_id", "assigned_at", "assigned_by"} <= columns
        foreign = {
            tuple(f["constrained_columns"]): f["referred_table"]
            for f in sa.inspect(engine).get_foreign_keys("questions")
        }
        assert foreign[("assignee_id",)] == "users" and foreign[("assigned_by",)] == "users"
    finally:
        engine.dispose()


async def test_call_back_from_the_page_rings_the_operators_phone_first(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        operator_id = add_user(service, "ivanova", Role.OPERATOR, "Иванова Мария")
        token = make_token(service.app, frozenset({Scope.QUESTIONS_WRITE}), "desk")
        created = await register_through_api(
            service, token, "Нужна ли доверенность?", contact="8 916 123-45-67"
        )
        with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            found = session.get(Question, created["id"])
            assert found is not None
            found.operator_id = operator_id
        for body in (
            {"status": "escalated"},
            {"status": "answered", "answer": "Да, нотариальная.", "answer_source_kind": "website"},
        ):
            response = await service.client.patch(f"/api/v1/questions/{created['id']}", json=body)
            assert response.status_code == 200, response.text
        async with page_of(browser, f"callback-{backend(db_url)}") as page:
            await log_in(page, service, "ivanova")
            await row(page, created["id"]).click()
            await expect(page.locator("#d-contact")).to_have_text("+7 916 123-45-67")
            await page.click("#call-back")
            await expect(page.locator("#detail-note")).to_have_text(STRINGS["ru"]["qst_calling"])
            await expect(page.locator("#d-history")).to_contain_text(
                "Звонок заявителю: Иванова Мария"
            )
        (action,) = [a for a in service.pbx.actions if a.action == "Originate"]
        assert action["Channel"] == "PJSIP/op1001" and action["Exten"] == "89161234567"
        stored = question(service, created["id"])
        assert stored.callback_by == operator_id and stored.callback_call_id is not None
