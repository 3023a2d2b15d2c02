"""The register of non-standard questions (``/questions``, HTML): the table soonest due
first with its filters, a question's detail and history, and the actions the user's
scopes allow. The page's script (``static/questions.js``) reads and changes the register
through ``/api/v1/questions``, so the API's rules and masking hold on the page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from callagent.api.questions import viewer
from callagent.api.security import Db
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, now
from callagent.db.models import User
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates

router = APIRouter(tags=["pages"])
Reader = Annotated[Principal, Depends(PageRequires(Scope.QUESTIONS_READ))]
STATUSES = ("open", "escalated", "answered", "informed", "closed")
# the words the script needs: its own, the values it shows, the refusals it may get
_SCRIPT_WORDS = ("qst_", "question_status_", "answer_channel_", "answer_source_", "error_")


def _staff(db: Db, principal: Principal) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Everyone's name by user id (who registered, answered, was assigned: staff, not
    applicants), and the people this user may assign questions to (their circle's
    active operators and themselves; none without questions:answer)."""
    users = db.scalars(select(User).order_by(User.full_name, User.login)).all()
    names = {user.id: user.full_name or user.login for user in users}
    if Scope.QUESTIONS_ANSWER not in principal.scopes:
        return names, []
    circle = viewer(db, principal).circle
    assignable = [
        {"id": user.id, "name": names[user.id]}
        for user in users
        if user.active
        and (user.role == Role.OPERATOR.value or user.id == principal.user_id)
        and (circle is None or user.id in circle)
    ]
    return names, assignable


@router.get(
    "/questions",
    response_class=HTMLResponse,
    summary="The register of non-standard questions (HTML): due, overdue, answer, assign",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def questions_page(
    request: Request,
    db: Db,
    principal: Reader,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    page = page_context(request, db, principal, lang, "/questions")
    words = page["t"]
    names, assignable = _staff(db, principal)
    scopes = principal.scopes
    boot: dict[str, Any] = {
        "csrf": principal.csrf_token or "",
        "lang": page["lang"],
        "me": principal.user_id,
        "timezone": settings.timezone,
        "server_time": now().isoformat(),
        "statuses": STATUSES,
        "can": {
            "write": Scope.QUESTIONS_WRITE in scopes,
            "answer": Scope.QUESTIONS_ANSWER in scopes,
            "call": Scope.QUESTIONS_WRITE in scopes and Scope.CALLS_ORIGINATE in scopes,
        },
        "names": {str(k): v for k, v in names.items()},
        "assignable": assignable,
        "i18n": {k: v for k, v in words.items() if k.startswith(_SCRIPT_WORDS)},
    }
    context: dict[str, Any] = {
        **page,
        "boot": boot,
        "statuses": STATUSES,
        "timezone": settings.timezone,
    }
    return templates.TemplateResponse(request, "questions.html", context, headers=PAGE_HEADERS)
