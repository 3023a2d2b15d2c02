"""The complaints register (``/complaints``, HTML): the table, undecided first by deadline,
with its filters (status, due, whose, period, text), a complaint's detail and history, the
steps the user may take, the register form, and the causes report for managers. The
page's script (``static/complaints.js``) reads and changes the register through
``/api/v1/complaints``, so the API's rules and masking hold on the page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from callagent.api.complaints import viewer
from callagent.api.security import Db
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, now
from callagent.complaints.models import (
    ANSWER_CHANNELS,
    COMPLAINT_CAUSES,
    COMPLAINT_STATUSES,
    RECEIVED_CHANNELS,
)
from callagent.complaints.service import Clock
from callagent.db.models import User
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates

router = APIRouter(tags=["pages"])
Reader = Annotated[Principal, Depends(PageRequires(Scope.COMPLAINTS_READ))]
# the words the script needs: its own, the values it shows, the refusals it may get
_SCRIPT_WORDS = ("cpl_", "complaint_", "error_")


def _staff(db: Db, principal: Principal) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Everyone's name by user id (who registered, moved on, owns: staff, not applicants),
    and the people a manager may give complaints to (their circle's active staff)."""
    users = db.scalars(select(User).order_by(User.full_name, User.login)).all()
    names = {user.id: user.full_name or user.login for user in users}
    if Scope.COMPLAINTS_MANAGE not in principal.scopes:
        return names, []
    circle = viewer(db, principal).circle
    owners = [
        {"id": user.id, "name": names[user.id]}
        for user in users
        if user.active
        and user.role in (Role.OPERATOR.value, Role.SUPERVISOR.value)
        and (circle is None or user.id in circle)
    ]
    return names, owners


@router.get(
    "/complaints",
    response_class=HTMLResponse,
    summary="The complaints register (HTML): deadlines, overdue, steps, causes",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def complaints_page(
    request: Request,
    db: Db,
    principal: Reader,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    page = page_context(request, db, principal, lang, "/complaints")
    words = page["t"]
    names, owners = _staff(db, principal)
    rule = Clock.of(settings).rule
    rule_text = words["cpl_rule_working" if rule.working else "cpl_rule_calendar"].format(
        days=rule.days
    )
    scopes = principal.scopes
    boot: dict[str, Any] = {
        "csrf": principal.csrf_token or "",
        "lang": page["lang"],
        "me": principal.user_id,
        "timezone": settings.timezone,
        "server_time": now().isoformat(),
        "soon_days": settings.complaint_due_soon_days,
        "can": {
            "write": Scope.COMPLAINTS_WRITE in scopes,
            "manage": Scope.COMPLAINTS_MANAGE in scopes,
        },
        "names": {str(k): v for k, v in names.items()},
        "owners": owners,
        "i18n": {k: v for k, v in words.items() if k.startswith(_SCRIPT_WORDS)},
    }
    context: dict[str, Any] = {
        **page,
        "boot": boot,
        "statuses": COMPLAINT_STATUSES,
        "causes": COMPLAINT_CAUSES,
        "channels": RECEIVED_CHANNELS,
        "answer_channels": ANSWER_CHANNELS,
        "timezone": settings.timezone,
        "rule_text": rule_text,
    }
    return templates.TemplateResponse(request, "complaints.html", context, headers=PAGE_HEADERS)
