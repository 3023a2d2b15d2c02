"""The administrator's pages (HTML): users and their phones, API tokens, webhooks and
their deliveries, the do-not-call list.

Read from the database and drawn on the server in the page's language (``?lang=``, else
the user's saved one), times in the centre's time zone; every change goes through the
JSON API (``/api/v1/operators``, ``/tokens``, ``/webhooks``, ``/do-not-call``) from
``static/admin.js`` with the session's CSRF token, so the pages add no rule of their own.
A secret (a new token's, a new subscription's key) exists only in the API's answer that
the script shows once: no page can show it again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement, func, or_, select

from callagent.api.security import Db
from callagent.auth.masking import mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, now, token_state
from callagent.db.campaign_models import DoNotCall
from callagent.db.models import ApiToken, User, WebhookDelivery, WebhookSubscription
from callagent.languages import Language
from callagent.web.campaign_pages import office_time
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates
from callagent.web.phones import display_phone
from callagent.webhooks.outbox import EVENT_TYPES

router = APIRouter(prefix="/admin", tags=["pages"])
PageLanguage = Annotated[
    Language | None, Query(description="page language: ru, uk or en (else the user's)")
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "a browser without a session: to the login page"}
}
# the words admin.js says: its own, refusals, states and the values it writes
_SCRIPT_WORDS = ("adm_", "error_", "state_", "reason_")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
DNC_SHOWN = 500  # the newest numbers a page lists; a search finds the others


def _boot(context: dict[str, Any], principal: Principal, **data: Any) -> str:
    """The script's data: CSRF token, language, its words; "<" escaped for <script>."""
    words = {k: v for k, v in context["t"].items() if k.startswith(_SCRIPT_WORDS)}
    boot = {"csrf": principal.csrf_token or "", "lang": context["lang"], "i18n": words, **data}
    return json.dumps(boot, ensure_ascii=False).replace("<", "\\u003c")


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, headers=PAGE_HEADERS)


def _clock(request: Request) -> tuple[str, Callable[[datetime | None], str]]:
    """The centre's time zone and a formatter of times in it (None as a dash)."""
    zone: str = request.app.state.settings.timezone

    def clock(at: datetime | None) -> str:
        return office_time(at, zone) if at is not None else "—"

    return zone, clock


@router.get(
    "/users",
    response_class=HTMLResponse,
    summary="Users and their phones (HTML): roles, groups, skills, current state; add, edit",
    responses=_RESPONSES,
)
def users_page(
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(PageRequires(Scope.OPERATORS_ADMIN))],
    lang: PageLanguage = None,
) -> HTMLResponse:
    context = page_context(request, db, principal, lang, "/admin/users")
    zone, clock = _clock(request)
    users = db.scalars(select(User).order_by(User.login)).all()
    editable = {  # what the edit form starts from (data-json of each row)
        u.id: {
            "id": u.id,
            "login": u.login,
            "full_name": u.full_name,
            "role": u.role,
            "group": u.group,
            "endpoints": list(u.endpoints or []),
            "skills": dict(u.skills or {}),
            "language": u.language,
            "active": u.active,
        }
        for u in users
    }
    return _render(
        request,
        "admin_users.html",
        {
            **context,
            "users": users,
            "zone": zone,
            "clock": clock,
            "editable": editable,
            "me": principal.user_id,  # an admin does not lock themselves out from here
            "roles": [r.value for r in Role],
            "boot": _boot(context, principal),
        },
    )


def _token_status(
    row: ApiToken, moment: datetime, clock: Callable[[datetime | None], str]
) -> tuple[str, str]:
    """(state for tests and style, the time it says: revoked, expired or valid until)."""
    state = token_state(row, moment)
    at = row.revoked_at if state == "revoked" else row.expires_at
    return state, clock(at) if at is not None else ""


