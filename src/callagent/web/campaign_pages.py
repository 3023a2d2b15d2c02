"""The supervisor's campaign pages (HTML): the list of campaigns and one campaign's progress.

Server-rendered with Jinja2 in the page's language (``?lang=``, else the user's saved
one, like the reports page); a small inline script (allowed by a per-response CSP
nonce) refreshes the progress every few seconds from ``/api/v1/campaigns/{id}/progress``
and drives the upload, start/pause buttons with the session cookie and its CSRF token.
Its words come in the boot JSON. The common header (name, pages, language switch,
sign-out) is ``page_header.html``, driven by ``operator.js``.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from callagent.api.schemas import Id, Problem
from callagent.api.security import Db
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal
from callagent.campaigns import service
from callagent.campaigns.schemas import CampaignOut
from callagent.campaigns.window import WindowError, zone
from callagent.db.campaign_models import ENTRY_STATUSES
from callagent.languages import Language
from callagent.web.pages import PageRequires, page_context, templates


def office_time(at: datetime, office_timezone: str) -> str:
    """``at`` as the office's clock shows it (a page never shows UTC to a supervisor)."""
    try:
        where = zone(office_timezone)
    except WindowError:
        where = ZoneInfo("UTC")
    return at.astimezone(where).strftime("%d.%m.%Y %H:%M")


templates.env.filters["office_time"] = office_time
router = APIRouter(prefix="/supervisor", tags=["pages"])
REFRESH_SECONDS = 3

Viewer = Annotated[Principal, Depends(PageRequires(Scope.CAMPAIGNS_READ))]
PageLanguage = Annotated[
    Language | None, Query(description="page language: ru, uk or en (else the user's)")
]
# the prefixes of the words the pages' scripts need (values, refusals, column meanings)
_SCRIPT_WORDS = (
    "cmp_",
    "campaign_status_",
    "entry_status_",
    "attempt_result_",
    "idle_",
    "upload_code_",
    "field_",
    "error_",
)


def _headers(nonce: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return templates.TemplateResponse(
        request, name, {"nonce": nonce, **context}, headers=_headers(nonce)
    )


def _boot_json(data: dict[str, Any]) -> str:
    """The page's data for its script; "<" escaped so that </script> cannot end it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _script_words(words: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in words.items() if k.startswith(_SCRIPT_WORDS)}


_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "a browser without a session: to the login page"},
    # JSON, not the page's text/html: an error is a Problem like everywhere else.
    404: {
        "description": "no such campaign",
        "content": {"application/json": {"schema": Problem.model_json_schema()}},
    },
}


@router.get(
    "/campaigns",
    response_class=HTMLResponse,
    summary="The supervisor's list of campaigns (HTML), with a form to add one",
    responses=_PAGE_RESPONSES,
)
def campaigns_page(
    request: Request, db: Db, principal: Viewer, lang: PageLanguage = None
) -> HTMLResponse:
    campaigns = service.list_campaigns(db)
    progress = service.progress_of_many(db, campaigns=campaigns)
    rows = [{"campaign": c, "progress": progress[c.id]} for c in campaigns]
    can_write = Scope.CAMPAIGNS_WRITE in principal.scopes
    context = page_context(request, db, principal, lang, "/supervisor/campaigns")
    boot = {
        "csrf": principal.csrf_token or "",
        "can_write": can_write,
        "lang": context["lang"],
        "i18n": _script_words(context["t"]),
    }
    return _render(
        request,
        "campaign_list.html",
        {**context, "rows": rows, "boot": _boot_json(boot), "can_write": can_write},
    )


@router.get(
    "/campaigns/{campaign_id}",
    response_class=HTMLResponse,
    summary="A campaign's progress page (HTML): entries by status, attempts, upload, export",
    responses=_PAGE_RESPONSES,
)
def campaign_page(
    request: Request, campaign_id: Id, db: Db, principal: Viewer, lang: PageLanguage = None
) -> HTMLResponse:
    campaign = service.get_campaign(db, campaign_id=campaign_id)  # 404 JSON if none
    progress = service.progress(db, campaign=campaign)
    imports = service.list_imports(db, campaign_id=campaign.id)
    can_write = Scope.CAMPAIGNS_WRITE in principal.scopes
    context = page_context(request, db, principal, lang, request.url.path)  # no tab is this page
    boot = {
        "campaign": CampaignOut.model_validate(campaign).model_dump(mode="json"),
        "progress": progress.model_dump(mode="json"),
        "csrf": principal.csrf_token or "",
        "can_write": can_write,
        "refresh_seconds": REFRESH_SECONDS,
        "lang": context["lang"],
        "i18n": _script_words(context["t"]),
    }
    return _render(
        request,
        "campaign_progress.html",
        {
            **context,
            "campaign": campaign,
            "progress": progress,
            "imports": imports,
            "statuses": ENTRY_STATUSES,
            "can_write": can_write,
            "can_export": Scope.CALLS_READ_PII in principal.scopes,
            "boot": _boot_json(boot),
        },
    )
