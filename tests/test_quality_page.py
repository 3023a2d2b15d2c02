"""The quality page (``/quality``, issue #13) in headless Chromium on SQLite and PostgreSQL:
a supervisor without a group draws the week's sample on the page, the evaluator (who has
no sample form: calls are given to them) opens the call from the queue, the
recording plays beside the scorecard, an unanswered criterion is refused in Russian, the
evaluation is saved; the operator sees it and disputes it; the supervisor sees the
dispute and the report, and rejects it."""

from __future__ import annotations

import re
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from callagent.auth.scopes import Role
from callagent.db.models import Call
from callagent.quality.models import Response
from callagent.web.i18n import STRINGS
from tests.conftest import RunningService, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_questions_page import add_user, backend

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "questions-password"  # tests.test_questions_page.add_user's
SHOTS = ARTIFACTS.parent / "quality-page"


async def log_in(page: Page, service: RunningService, login: str) -> None:
    """Open /quality, log in on the login page it leads to, wait for the evaluations."""
    await page.goto(f"{service.base_url}/quality")
    await page.wait_for_url(re.compile(r"/operator/login\?next=/quality"))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(re.compile(r"/quality(\?.*)?$"))
    await expect(page.locator("#evaluations-shown")).not_to_have_text(
        STRINGS["ru"]["qa_loading"], timeout=20_000
    )


def recorded_call(service: RunningService) -> int:
    """An answered call of op1001 yesterday with a 2-second recording on disk."""
    name = "quality-1.wav"
    with wave.open(str(Path(service.settings.recordings_dir) / name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 16000)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    with service.app.state.sessions() as db:  # type: ignore[attr-defined]
        call = Call(
            node="pbx1",
            linkedid="quality-1",
            direction="inbound",
            applicant_number="79161112233",
            started_at=started,
            answered_at=started + timedelta(seconds=5),
            ended_at=started + timedelta(minutes=4),
            talk_seconds=235.0,
            operator_endpoint="PJSIP/op1001",
            disposition="answered",
            recording_file=name,
            updated_at=started,
        )
        db.add(call)
        db.commit()
        return call.id


async def test_evaluate_from_the_queue_dispute_and_the_supervisor_sees_it(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "ivanova", Role.OPERATOR, "Иванова Мария", group="north")
        qa = add_user(service, "petrov", Role.EVALUATOR, "Петров Пётр")
        add_user(service, "orlova", Role.SUPERVISOR, "Орлова Ольга", group="north")
        add_user(service, "chief", Role.SUPERVISOR, "Главная Анна")
        call_id = recorded_call(service)
        day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        SHOTS.mkdir(parents=True, exist_ok=True)
        ru = STRINGS["ru"]

        async with page_of(browser, f"quality-sample-{backend(db_url)}") as page:
            # the week's sample drawn on the page by a supervisor without a group
            await log_in(page, service, "chief")
            await page.click("details.sample summary")
            await page.fill("#s-week", day)
            await page.fill("#s-count", "1")
            await page.select_option("#s-evaluators", str(qa))
            await page.click("#s-submit")
            await expect(page.locator("#notice")).to_have_text(
                ru["qa_sample_done"].format(count=1, short=0)
            )

        async with page_of(browser, f"quality-evaluator-{backend(db_url)}") as page:
            await log_in(page, service, "petrov")
            await expect(page.locator("h1")).to_have_text("Контроль качества")
            await expect(page.locator("nav.pages a[aria-current='page']")).to_have_attribute(
                "href", "/quality"
            )
            # an evaluator is given calls, does not draw them: the call is in the queue
            await expect(page.locator("details.sample")).to_have_count(0)
            await expect(page.locator("#sample-given")).to_have_text(ru["qa_sample_given"])
            await page.click(f'#queue tbody tr[data-call="{call_id}"] button')
            player = page.locator("#player")
            await expect(player).to_be_visible()
            # the recording's metadata read through the recordings endpoint (a promise: the
            # page's CSP refuses the eval a string predicate needs)
            await player.evaluate(
                "a => a.readyState >= 1 || new Promise(done =>"
                " a.addEventListener('loadedmetadata', done, {once: true}))"
            )
            assert 1.9 < await player.evaluate("a => a.duration") < 2.1
            for item, answer in (
                ("greeting", "yes"),
                ("identification", "yes"),
                ("correct_information", "partial"),
                ("pre_registration", "na"),
                ("politeness", "yes"),
            ):
                await page.check(f'input[name="a-{item}"][value="{answer}"]')
            await page.fill('input[name="c-correct_information"]', "Не назвал госпошлину")
            await page.click("#submit-evaluation")
            await expect(page.locator("#evaluate-error")).to_have_text(
                ru["error_quality_unanswered"].format(item="Завершение разговора")
            )
            await page.check('input[name="a-closing"][value="yes"]')
            await expect(page.locator("#evaluate-error")).to_have_text("")
            await expect(page.locator("#preview")).to_have_text("Оценка: 81,25 %")
            await page.screenshot(
                path=str(SHOTS / f"evaluate-{backend(db_url)}.png"), full_page=True
            )
            await page.click("#submit-evaluation")
            await expect(page.locator("#notice")).to_have_text(
                ru["qa_saved"].format(id=call_id, score="81,25 %")
            )
            await expect(page.locator("#queue-empty")).to_be_visible()
            await expect(page.locator("#evaluations tbody tr")).to_have_count(1)

        async with page_of(browser, f"quality-operator-{backend(db_url)}") as page:
            await log_in(page, service, "ivanova")
            await expect(page.locator("#queue-card")).to_have_count(0)  # no quality:evaluate
            row = page.locator("#evaluations tbody tr")
            await expect(row).to_have_count(1)
            await expect(row.locator(".pill")).to_have_text(ru["qa_state_new"])
            await row.click()
            await expect(page.locator("#d-answers")).to_contain_text("Не назвал госпошлину")
            await page.fill("#r-note", "Госпошлину назвала на второй минуте")
            await page.click("#r-dispute")
            await expect(page.locator("#notice")).to_have_text(ru["qa_disputed_notice"])
            await expect(row.locator(".pill")).to_have_text(ru["qa_state_disputed"])
            await expect(page.locator("#respond-form")).to_be_hidden()

        async with page_of(browser, f"quality-supervisor-{backend(db_url)}") as page:
            await log_in(page, service, "orlova")
            dispute = page.locator("#disputes tbody tr")
            await expect(dispute).to_have_count(1)
            await expect(dispute).to_contain_text("Госпошлину назвала на второй минуте")
            operators = page.locator("#rep-operators tbody")
            await expect(operators).to_contain_text("Иванова Мария")
            await expect(operators).to_contain_text("81,25 %")
            await expect(page.locator("#rep-errors tbody")).to_contain_text(
                "Полная и верная информация"
            )
            # the criteria in the scorecard's order, n/a left out
            criteria = page.locator("#rep-criteria tbody tr td:first-child")
            await expect(criteria).to_have_count(5)
            await expect(criteria.first).to_have_text("Приветствие по стандарту")
            await page.screenshot(path=str(SHOTS / f"report-{backend(db_url)}.png"), full_page=True)
            await dispute.locator("input").fill("На записи пошлина не названа")
            await dispute.locator("button.secondary").click()
            await expect(page.locator("#disputes-empty")).to_be_visible()
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            stored = db.scalars(select(Response)).one()
            assert (stored.kind, stored.outcome) == ("disputed", "rejected")
            assert stored.resolution == "На записи пошлина не названа"