@router.get(
    "/tokens",
    response_class=HTMLResponse,
    summary="API tokens (HTML): list, create (the secret shown once), revoke",
    responses=_RESPONSES,
)
def tokens_page(
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(PageRequires(Scope.TOKENS_ADMIN))],
    lang: PageLanguage = None,
) -> HTMLResponse:
    context = page_context(request, db, principal, lang, "/admin/tokens")
    zone, clock = _clock(request)
    moment = now()
    tokens = [
        {"row": row, "status": _token_status(row, moment, clock)}
        for row in db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    ]
    return _render(
        request,
        "admin_tokens.html",
        {
            **context,
            "tokens": tokens,
            "zone": zone,
            "clock": clock,
            "scopes": [s.value for s in Scope],
            "boot": _boot(context, principal),
        },
    )


@router.get(
    "/webhooks",
    response_class=HTMLResponse,
    summary="Webhook subscriptions and their deliveries (HTML): add, stop, send again",
    responses=_RESPONSES,
)
def webhooks_page(
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(PageRequires(Scope.WEBHOOKS_ADMIN))],
    lang: PageLanguage = None,
    status: Annotated[
        str | None, Query(pattern="^(pending|delivered|failed)$", description="deliveries")
    ] = None,
) -> HTMLResponse:
    context = page_context(request, db, principal, lang, "/admin/webhooks")
    zone, clock = _clock(request)
    subscriptions = db.scalars(
        select(WebhookSubscription).order_by(WebhookSubscription.id.desc())
    ).all()
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(100)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return _render(
        request,
        "admin_webhooks.html",
        {
            **context,
            "subscriptions": subscriptions,
            "urls": {s.id: s.url for s in subscriptions},
            "deliveries": db.scalars(query).all(),
            "status": status or "",
            "statuses": DELIVERY_STATUSES,
            "events": EVENT_TYPES,
            "zone": zone,
            "clock": clock,
            "boot": _boot(context, principal),
        },
    )


def _dnc_search(db: Db, text: str, *, numbers: bool) -> tuple[int, int, list[DoNotCall]]:
    """(all numbers, found, the newest found): digits match within the number (only for
    those who may see numbers), other text within the reason."""
    total = db.scalar(select(func.count()).select_from(DoNotCall)) or 0
    query = select(DoNotCall)
    text = text.strip()
    if text:
        digits = re.sub(r"\D", "", text)
        wanted: list[ColumnElement[bool]] = [
            DoNotCall.reason.ilike(f"%{_escape_like(text)}%", escape="\\")
        ]
        if numbers and len(digits) >= 3:
            wanted.append(DoNotCall.phone.contains(digits))
        query = query.where(or_(*wanted))
    found = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(DoNotCall.added_at.desc(), DoNotCall.phone).limit(DNC_SHOWN)
    ).all()
    return int(total), int(found), list(rows)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get(
    "/do-not-call",
    response_class=HTMLResponse,
    summary="The do-not-call list (HTML): search, add a number with a reason, remove",
    responses=_RESPONSES,
)
def dnc_page(
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(PageRequires(Scope.CAMPAIGNS_WRITE))],
    lang: PageLanguage = None,
    q: Annotated[str, Query(max_length=64, description="digits of a number, or reason")] = "",
) -> HTMLResponse:
    context = page_context(request, db, principal, lang, "/admin/do-not-call")
    zone, clock = _clock(request)
    pii = Scope.CALLS_READ_PII in principal.scopes  # as the API masks the list
    region: str = request.app.state.settings.phone_region
    total, found, rows = _dnc_search(db, q, numbers=pii)
    entries = [
        {
            "phone": row.phone if pii else "",  # what removal sends; none when masked
            "shown": display_phone(row.phone if pii else mask_phone(row.phone), region),
            "reason": row.reason,
            "added_at": clock(row.added_at),
            "added_by": row.added_by,
        }
        for row in rows
    ]
    return _render(
        request,
        "admin_dnc.html",
        {
            **context,
            "entries": entries,
            "total": total,
            "found": found,
            "q": q,
            "zone": zone,
            "boot": _boot(context, principal),
        },
    )
