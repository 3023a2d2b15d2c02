"""The quality page (``/quality``, HTML): the evaluator's queue with the call's recording
player beside the scorecard form; the evaluations the user may see (an operator: their
own, to acknowledge or dispute); the open disputes for those who evaluate; the quality
report (score per operator, team, criterion and period, the most frequent errors, the
calibration's spread). The page's script (``static/quality.js``) works through
``/api/v1/quality`` and plays ``/api/v1/calls/{id}/recording``, so the API's rules (who
may see which call, who may answer which evaluation) hold on the page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from callagent.api.security import Db
from callagent.auth.scopes import ROLE_SCOPES, Scope
from callagent.auth.service import Principal, now
from callagent.db.models import User
from callagent.languages import pick
from callagent.quality.scorecard import Scorecard
from callagent.quality.service import may_draw_sample
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates

router = APIRouter(tags=["pages"])
Reader = Annotated[Principal, Depends(PageRequires(Scope.QUALITY_READ))]
# the words the script needs: its own and the refusals it may get
_SCRIPT_WORDS = ("qa_", "error_")


def _form(card: Scorecard, lang: str) -> dict[str, Any]:
    """The scorecard in the page's language, as the template draws its form."""
    return {
        "title": pick(card.title, lang),
        "version": card.version,
        "sections": [
            {
                "title": pick(section.title, lang),
                "criteria": [
                    {
                        "id": c.id,
                        "title": pick(c.title, lang),
                        "hint": pick(c.hint, lang) if c.hint else "",
                        "weight": f"{c.weight:g}",
                        "answers": c.answers,
                    }
                    for c in section.criteria
                ],
            }
            for section in card.sections
        ],
        "critical": [{"id": e.id, "title": pick(e.title, lang)} for e in card.critical_errors],
    }


def evaluators(db: Db) -> list[dict[str, Any]]:
    """Who may be given calls to evaluate: active users of a role with quality:evaluate."""
    roles = [role.value for role, scopes in ROLE_SCOPES.items() if Scope.QUALITY_EVALUATE in scopes]
    users = db.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_(roles))
        .order_by(User.full_name, User.login)
    ).all()
    return [{"id": user.id, "name": user.full_name or user.login} for user in users]


@router.get(
    "/quality",
    response_class=HTMLResponse,
    summary="QA evaluation (HTML): the evaluator's queue and scorecard, evaluations, "
    "disputes, the quality report",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def quality_page(
    request: Request,
    db: Db,
    principal: Reader,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    page = page_context(request, db, principal, lang, "/quality")
    words = page["t"]
    card: Scorecard = request.app.state.quality_scorecard
    titles = {c.id: pick(c.title, page["lang"]) for c in card.criteria}
    titles.update({e.id: pick(e.title, page["lang"]) for e in card.critical_errors})
    can = {
        "evaluate": Scope.QUALITY_EVALUATE in principal.scopes,
        "listen": Scope.RECORDINGS_LISTEN in principal.scopes,
        # the centre's sample: admins and supervisors without a group (the API's rule)
        "sample": may_draw_sample(principal),
    }
    boot: dict[str, Any] = {
        "csrf": principal.csrf_token or "",
        "lang": page["lang"],
        "me": principal.user_id,
        "timezone": settings.timezone,
        "server_time": now().isoformat(),
        "can": can,
        "pass_mark": card.pass_mark,
        "titles": titles,
        "i18n": {k: v for k, v in words.items() if k.startswith(_SCRIPT_WORDS)},
    }
    context: dict[str, Any] = {
        **page,
        "boot": boot,
        "can": can,
        "card": _form(card, page["lang"]),
        "card_id": card.id,
        "evaluators": evaluators(db) if can["sample"] else [],
        "timezone": settings.timezone,
        # the scorecard file changed under the same version (checked at start)
        "drift": getattr(request.app.state, "quality_scorecard_drift", None) is not None,
    }
    return templates.TemplateResponse(request, "quality.html", context, headers=PAGE_HEADERS)
