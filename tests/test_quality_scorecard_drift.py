"""A scorecard file changed without a new version is said at start (issue #13), on SQLite
and PostgreSQL: an ERROR naming the scorecard, its version and the fix, and a notice on
the quality page in the page's language; new evaluations are refused (409) and nothing is
stored. Raising the version ends it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callagent.auth.scopes import Role
from callagent.quality.models import Evaluation
from callagent.quality.scorecard import default_scorecard_path
from callagent.web.i18n import STRINGS
from tests.conftest import running_service
from tests.test_quality_api import add_call, answers
from tests.test_quality_calibration_page import score_as
from tests.test_questions_page import add_user

CHANGED = "the QA scorecard 'public_services' version 1 differs"


def scorecard(tmp_path: Path, *, weight: int, version: int) -> str:
    """The packaged scorecard with the greeting's weight and the version changed."""
    text = default_scorecard_path().read_text(encoding="utf-8")
    assert "version: 1\n" in text and "        weight: 10\n" in text
    text = text.replace("version: 1\n", f"version: {version}\n", 1)
    text = text.replace("        weight: 10\n", f"        weight: {weight}\n", 1)
    path = tmp_path / f"scorecard-{weight}-{version}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def test_a_scorecard_changed_under_its_version_is_said_at_start(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_service(db_url) as service:
        add_user(service, "ivanova", Role.OPERATOR, "Иванова Мария")
        qa = add_user(service, "petrov", Role.EVALUATOR, "Петров Пётр")
        score_as(service, qa, add_call(service, 1, "PJSIP/op1001"))  # version 1 stored
        second = add_call(service, 2, "PJSIP/op1001")
        html = (await service.client.get("/quality", headers={"Accept": "text/html"})).text
        assert 'id="scorecard-changed"' not in html
    assert CHANGED not in caplog.text

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="callagent"):
        changed = scorecard(tmp_path, weight=12, version=1)
        async with running_service(db_url, quality_scorecard=changed) as service:
            errors = [r for r in caplog.records if CHANGED in r.getMessage()]
            assert len(errors) == 1 and errors[0].levelno == logging.ERROR
            assert "raised in CALLAGENT_QUALITY_SCORECARD's file" in errors[0].getMessage()
            page = (
                await service.client.get("/quality?lang=uk", headers={"Accept": "text/html"})
            ).text
            notice = STRINGS["uk"]["qa_scorecard_changed"].format(id="public_services", version=1)
            assert 'id="scorecard-changed"' in page and notice in page
            card = (await service.client.get("/api/v1/quality/scorecard")).json()
            refused = await service.client.post(
                "/api/v1/quality/evaluations", json={"call_id": second, "answers": answers(card)}
            )
            assert (refused.status_code, refused.json()["code"]) == (
                409,
                "quality_scorecard_changed",
            )
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                assert db.scalar(select(func.count(Evaluation.id))) == 1  # nothing new

    caplog.clear()
    raised = scorecard(tmp_path, weight=12, version=2)
    async with running_service(db_url, quality_scorecard=raised) as service:
        html = (await service.client.get("/quality", headers={"Accept": "text/html"})).text
        assert 'id="scorecard-changed"' not in html
    assert CHANGED not in caplog.text
