"""The calibration page (``/quality/calibration``, issue #13) in headless Chromium on SQLite
and PostgreSQL, in Ukrainian: a supervisor gives a call to two evaluators on the page (one
evaluator is refused in the page's words, a call that does not exist by the API's
refusal), both score it, and the page shows the spread of their answers per criterion and
the call's scores."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from callagent.auth.scopes import ROLE_SCOPES, Role
from callagent.auth.service import Principal
from callagent.db.models import Call
from callagent.quality.models import Assignment, Evaluation
from callagent.quality.scoring import Answer
from callagent.quality.service import evaluate
from callagent.web.i18n import STRINGS
from tests.conftest import RunningService, running_service
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser
from tests.test_quality_api import add_call
from tests.test_quality_page import log_in
from tests.test_questions_page import add_user, backend

pytestmark = pytest.mark.asyncio(loop_scope="module")
UK = STRINGS["uk"]


def score_as(service: RunningService, evaluator: int, call_id: int, **given: str) -> None:
    """``evaluator`` scores the call: every criterion yes, no critical error, but ``given``."""
    card = service.app.state.quality_scorecard  # type: ignore[attr-defined]
    answers = {c.id: Answer("yes") for c in card.criteria}
    answers |= {e.id: Answer("no") for e in card.critical_errors}
    answers |= {key: Answer(value) for key, value in given.items()}
    who = Principal(
        actor=f"user:{evaluator}",
        scopes=ROLE_SCOPES[Role.EVALUATOR],
        user_id=evaluator,
        role=Role.EVALUATOR,
    )
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        call = db.get(Call, call_id)
        assert call is not None
        evaluate(db, card=card, call=call, evaluator=who, answers=answers, comment="",
                 now=call.ended_at)  # fmt: skip


async def test_calibration_on_the_page_in_ukrainian(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "ivanova", Role.OPERATOR, "Іванова Марія")
        petrov = add_user(service, "petrov", Role.EVALUATOR, "Петров Петро")
        savchuk = add_user(service, "savchuk", Role.EVALUATOR, "Савчук Оксана")
        add_user(service, "orlova", Role.SUPERVISOR, "Орлова Ольга", language="uk")
        call_id = add_call(service, 1, "PJSIP/op1001")

        async with page_of(browser, f"quality-calibration-{backend(db_url)}") as page:
            await log_in(page, service, "orlova")
            await page.click("#calibration-link")
            await page.wait_for_url(f"{service.base_url}/quality/calibration")
            await expect(page.locator("h1")).to_have_text("Калібрування оцінювачів")
            await expect(page.locator("nav.pages a[aria-current='page']")).to_have_attribute(
                "href", "/quality"
            )
            await expect(page.locator("#spread-none")).to_have_text(UK["qc_none"])
            await page.fill("#c-call", str(call_id))
            await page.check(f'#c-evaluators input[value="{petrov}"]')
            await page.click("#c-submit")
            await expect(page.locator("#calibration-error")).to_have_text(UK["qc_need_two"])
            await page.fill("#c-call", "999999")  # no such call: the API's 404 in Ukrainian
            await page.check(f'#c-evaluators input[value="{savchuk}"]')
            await page.click("#c-submit")
            await expect(page.locator("#calibration-error")).to_have_text(UK["error_status_404"])
            await page.fill("#c-call", str(call_id))
            await page.click("#c-submit")
            await expect(page.locator("#notice")).to_have_text(
                f"Дзвінок №{call_id} призначено оцінювачам: 2."
            )
            await expect(page.locator("#calibration-error")).to_have_text("")
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                given = db.scalars(select(Assignment).order_by(Assignment.evaluator_id)).all()
                assert [(a.evaluator_id, a.kind) for a in given] == [
                    (petrov, "calibration"),
                    (savchuk, "calibration"),
                ]

            score_as(service, petrov, call_id)  # 100
            score_as(service, savchuk, call_id, greeting="partial", correct_information="no")
            await page.reload()
            rows = page.locator("#spread-criteria tbody tr")
            await expect(rows).to_have_count(8)  # six criteria and two critical errors
            # the widest spread first: one said yes, the other no
            await expect(rows.nth(0)).to_have_attribute("data-item", "correct_information")
            await expect(rows.nth(0).locator("th")).to_have_text("Повна та правильна інформація")
            await expect(rows.nth(0).locator('[data-figure="mean"]')).to_have_text("100")
            await expect(rows.nth(1)).to_have_attribute("data-item", "greeting")
            await expect(rows.nth(1).locator('[data-figure="max"]')).to_have_text("50")
            await expect(rows.nth(2).locator('[data-figure="mean"]')).to_have_text("0")
            call_row = page.locator(f'#spread-calls tr[data-call="{call_id}"]')
            await expect(call_row.locator('[data-figure="spread"]')).to_have_text("35")
            await expect(call_row).to_contain_text("100 % · 65 %")
            await page.screenshot(
                path=str(ARTIFACTS.parent / "quality-page" / f"calibration-{backend(db_url)}.png"),
                full_page=True,
            )
        with service.app.state.sessions() as db:  # type: ignore[attr-defined]
            kinds = db.scalars(select(Evaluation.kind)).all()
            assert sorted(kinds) == ["calibration", "calibration"]
