"""The reports page's quality and call-back parts (issue #13) in headless Chromium on SQLite
and PostgreSQL: the period's quality score per operator, team, criterion and day with
the trend drawn as SVG on the server and the most frequent errors, the same figures as
``GET /api/v1/quality/report``; a group's supervisor sees their group's only; the
call-backs' time from request to call-back as ``GET /api/v1/callbacks/kpi`` gives it (a
group's supervisor: their group's); the quality part's XLSX and CSV export (the page's
link, the API's figures, the group's only, audited); Ukrainian and English words."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from callagent.auth.scopes import ROLE_SCOPES, Role
from callagent.auth.service import Principal, create_user
from callagent.callbacks.models import CallbackTask
from callagent.db.models import AuditEntry, Call
from callagent.quality.scoring import Answer
from callagent.quality.service import evaluate
from tests.conftest import RunningService, running_service
from tests.test_callbacks_api import SETTINGS, seed
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_questions_page import backend

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "reports-quality-password"


def add_person(
    service: RunningService, login: str, role: Role, name: str, *, group: str = "", phone: str = ""
) -> int:
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        user = create_user(
            db,
            login=login,
            role=role,
            password=PASSWORD,
            full_name=name,
            endpoints=[phone] if phone else [],
            group=group,
        )
        db.flush()
        return user.id


def evaluated_call(
    service: RunningService, n: int, day: date, phone: str, evaluator: int, **given: str
) -> None:
    """An answered call at local noon of ``day`` on ``phone``, evaluated by ``evaluator``:
    every criterion yes and no critical error, but for ``given``."""
    zone = ZoneInfo(service.settings.timezone)
    started = datetime(day.year, day.month, day.day, 12, n, tzinfo=zone).astimezone(UTC)
    card = service.app.state.quality_scorecard  # type: ignore[attr-defined]
    answers = {c.id: Answer("yes") for c in card.criteria}
    answers |= {e.id: Answer("no") for e in card.critical_errors}
    answers |= {key: Answer(value) for key, value in given.items()}
    who = Principal(
        actor="user:qa",
        scopes=ROLE_SCOPES[Role.EVALUATOR],
        user_id=evaluator,
        role=Role.EVALUATOR,
    )
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        call = Call(
            node="pbx1",
            linkedid=f"rq-{n}",
            direction="inbound",
            applicant_number=f"7916000{n:04d}",
            started_at=started,
            answered_at=started + timedelta(seconds=5),
            ended_at=started + timedelta(minutes=3),
            talk_seconds=175.0,
            operator_endpoint=phone,
            disposition="answered",
            updated_at=started,
        )
        db.add(call)
        db.flush()
        evaluate(db, card=card, call=call, evaluator=who, answers=answers, comment="", now=started)


async def log_in(page: Page, service: RunningService, login: str, query: str) -> None:
    await page.goto(f"{service.base_url}/supervisor/reports")
    await page.wait_for_url(re.compile(r"/operator/login\?next="))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{service.base_url}/supervisor/reports")
    await page.goto(f"{service.base_url}/supervisor/reports?{query}")


async def test_quality_and_call_backs_in_the_reports_page(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        zone = ZoneInfo(service.settings.timezone)
        today = datetime.now(zone).date()
        first, second = today - timedelta(days=2), today - timedelta(days=1)
        add_person(service, "ivanova", Role.OPERATOR, "Иванова Мария", group="north",
                   phone="PJSIP/op1001")  # fmt: skip
        sidorov = add_person(service, "sidorov", Role.OPERATOR, "Сидоров Иван", group="south",
                             phone="PJSIP/op1002")  # fmt: skip
        qa = add_person(service, "petrov", Role.EVALUATOR, "Петров Пётр")
        add_person(service, "orlova", Role.SUPERVISOR, "Орлова Ольга")
        add_person(service, "kozlova", Role.SUPERVISOR, "Козлова Анна", group="north")
        evaluated_call(service, 1, first, "PJSIP/op1001", qa)  # 100
        evaluated_call(service, 2, second, "PJSIP/op1001", qa, correct_information="partial")
        evaluated_call(service, 3, second, "PJSIP/op1002", qa, greeting="no")  # 90
        tasks = seed(service)  # call-backs requested today: 5, one reached after 300 s
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            failed = db.get(CallbackTask, tasks["failed"])
            assert failed is not None
            failed.last_operator_id = sidorov  # the south called: not the north's
        query = f"from={first.isoformat()}&to={today.isoformat()}"
        api = (await service.client.get(f"/api/v1/quality/report?{query}&by=day")).json()
        kpi = (await service.client.get(f"/api/v1/callbacks/kpi?{query}")).json()
        assert [row["average"] for row in api["trend"]] == [100.0, 87.5]
        assert (kpi["requested"], kpi["reached"], kpi["median_seconds"]) == (5, 1, 300.0)

        async with page_of(browser, f"reports-quality-{backend(db_url)}") as page:
            await log_in(page, service, "orlova", query)
            section = page.locator("#quality-report")
            await expect(section.locator("h2")).to_have_text("Качество обслуживания")
            await expect(page.locator("#quality-summary")).to_have_text(
                "Оценок за период: 3, средняя оценка 91,67 %."
            )
            # the trend drawn on the server: a point per day with evaluations, and the
            # pass mark's line beside it
            average = page.locator("#chart-quality circle.point[r='5']")
            await expect(average).to_have_count(2)
            await expect(average.nth(0).locator("title")).to_have_text(
                f"{first.strftime('%d.%m.%Y')}: Средняя оценка 100 %"
            )
            await expect(average.nth(1).locator("title")).to_have_text(
                f"{second.strftime('%d.%m.%Y')}: Средняя оценка 88 %"
            )
            await expect(page.locator("#chart-quality")).to_contain_text("Проходной балл 80 %")
            trend = page.locator("#quality-trend tbody tr")
            await expect(trend).to_have_count(2)
            await expect(trend.nth(1)).to_contain_text("87,5 %")
            operators = page.locator("#quality-operators tbody")
            await expect(operators.locator("tr")).to_have_count(2)
            await expect(operators.locator("tr").nth(0)).to_contain_text("92,5 %")
            await expect(operators).to_contain_text("Сидоров Иван")
            await expect(page.locator("#quality-teams tbody")).to_contain_text("south")
            errors = page.locator("#quality-errors tbody tr")
            await expect(errors).to_have_count(2)
            await expect(page.locator("#quality-errors")).to_contain_text(
                "Полная и верная информация"
            )
            await expect(page.locator("#chart-quality-errors rect.bar")).to_have_count(2)
            criteria = page.locator("#quality-criteria tbody tr")
            await expect(criteria.first).to_contain_text("Приветствие по стандарту")
            await expect(criteria.first).to_contain_text("66,67 %")  # 10 + 10 + 0 of 30
            # the call-backs: the API's figures
            figures = page.locator("#callbacks-kpi")
            await expect(figures.locator('[data-figure="requested"]')).to_have_text("5")
            await expect(figures.locator('[data-figure="reached"]')).to_have_text("1")
            await expect(figures.locator('[data-figure="failed"]')).to_have_text("1")
            await expect(figures.locator('[data-figure="median"]')).to_have_text("5:00")
            # the quality part's tables as XLSX: the API's figures, titles in Russian
            href = await page.locator("#quality-export-xlsx").get_attribute("href")
            assert href == (
                f"/api/v1/quality/report/export?format=xlsx&from={first}&to={today}&by=day&lang=ru"
            )
            got = await page.request.get(service.base_url + href)
            assert got.ok, await got.text()
            book = openpyxl.load_workbook(io.BytesIO(await got.body()), read_only=True)
            assert book.sheetnames == [
                "По операторам", "По группам", "Тренд", "По критериям", "Частые ошибки"
            ]  # fmt: skip
            rows = list(book["По операторам"].values)
            assert rows[1] == ("Оператор", "Оценок", "Средняя оценка, %", "Критичных")
            assert rows[2:] == [
                *((o["name"], o["evaluations"], o["average"], o["critical"])
                  for o in api["operators"]),
                ("Итого", 3, api["average"], 0),
            ]  # fmt: skip
            trend = list(book["Тренд"].values)
            assert [row[2] for row in trend[2:]] == [100.0, 87.5, api["average"]]
            errors = list(book["Частые ошибки"].values)
            assert ("Полная и верная информация", "нет", 1) in errors
            await page.screenshot(
                path=str(ARTIFACTS / f"reports-quality-{backend(db_url)}.png"), full_page=True
            )
            await page.goto(f"{service.base_url}/supervisor/reports?{query}&lang=uk")
            await expect(section.locator("h2")).to_have_text("Якість обслуговування")
            await expect(page.locator("#chart-quality")).to_contain_text("Середня оцінка")
            await expect(page.locator("#callbacks-report h2")).to_have_text(
                "Зворотні дзвінки за заявками з сайту"
            )
            await page.goto(f"{service.base_url}/supervisor/reports?{query}&lang=en")
            await expect(page.locator("#quality-summary")).to_have_text(
                "Evaluations in the period: 3, average score 91.67 %."
            )
            # a day without evaluations: a sentence, no chart
            await page.goto(f"{service.base_url}/supervisor/reports?from={today}&lang=en")
            await expect(page.locator("#quality-none")).to_have_text(
                "No quality evaluations in the period."
            )
            await expect(page.locator("#chart-quality")).to_have_count(0)

        async with page_of(browser, f"reports-quality-group-{backend(db_url)}") as page:
            await log_in(page, service, "kozlova", query)  # north's supervisor
            # the call-backs: the north's and nobody's (the south's failed one left out)
            figures = page.locator("#callbacks-kpi")
            await expect(figures.locator('[data-figure="requested"]')).to_have_text("4")
            await expect(figures.locator('[data-figure="failed"]')).to_have_text("0")
            # the export: the group's evaluations only, as CSV with English titles
            href = await page.locator("#quality-export-csv").get_attribute("href")
            assert href is not None
            got = await page.request.get(service.base_url + href.replace("lang=ru", "lang=en"))
            assert got.ok, await got.text()
            text = (await got.body()).decode("utf-8-sig")
            assert "Operator;Evaluations;Average score, %;Critical" in text.splitlines()
            assert "Иванова Мария;2;92.5;0" in text and "Сидоров" not in text
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                exports = db.scalars(
                    select(AuditEntry).where(AuditEntry.action == "quality.report_export")
                ).all()
                assert [(e.actor, e.detail["format"], e.rows) for e in exports] == [
                    ("user:orlova", "xlsx", 3),
                    ("user:kozlova", "csv", 2),
                ]
            await expect(page.locator("#quality-summary")).to_have_text(
                "Оценок за период: 2, средняя оценка 92,5 %."
            )
            operators = page.locator("#quality-operators tbody")
            await expect(operators.locator("tr")).to_have_count(1)
            await expect(operators).not_to_contain_text("Сидоров")
            await expect(page.locator("#quality-teams tbody")).not_to_contain_text("south")
